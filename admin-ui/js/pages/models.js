// Models: real models (a provider's upstream model under a name callers use), their limits, prices
// and capabilities; bulk import from a provider's model list or a JSON file; catalog search with
// one-click apply of context window, prices and capability flags.
import { html, useState, useLoad, Loaded, Table, Modal, Form, AsyncButton, Badge, ErrorBox, Spinner, DeleteButton, toast, fmt } from '../ui.js';
import { get, post, patch, qs } from '../api.js';
import { t } from '../i18n.js';

const PER_M = 1e6;

export function Models() {
  const state = useLoad(async () => {
    const [models, providers] = await Promise.all([get('/api/admin/models'), get('/api/admin/providers')]);
    return { models: models.data, providers: providers.data };
  });
  const [dialog, setDialog] = useState(null);
  const [filter, setFilter] = useState('');
  const close = () => setDialog(null);
  const closeAndReload = () => { close(); state.reload(); };
  return html`<section>
    <div class="page-head"><h1>${t('Models')}</h1>
      <button type="button" class="primary" id="add-model" onClick=${() => setDialog({ kind: 'new' })}>${t('Add model')}</button>
      <button type="button" class="secondary" id="import-provider" onClick=${() => setDialog({ kind: 'pick' })}>${t('Import from provider')}</button>
      <button type="button" class="secondary" id="import-file" onClick=${() => setDialog({ kind: 'file' })}>${t('Import JSON file')}</button>
    </div>
    <${Loaded} state=${state}>${({ models, providers }) => {
      const pname = Object.fromEntries(providers.map(p => [p.id, p.name]));
      const shown = models.filter(m => `${m.name} ${m.upstream_model} ${pname[m.provider_id] || ''}`.toLowerCase().includes(filter.toLowerCase()));
      return html`
      <input type="search" class="search" placeholder=${t('Filter models…')} value=${filter} onInput=${e => setFilter(e.target.value)} />
      <${Table} rows=${shown} empty=${t('No models yet. Import them from a provider, or add one.')} columns=${[
        { label: t('Name'), cell: m => html`<strong>${m.name}</strong>${m.enabled ? null : html` <${Badge}>${t('disabled')}<//>`}${m.display_name ? html`<div class="muted small">${m.display_name}</div>` : null}` },
        { label: t('Upstream model'), cell: m => html`<code>${m.upstream_model}</code><div class="muted small">${pname[m.provider_id] || m.provider_id}</div>` },
        { label: t('Context'), class: 'num', cell: m => fmt.num(m.context_window) },
        { label: t('Input $/M'), class: 'num', cell: m => fmt.perM(m.input_cost_per_token) },
        { label: t('Output $/M'), class: 'num', cell: m => fmt.perM(m.output_cost_per_token) },
        { label: t('Capabilities'), cell: m => {
          const caps = Object.entries(m.capabilities || {}).filter(([, v]) => v === true).map(([k]) => k.replace(/^supports_/, ''));
          return html`<span title=${caps.join(', ')}>${caps.slice(0, 3).map(c => html`<${Badge}>${c}<//> `)}${caps.length > 3 ? html`<span class="muted small">+${caps.length - 3}</span>` : null}</span>`;
        } },
        { label: '', class: 'row-actions', cell: m => html`
          <button type="button" class="small" data-action="catalog" onClick=${() => setDialog({ kind: 'catalog', model: m })}>${t('Catalog')}</button>
          <button type="button" class="small secondary" data-action="edit" onClick=${() => setDialog({ kind: 'edit', model: m })}>${t('Edit')}</button>
          <${DeleteButton} question=${t('Delete model {name}?', { name: m.name })} path=${`/api/admin/models/${m.id}`} done=${state.reload} />` },
      ]} />
      ${dialog?.kind === 'new' || dialog?.kind === 'edit' ? html`<${Modal} title=${dialog.model ? t('Edit model') : t('New model')} onClose=${close}>
        <${ModelForm} model=${dialog.model} providers=${providers} saved=${closeAndReload} onCancel=${close} /><//>` : null}
      ${dialog?.kind === 'catalog' ? html`<${Modal} wide title=${t('Catalog: fill {name}', { name: dialog.model.name })} onClose=${close}>
        <${CatalogSearch} model=${dialog.model} applied=${closeAndReload} /><//>` : null}
      ${dialog?.kind === 'pick' ? html`<${Modal} wide title=${t('Import from provider')} onClose=${closeAndReload}>
        <${PickAndImport} providers=${providers} /><//>` : null}
      ${dialog?.kind === 'file' ? html`<${Modal} wide title=${t('Import JSON file')} onClose=${closeAndReload}>
        <${FileImport} /><//>` : null}`;
    }}<//>
  </section>`;
}

function ModelForm({ model, providers, saved, onCancel }) {
  const fields = [
    { name: 'name', label: t('Name (what callers ask for)'), required: true },
    { name: 'provider_id', label: t('Provider'), type: 'select', options: providers.map(p => [p.id, p.name]), readOnly: !!model },
    { name: 'upstream_model', label: t('Upstream model id'), placeholder: t('same as the name') },
    { name: 'display_name', label: t('Display name') },
    { name: 'context_window', label: t('Context window (tokens)'), type: 'number' },
    { name: 'max_output_tokens', label: t('Max output tokens'), type: 'number' },
    { name: 'input_cost_per_token', label: t('Input price, $ per million tokens'), type: 'number', scale: PER_M },
    { name: 'output_cost_per_token', label: t('Output price, $ per million tokens'), type: 'number', scale: PER_M },
    { name: 'cached_input_cost_per_token', label: t('Cached input price, $ per million tokens'), type: 'number', scale: PER_M },
    { name: 'cache_write_cost_per_token', label: t('Cache write price, $ per million tokens'), type: 'number', scale: PER_M },
    { name: 'per_image', label: t('Price per image, $ (images endpoints)'), type: 'number' },
    { name: 'per_second', label: t('Price per second of audio, $ (transcriptions)'), type: 'number' },
    { name: 'per_character', label: t('Price per character, $ (speech)'), type: 'number' },
    { name: 'per_query', label: t('Price per query, $ (rerank)'), type: 'number' },
    { name: 'capabilities', label: t('Capabilities (JSON)'), type: 'json', wide: true, placeholder: '{"supports_vision": true}' },
    { name: 'enabled', label: t('Enabled'), type: 'checkbox', default: true },
  ];
  const initial = { ...(model || {}), ...(model?.unit_prices || {}) };
  for (const k of ['input_cost_per_token', 'output_cost_per_token', 'cached_input_cost_per_token', 'cache_write_cost_per_token']) {
    if (initial[k] !== null && initial[k] !== undefined) initial[k] = +(initial[k] * PER_M).toPrecision(10);
  }
  const submit = async v => {
    if (!v.upstream_model) delete v.upstream_model;
    const units = ['per_image', 'per_second', 'per_character', 'per_query'];
    v.unit_prices = Object.fromEntries(units.filter(k => v[k] !== null && v[k] !== undefined && v[k] !== '').map(k => [k, +v[k]]));
    for (const k of units) delete v[k];
    if (model) { await patch(`/api/admin/models/${model.id}`, v); toast(t('Saved')); }
    else { await post('/api/admin/models', v); toast(t('Model added')); }
    saved();
  };
  return html`<${Form} fields=${fields} initial=${initial} submit=${submit} onCancel=${onCancel} submitLabel=${model ? t('Save') : t('Add model')} />`;
}

/** Catalog search (exact > prefix > substring, ranked by the gateway) with one-click apply. */
export function CatalogSearch({ model, applied }) {
  const [q, setQ] = useState(model.upstream_model || model.name);
  const [query, setQuery] = useState(q);
  const [refreshing, setRefreshing] = useState(null);
  const state = useLoad(() => get(`/api/admin/catalog${qs({ q: query, limit: 25 })}`), [query]);
  const apply = async entry => {
    await post('/api/admin/catalog/apply', { model_id: model.id, source: entry.source, name: entry.name });
    toast(t('Applied {name}', { name: entry.name }));
    applied();
  };
  const refresh = async () => {
    try {
      const r = await post('/api/admin/catalog/refresh');
      setRefreshing({ ok: r });
      state.reload();
    } catch (e) { setRefreshing({ error: e }); }
  };
  return html`<form class="search-row" onSubmit=${e => { e.preventDefault(); setQuery(q); }}>
      <input type="search" class="search" id="catalog-q" value=${q} onInput=${e => setQ(e.target.value)} placeholder=${t('Search the catalog, e.g. gpt-4o')} />
      <button type="submit" class="primary">${t('Search')}</button>
      <${AsyncButton} class="secondary" onClick=${refresh}>${t('Refresh catalog')}<//>
    </form>
    ${refreshing?.error ? html`<${ErrorBox} error=${refreshing.error} />` : null}
    ${refreshing?.ok ? html`<p class="small" id="catalog-refreshed">${t('Refreshed')}: ${refreshing.ok.sources.map(s => (s.error ? html`<span class="bad">${s.source}: ${s.error}</span> ` : `${s.source}: ${s.count} ${t('entries')} `))}</p>` : null}
    ${state.loading ? html`<${Spinner} label=${t('Searching the catalog…')} />` : null}
    ${state.error ? html`<${ErrorBox} error=${state.error} retry=${state.reload} />` : null}
    ${state.data && !state.loading ? html`
      <p class="muted small">${(state.data.sources || []).map(s => `${s.source}: ${s.count ?? 0} ${t('entries')}${s.fetched_at ? ` · ${fmt.time(s.fetched_at)}` : ''}${s.error ? ` · ${s.error}` : ''}`).join(' — ')}</p>
      <${Table} rows=${state.data.data} rowKey=${e => `${e.source}/${e.name}`} empty=${t('No catalog entry matches. The catalog may be off or unreachable; the gateway works without it.')} columns=${[
        { label: t('Name'), cell: e => html`<strong class="catalog-name">${e.name}</strong><div class="muted small">${e.source}${e.provider ? ` · ${e.provider}` : ''}</div>` },
        { label: t('Context'), class: 'num', cell: e => fmt.num(e.context_window) },
        { label: t('Max output'), class: 'num', cell: e => fmt.num(e.max_output_tokens) },
        { label: t('Input $/M'), class: 'num', cell: e => fmt.perM(e.input_cost_per_token) },
        { label: t('Output $/M'), class: 'num', cell: e => fmt.perM(e.output_cost_per_token) },
        { label: t('Cached $/M'), class: 'num', cell: e => fmt.perM(e.cached_input_cost_per_token) },
        { label: '', class: 'row-actions', cell: e => html`<${AsyncButton} class="small primary" data-action="apply" onClick=${() => apply(e)}>${t('Apply')}<//>` },
      ]} />` : null}`;
}

function PickAndImport({ providers }) {
  const [id, setId] = useState(providers[0]?.id || '');
  if (!providers.length) return html`<p class="empty">${t('Add a provider first.')}</p>`;
  return html`<label class="field"><span>${t('Provider')}</span>
      <select id="import-provider-id" value=${id} onChange=${e => setId(e.target.value)}>${providers.map(p => html`<option value=${p.id} selected=${p.id === id}>${p.name}</option>`)}</select></label>
    <${UpstreamImport} key=${id} provider=${providers.find(p => p.id === id)} />`;
}

/** The provider's upstream model list with checkboxes; adds the chosen ones in one bulk call. */
export function UpstreamImport({ provider, done }) {
  const state = useLoad(async () => {
    const [upstream, models] = await Promise.all([get(`/api/admin/providers/${provider.id}/models`), get('/api/admin/models')]);
    const have = new Set(models.data.filter(m => m.provider_id === provider.id).map(m => m.upstream_model));
    return { list: upstream.data.map(m => m.id), have };
  }, [provider.id]);
  const [picked, setPicked] = useState(new Set());
  const [prefix, setPrefix] = useState('');
  const [filter, setFilter] = useState('');
  const [result, setResult] = useState(null);
  const toggle = id => setPicked(s => { const n = new Set(s); n.has(id) ? n.delete(id) : n.add(id); return n; });
  const add = async () => {
    const models = [...picked].map(id => ({ name: `${prefix}${id}`, provider_id: provider.id, upstream_model: id }));
    const r = await post('/api/admin/models/bulk', { models });
    setResult(r); setPicked(new Set());
    toast(t('{n} models added', { n: r.created }));
    state.reload();
  };
  return html`<${Loaded} state=${state}>${({ list, have }) => {
    const shown = list.filter(id => id.toLowerCase().includes(filter.toLowerCase()));
    const fresh = shown.filter(id => !have.has(id));
    return html`
      <div class="search-row">
        <input type="search" class="search" placeholder=${t('Filter {n} upstream models…', { n: list.length })} value=${filter} onInput=${e => setFilter(e.target.value)} />
        <input class="prefix" placeholder=${t('Name prefix (optional)')} value=${prefix} onInput=${e => setPrefix(e.target.value)} />
      </div>
      <div class="pick-head">
        <label class="check"><input type="checkbox" id="pick-all" checked=${fresh.length > 0 && fresh.every(id => picked.has(id))}
          onChange=${e => setPicked(e.target.checked ? new Set(fresh) : new Set())} /> ${t('Select all new ({n})', { n: fresh.length })}</label>
        <${AsyncButton} class="primary" id="bulk-add" disabled=${!picked.size} onClick=${add}>${t('Add {n} models', { n: picked.size })}<//>
      </div>
      <ul class="pick-list">${shown.map(id => html`<li key=${id}><label class="check">
        <input type="checkbox" data-model=${id} disabled=${have.has(id)} checked=${picked.has(id) || have.has(id)} onChange=${() => toggle(id)} />
        <code>${id}</code> ${have.has(id) ? html`<${Badge} kind="ok">${t('added')}<//>` : null}</label></li>`)}</ul>
      ${result ? html`<${BulkResult} result=${result} />` : null}
      ${done ? html`<div class="actions"><button type="button" class="secondary" onClick=${done}>${t('Close')}</button></div>` : null}`;
  }}<//>`;
}

function BulkResult({ result }) {
  const failed = result.results.filter(r => r.error);
  return html`<div class="bulk-result" id="bulk-result">
    <p><strong>${t('{n} models added', { n: result.created })}</strong>${failed.length ? `, ${t('{n} skipped', { n: failed.length })}` : ''}</p>
    ${failed.length ? html`<ul class="small">${failed.map(r => html`<li><span class="bad">${r.status}</span> ${r.error.message}</li>`)}</ul>` : null}
  </div>`;
}

/** Bulk import from a JSON file: an array of models, or `{models: [...]}`, in the API's shape. */
function FileImport() {
  const [error, setError] = useState(null);
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const load = async e => {
    const file = e.target.files[0];
    if (!file) return;
    setError(null); setResult(null); setBusy(true);
    try {
      let parsed;
      try { parsed = JSON.parse(await file.text()); } catch (err) { throw new Error(`${t('Invalid JSON')}: ${err.message}`); }
      const models = Array.isArray(parsed) ? parsed : parsed.models;
      if (!Array.isArray(models)) throw new Error(t('The file must hold an array of models or {"models": [...]}.'));
      setResult(await post('/api/admin/models/bulk', { models }));
    } catch (err) { setError(err); } finally { setBusy(false); e.target.value = ''; }
  };
  return html`<p class="lead">${t('Each entry needs name and provider_id; upstream_model, prices, limits and capabilities are optional. Names that exist already are skipped, so importing twice is harmless.')}</p>
    <pre class="example">[{"name": "gpt-4o-mini", "provider_id": "prv_…", "input_cost_per_token": 1.5e-7}]</pre>
    <input type="file" id="import-json" accept="application/json,.json" onChange=${load} disabled=${busy} />
    ${busy ? html`<${Spinner} label=${t('Importing…')} />` : null}
    <${ErrorBox} error=${error} />
    ${result ? html`<${BulkResult} result=${result} />` : null}`;
}
