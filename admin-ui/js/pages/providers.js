// Providers: create from a preset (or by hand), edit, test connectivity, fetch the upstream's model
// list and add models from it in bulk.
import { html, useState, useLoad, Loaded, Table, Modal, Form, Badge, Switch, DeleteButton, toast, fmt } from '../ui.js';
import { get, post, patch } from '../api.js';
import { t } from '../i18n.js';
import { UpstreamImport } from './models.js';

export const PROTOCOLS = [['openai_chat', 'OpenAI Chat Completions'], ['openai_responses', 'OpenAI Responses'],
  ['anthropic_messages', 'Anthropic Messages'], ['gemini', 'Google Gemini'], ['bedrock_converse', 'Amazon Bedrock Converse']];
const AUTH = [['bearer', 'Authorization: Bearer'], ['x_api_key', 'x-api-key'], ['x_goog_api_key', 'x-goog-api-key'],
  ['azure_api_key', 'api-key (Azure)'], ['azure_entra', 'Entra ID (Azure)'],
  ['google_service_account', 'Google service account (Vertex AI)'], ['aws_sigv4', 'AWS SigV4 (Bedrock)'], ['none', 'none']];

export function Providers() {
  const state = useLoad(async () => {
    const [providers, presets] = await Promise.all([get('/api/admin/providers'), get('/api/admin/presets')]);
    return { providers: providers.data, presets: presets.data };
  });
  const [dialog, setDialog] = useState(null);
  const [tests, setTests] = useState({});
  const close = () => setDialog(null);
  const saved = () => { close(); state.reload(); };
  const test = async p => {
    setTests(s => ({ ...s, [p.id]: { busy: true } }));
    try {
      const r = await post(`/api/admin/providers/${p.id}/test`);
      setTests(s => ({ ...s, [p.id]: r }));
    } catch (e) { setTests(s => ({ ...s, [p.id]: { ok: false, error: e.message } })); }
  };
  const toggle = async p => { await patch(`/api/admin/providers/${p.id}`, { enabled: !p.enabled }); state.reload(); };
  return html`<section>
    <div class="page-head"><h1>${t('Providers')}</h1>
      <button type="button" class="primary" id="add-provider" onClick=${() => setDialog({ kind: 'preset' })}>${t('Add provider')}</button></div>
    <p class="lead">${t('Upstream accounts the gateway calls. Credentials are encrypted at rest and never shown again.')}</p>
    <${Loaded} state=${state}>${({ providers, presets }) => html`
      <${Table} rows=${providers} empty=${t('No providers yet. Add one from a preset to get started.')} columns=${[
        { label: t('Name'), cell: p => html`<strong>${p.name}</strong><div class="muted small">${p.id}</div>` },
        { label: t('Protocol'), cell: p => PROTOCOLS.find(x => x[0] === p.protocol)?.[1] || p.protocol },
        { label: t('Base URL'), cell: p => html`<code class="url">${p.base_url}</code>` },
        { label: t('Credential'), cell: p => html`<span data-credentials=${p.name}>${credentialBadges(p)}</span>` },
        { label: t('Enabled'), cell: p => html`<${Switch} on=${p.enabled} onToggle=${() => toggle(p)} />` },
        { label: t('Connectivity'), cell: p => html`<${TestResult} r=${tests[p.id]} />` },
        { label: '', class: 'row-actions', cell: p => html`
          <button type="button" class="small" data-action="test" onClick=${() => test(p)} disabled=${tests[p.id]?.busy}>${t('Test')}</button>
          <button type="button" class="small" data-action="models" onClick=${() => setDialog({ kind: 'models', provider: p })}>${t('Fetch models')}</button>
          <button type="button" class="small secondary" data-action="edit" onClick=${() => setDialog({ kind: 'edit', provider: p })}>${t('Edit')}</button>
          <${DeleteButton} question=${t('Delete provider {name}? Its models stop working.', { name: p.name })}
            path=${`/api/admin/providers/${p.id}`} done=${state.reload} />` },
      ]} />
      ${dialog?.kind === 'preset' ? html`<${PresetPicker} presets=${presets} pick=${preset => setDialog({ kind: 'new', preset })} onClose=${close} />` : null}
      ${dialog?.kind === 'new' ? html`<${Modal} title=${dialog.preset ? t('New provider: {name}', { name: dialog.preset.name }) : t('New provider')} onClose=${close}>
        <${ProviderForm} preset=${dialog.preset} saved=${saved} onCancel=${close} /><//>` : null}
      ${dialog?.kind === 'edit' ? html`<${Modal} title=${t('Edit provider')} onClose=${close}>
        <${Credentials} provider=${dialog.provider} changed=${saved} />
        <${ProviderForm} provider=${dialog.provider} saved=${saved} onCancel=${close} /><//>` : null}
      ${dialog?.kind === 'models' ? html`<${Modal} wide title=${t('Models of {name}', { name: dialog.provider.name })} onClose=${close}>
        <${UpstreamImport} provider=${dialog.provider} done=${close} /><//>` : null}
    `}<//>
  </section>`;
}

