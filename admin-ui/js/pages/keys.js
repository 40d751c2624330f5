// Virtual keys: create (the full key is shown once, with a copy button), policies (models, limits,
// budget, IPs, expiry, body logging) and what each key has used of its limits right now.
import { html, useState, useLoad, Loaded, Table, Modal, Form, Meter, CopyButton, Switch, DeleteButton, toast, fmt } from '../ui.js';
import { get, post, patch, gatewayUrl } from '../api.js';
import { t } from '../i18n.js';

const localInput = ms => {
  if (!ms) return '';
  const d = new Date(ms);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
};

export function Keys() {
  const state = useLoad(async () => (await get('/api/admin/keys')).data);
  const [dialog, setDialog] = useState(null);
  const close = () => setDialog(null);
  const toggle = async k => { await patch(`/api/admin/keys/${k.id}`, { enabled: !k.enabled }); state.reload(); };
  return html`<section>
    <div class="page-head"><h1>${t('Virtual keys')}</h1>
      <button type="button" class="primary" id="add-key" onClick=${() => setDialog({ kind: 'new' })}>${t('Create key')}</button>
      <button type="button" class="secondary small" onClick=${state.reload}>${t('Refresh')}</button></div>
    <p class="lead">${t('Apps call the gateway with a virtual key. Only a hash is stored: a key is shown once, when it is created.')}</p>
    <${Loaded} state=${state}>${keys => html`
      <${Table} rows=${keys} empty=${t('No keys yet.')} columns=${[
        { label: t('Name'), cell: k => html`<strong>${k.name}</strong><div class="muted small"><code>${k.key_prefix}…</code>${k.tags?.length ? ` · ${k.tags.join(', ')}` : ''}</div>` },
        { label: t('Models'), cell: k => (k.allowed_models ? k.allowed_models.join(', ') || t('none') : html`<span class="muted">${t('all')}</span>`) },
        { label: t('Requests / min'), cell: k => html`<${Meter} used=${k.usage?.requests_this_minute} limit=${k.rpm_limit} />` },
        { label: t('Tokens / min'), cell: k => html`<${Meter} used=${k.usage?.tokens_this_minute} limit=${k.tpm_limit} />` },
        { label: t('Concurrent'), cell: k => html`<${Meter} used=${k.usage?.concurrent} limit=${k.max_concurrent} />` },
        { label: t('Budget'), cell: k => html`<${Meter} used=${k.usage?.spent_usd} limit=${k.budget_usd} format=${fmt.usd} />${k.budget_usd !== null && k.budget_usd !== undefined ? html`<div class="muted small">${k.budget_period === 'day' ? t('per day') : k.budget_period === 'month' ? t('per month') : t('in total')}</div>` : null}` },
        { label: t('Expires'), cell: k => (k.expires_at ? fmt.time(k.expires_at) : html`<span class="muted">${t('never')}</span>`) },
        { label: t('Enabled'), cell: k => html`<${Switch} on=${k.enabled} onToggle=${() => toggle(k)} />` },
        { label: '', class: 'row-actions', cell: k => html`
          <a class="button small secondary" href=${`#/logs?key_id=${encodeURIComponent(k.id)}`}>${t('Logs')}</a>
          <button type="button" class="small secondary" data-action="edit" onClick=${() => setDialog({ kind: 'edit', key: k })}>${t('Edit')}</button>
          <${DeleteButton} question=${t('Delete key {name}? Apps using it stop working at once.', { name: k.name })}
            path=${`/api/admin/keys/${k.id}`} done=${state.reload} />` },
      ]} />`}<//>
    ${dialog?.kind === 'new' || dialog?.kind === 'edit' ? html`<${Modal} title=${dialog.key ? t('Edit key') : t('Create key')} onClose=${close}>
      <${KeyForm} vkey=${dialog.key} onCancel=${close} saved=${created => { state.reload(); setDialog(created ? { kind: 'created', created } : null); }} /><//>` : null}
    ${dialog?.kind === 'created' ? html`<${Modal} title=${t('Your new key')} onClose=${close}>
      <div class="once" id="new-key">
        <p><strong>${t('Copy it now: it is shown only once.')}</strong> ${t('The gateway keeps only a hash.')}</p>
        <div class="secret"><code id="new-key-value">${dialog.created.key}</code><${CopyButton} text=${dialog.created.key} /></div>
        <pre class="example">curl ${gatewayUrl() || location.origin}/v1/chat/completions \\
  -H "Authorization: Bearer ${dialog.created.key}" \\
  -H "content-type: application/json" \\
  -d '{"model": "…", "messages": [{"role": "user", "content": "Hi"}]}'</pre>
        <div class="actions"><button type="button" class="primary" id="key-done" onClick=${close}>${t('Done')}</button></div>
      </div><//>` : null}
  </section>`;
}

/** The response-cache fields of the key form; `cache` in the admin API (`null`: off). */
const CACHE_FIELDS = () => [
  { name: 'cache_on', label: t('Response cache: answer repeated requests from the cache'), type: 'checkbox', wide: true,
    help: t('Identical requests at temperature 0 (on any endpoint) get the kept answer; the virtual model’s setting applies when off.') },
  { name: 'cache.ttl_s', label: t('Keep answers for (seconds)'), type: 'number', placeholder: '3600' },
  { name: 'cache.max_bytes', label: t('Largest answer kept (bytes)'), type: 'number', placeholder: '1048576' },
  { name: 'cache.namespace', label: t('Share answers with keys of namespace (empty: this key only)') },
  { name: 'cache.sampled', label: t('Also keep sampled answers (temperature above 0)'), type: 'checkbox' },
];

/** Moves the flat cache fields of `v` into `v.cache`. */
function takeCache(v) {
  const cache = {};
  for (const k of ['ttl_s', 'max_bytes', 'namespace', 'sampled']) {
    const value = v[`cache.${k}`];
    delete v[`cache.${k}`];
    if (value !== null && value !== undefined && value !== '' && value !== false) cache[k] = value;
  }
  v.cache = v.cache_on ? cache : null;
  delete v.cache_on;
}

function KeyForm({ vkey, saved, onCancel }) {
  const fields = [
    { name: 'name', label: t('Name'), required: true },
    ...(vkey ? [] : [{ name: 'key', label: t('Custom key (optional, 16–64 characters)'), placeholder: t('generated when empty') }]),
    { name: 'allowed_models', label: t('Allowed models (comma separated; empty: all)'), type: 'list', wide: true },
    { name: 'rpm_limit', label: t('Requests per minute'), type: 'number' },
    { name: 'tpm_limit', label: t('Tokens per minute'), type: 'number' },
    { name: 'max_concurrent', label: t('Max concurrent requests'), type: 'number' },
    { name: 'budget_usd', label: t('Budget (USD)'), type: 'number' },
    { name: 'budget_period', label: t('Budget period'), type: 'select', options: [['total', t('in total')], ['month', t('per month')], ['day', t('per day')]] },
    { name: 'expires_at', label: t('Expires'), type: 'datetime-local' },
    { name: 'allowed_ips', label: t('Allowed client IPs / CIDRs (empty: any)'), type: 'list', wide: true },
    { name: 'tags', label: t('Tags'), type: 'list', emptyAsList: true },
    { name: 'log_bodies', label: t('Log request and response bodies'), type: 'checkbox' },
    { name: 'enabled', label: t('Enabled'), type: 'checkbox', default: true },
    ...CACHE_FIELDS(),
  ];
  const c = vkey?.cache;
  const initial = { ...(vkey || {}), expires_at: localInput(vkey?.expires_at), cache_on: !!c,
    'cache.ttl_s': c?.ttl_s, 'cache.max_bytes': c?.max_bytes, 'cache.sampled': c?.sampled, 'cache.namespace': c?.namespace };
  const submit = async v => {
    v.expires_at = v.expires_at ? new Date(v.expires_at).getTime() : null;
    takeCache(v);
    if (v.budget_usd === null) v.budget_period = null;
    if (vkey) { await patch(`/api/admin/keys/${vkey.id}`, v); toast(t('Saved')); saved(null); return; }
    if (!v.key) delete v.key;
    saved(await post('/api/admin/keys', v));
  };
  return html`<${Form} fields=${fields} initial=${initial} submit=${submit} onCancel=${onCancel} submitLabel=${vkey ? t('Save') : t('Create key')} />`;
}