function TestResult({ r }) {
  if (!r) return html`<span class="muted">—</span>`;
  if (r.busy) return html`<span class="muted"><span class="spin small"></span>${t('Testing…')}</span>`;
  if (r.ok) return html`<span class="test-result"><${Badge} kind="ok">${t('OK')}<//> ${fmt.ms(r.latency_ms)} · ${t('{n} models', { n: r.models })}</span>`;
  return html`<span class="test-result"><${Badge} kind="bad">${t('Failed')}<//> <span class="bad small">${r.error?.message || r.error}</span></span>`;
}

function PresetPicker({ presets, pick, onClose }) {
  const [q, setQ] = useState('');
  const shown = presets.filter(p => `${p.name} ${p.id}`.toLowerCase().includes(q.toLowerCase()));
  return html`<${Modal} wide title=${t('Choose a preset')} onClose=${onClose}>
    <input type="search" class="search" id="preset-search" placeholder=${t('Search presets…')} value=${q} onInput=${e => setQ(e.target.value)} />
    <div class="preset-grid">
      ${shown.map(p => html`<button type="button" class="preset" data-preset=${p.id} onClick=${() => pick(p)}>
        <strong>${p.name}</strong><span class="muted small">${PROTOCOLS.find(x => x[0] === p.protocol)?.[1]}</span></button>`)}
      <button type="button" class="preset custom" data-preset="" onClick=${() => pick(null)}><strong>${t('Custom')}</strong><span class="muted small">${t('Any OpenAI-compatible URL')}</span></button>
    </div><//>`;
}

/** The credential column: how many keys, and how many the upstream refused. */
function credentialBadges(p) {
  const all = p.credentials || [];
  if (!all.length) return html`<${Badge}>${t('none')}<//>`;
  const off = all.filter(c => c.disabled_reason).length;
  return html`<${Badge} kind="ok">${all.length === 1 ? t('set') : t('{n} keys', { n: all.length })}<//>${off ? html` <${Badge} kind="bad">${t('{n} disabled', { n: off })}<//>` : null}`;
}

/** A provider's keys: label, weight, whether the upstream refused one (and why); re-enable or remove. */
function Credentials({ provider, changed }) {
  const list = provider.credentials || [];
  if (!list.length) return null;
  const keep = c => ({ id: c.id });
  const send = async next => { await patch(`/api/admin/providers/${provider.id}`, { api_keys: next }); toast(t('Saved')); changed(); };
  return html`<div class="rows" id="credentials"><h3>${t('API keys')}</h3>${list.map((c, i) => html`<div class="row credential" key=${c.id} data-credential=${c.id}>
    <strong>${c.label || t('Key {n}', { n: i + 1 })}</strong> <span class="muted small">${t('weight {n}', { n: c.weight })}</span>
    ${c.disabled_reason ? html`<${Badge} kind="bad">${t('disabled')}<//> <span class="muted small disabled-reason">${c.disabled_reason}</span>
      <button type="button" class="small secondary" data-action="enable" onClick=${() => send(list.map(x => (x.id === c.id ? { id: x.id, enabled: true } : keep(x))))}>${t('Re-enable')}</button>`
      : html`<${Badge} kind="ok">${t('active')}<//>`}
    ${list.length > 1 ? html`<button type="button" class="icon" aria-label=${t('Remove')} onClick=${() => send(list.filter(x => x.id !== c.id).map(keep))}>×</button>` : null}
  </div>`)}</div>`;
}

function ProviderForm({ preset, provider, saved, onCancel }) {
  const creating = !provider;
  const base = provider || (preset ? { name: preset.name, protocol: preset.protocol, base_url: preset.base_url, auth_scheme: preset.auth_scheme, extra_headers: preset.extra_headers } : { protocol: 'openai_chat', auth_scheme: 'bearer' });
  const fields = [
    { name: 'name', label: t('Name'), required: true },
    { name: 'base_url', label: t('Base URL'), required: true, wide: true, help: preset?.notes || '' },
    { name: 'api_key', label: creating ? t('API key') : t('New API key (empty: keep)'), type: 'password', wide: true, autocomplete: 'new-password',
      help: t('Google service account: paste the JSON key file. Entra ID: {"tenant_id", "client_id", "client_secret"}. AWS: {"access_key_id", "secret_access_key", "session_token"?, "region"?}.') },
    { name: 'more_keys', label: creating ? t('More API keys (one per line; traffic is shared, a rate-limited or refused key gives way)') : t('Add API keys (one per line)'), type: 'list', wide: true },
    { name: 'protocol', label: t('Protocol'), type: 'select', options: PROTOCOLS },
    { name: 'auth_scheme', label: t('Auth scheme'), type: 'select', options: AUTH },
    { name: 'api_version', label: t('api-version (Azure OpenAI deployments; empty: none)'), placeholder: '2024-10-21' },
    { name: 'extra_headers', label: t('Extra headers (JSON)'), type: 'json', wide: true, placeholder: '{"x-header": "value"}' },
    { name: 'strip_instructions', label: t('Strip upstream-echoed instructions (relay isolation)'), type: 'checkbox', wide: true },
    { name: 'system_to', label: t('Move the system prompt to'), type: 'select', options: [['', t('keep as system')], ['developer', 'developer'], ['user', 'user']] },
    { name: 'enabled', label: t('Enabled'), type: 'checkbox', default: true },
  ];
  const quirks = base.quirks || preset?.quirks || {};
  const initial = { ...base, api_version: quirks.api_version || '', strip_instructions: base.isolation?.strip_instructions, system_to: base.isolation?.system_to || '', enabled: base.enabled ?? true };
  const submit = async v => {
    const body = { name: v.name, base_url: v.base_url, extra_headers: v.extra_headers, enabled: v.enabled,
      isolation: { strip_instructions: v.strip_instructions, system_to: v.system_to || null } };
    const more = (v.more_keys || []).map(key => ({ key }));
    if (more.length) {
      // The stored keys stay (by id) unless a new first key replaces them.
      const kept = v.api_key ? [] : (provider?.credentials || []).map(c => ({ id: c.id }));
      body.api_keys = [...kept, ...(v.api_key ? [{ key: v.api_key }] : []), ...more];
    } else if (v.api_key) body.api_key = v.api_key;
    body.protocol = v.protocol; body.auth_scheme = v.auth_scheme;
    body.quirks = { ...quirks, api_version: v.api_version || undefined };
    if (creating) {
      if (preset) body.preset = preset.id;
      await post('/api/admin/providers', body);
      toast(t('Provider added'));
    } else {
      await patch(`/api/admin/providers/${provider.id}`, body);
      toast(t('Saved'));
    }
    saved();
  };
  return html`<${Form} fields=${fields} initial=${initial} submit=${submit} onCancel=${onCancel} submitLabel=${creating ? t('Add provider') : t('Save')} />`;
}
