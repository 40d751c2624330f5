// Request logs: filters (time, key, model, status, request id), pages of results and a detail view
// with every recorded field (and the bodies when the key logs them).
import { html, useState, useLoad, Loaded, Table, Modal, Badge, fmt } from '../ui.js';
import { get, qs } from '../api.js';
import { t } from '../i18n.js';

const RANGES = [['1h', 'Last hour', 3600e3], ['24h', 'Last 24 hours', 86400e3], ['7d', 'Last 7 days', 7 * 86400e3], ['all', 'All time', 0]];
const BLANK = { range: '24h', key_id: '', model: '', status: '', request_id: '' };

export function Logs({ params }) {
  const [draft, setDraft] = useState({ ...BLANK, ...params });
  const [filters, setFilters] = useState(draft);
  const [page, setPage] = useState(1);
  const [detail, setDetail] = useState(null);
  const keys = useLoad(async () => (await get('/api/admin/keys')).data);
  const state = useLoad(() => {
    const span = RANGES.find(r => r[0] === filters.range)?.[2];
    return get(`/api/admin/logs${qs({ key_id: filters.key_id, model: filters.model.trim(), status: filters.status.trim(),
      request_id: filters.request_id.trim(), from: span ? Date.now() - span : '', page, page_size: 50 })}`);
  }, [filters, page]);
  const keyName = id => keys.data?.find(k => k.id === id)?.name || id || '—';
  const set = k => e => setDraft(d => ({ ...d, [k]: e.target.value }));
  const apply = e => { e.preventDefault(); setPage(1); setFilters({ ...draft }); };
  const statusBadge = r => html`<${Badge} kind=${r.status < 400 && !r.error_kind ? 'ok' : r.status === 429 ? 'warn' : 'bad'}>${r.status}<//>`;
  return html`<section>
    <div class="page-head"><h1>${t('Request logs')}</h1></div>
    <form class="filters" id="log-filters" onSubmit=${apply}>
      <label class="field"><span>${t('Time')}</span><select value=${draft.range} onChange=${set('range')}>${RANGES.map(([v, l]) => html`<option value=${v} selected=${v === draft.range}>${t(l)}</option>`)}</select></label>
      <label class="field"><span>${t('Key')}</span><select id="filter-key" value=${draft.key_id} onChange=${set('key_id')}>
        <option value="">${t('any')}</option>${(keys.data || []).map(k => html`<option value=${k.id} selected=${k.id === draft.key_id}>${k.name}</option>`)}</select></label>
      <label class="field"><span>${t('Model')}</span><input id="filter-model" value=${draft.model} onInput=${set('model')} /></label>
      <label class="field narrow"><span>${t('Status')}</span><input id="filter-status" inputmode="numeric" placeholder="200" value=${draft.status} onInput=${set('status')} /></label>
      <label class="field"><span>${t('Request id')}</span><input value=${draft.request_id} onInput=${set('request_id')} /></label>
      <div class="filter-actions"><button type="submit" class="primary">${t('Apply')}</button>
        <button type="button" class="secondary" onClick=${() => { setDraft(BLANK); setFilters(BLANK); setPage(1); }}>${t('Clear')}</button></div>
    </form>
    <${Loaded} state=${state}>${d => html`
      <p class="muted small" id="log-total">${t('{n} requests', { n: fmt.num(d.pagination.total) })}${state.loading ? html` <span class="spin small"></span>` : null}</p>
      <${Table} rows=${d.data} onRow=${setDetail} empty=${t('No requests match these filters.')} columns=${[
        { label: t('Time'), cell: r => fmt.time(r.created_at) },
        { label: t('Status'), cell: r => html`${statusBadge(r)}${r.error_kind ? html` <span class="small bad">${r.error_kind}</span>` : null}` },
        { label: t('Model'), cell: r => html`<code>${r.model_requested || '—'}</code>${r.model_served && r.model_served !== r.model_requested ? html`<div class="muted small">→ ${r.model_served}</div>` : null}` },
        { label: t('Key'), cell: r => keyName(r.key_id) },
        { label: t('Endpoint'), cell: r => html`<span class="small">${r.endpoint}${r.stream ? ' · stream' : ''}</span>` },
        { label: t('Latency'), class: 'num', cell: r => fmt.ms(r.latency_ms) },
        { label: t('Tokens'), class: 'num', cell: r => `${fmt.num(r.input_tokens)} / ${fmt.num(r.output_tokens)}` },
        { label: t('Cost'), class: 'num', cell: r => fmt.usd(r.cost_usd) },
      ]} />
      <div class="pager">
        <button type="button" class="secondary small" disabled=${page <= 1} onClick=${() => setPage(page - 1)}>← ${t('Newer')}</button>
        <span class="muted small">${t('Page {page} of {pages}', { page, pages: Math.max(1, d.pagination.total_pages) })}</span>
        <button type="button" class="secondary small" disabled=${page >= d.pagination.total_pages} onClick=${() => setPage(page + 1)}>${t('Older')} →</button>
      </div>`}<//>
    ${detail ? html`<${Modal} wide title=${t('Request {id}', { id: detail.request_id })} onClose=${() => setDetail(null)}>
      <${Detail} r=${detail} keyName=${keyName} /><//>` : null}
  </section>`;
}

/** What translating a request lost, in one line: dropped fields and tools, approximated settings. */
function translation(report) {
  if (!report) return t('none (same protocol)');
  const parts = [`${report.from} → ${report.to}`];
  if (report.dropped?.length) parts.push(`${t('dropped')}: ${report.dropped.join(', ')}`);
  if (report.dropped_tools?.length) parts.push(`${t('tools dropped')}: ${report.dropped_tools.join(', ')}`);
  if (report.approximated?.length) parts.push(`${t('approximated')}: ${report.approximated.join(', ')}`);
  return parts.join(' · ');
}

function Detail({ r, keyName }) {
  const rows = [
    [t('Time'), fmt.time(r.created_at)], [t('Status'), `${r.status}${r.error_kind ? ` · ${r.error_kind}` : ''}`],
    [t('Key'), keyName(r.key_id)], [t('Endpoint'), r.endpoint], [t('Protocols'), `${r.protocol_in || '—'} → ${r.protocol_out || '—'}`],
    [t('Model asked'), r.model_requested], [t('Model served'), r.model_served], [t('Provider'), r.provider_id],
    [t('Stream'), r.stream ? t('yes') : t('no')], [t('Attempts'), r.attempts],
    [t('Latency'), fmt.ms(r.latency_ms)], [t('Time to first token'), fmt.ms(r.ttft_ms)],
    [t('Input tokens'), fmt.num(r.input_tokens)], [t('Output tokens'), fmt.num(r.output_tokens)],
    [t('Usage'), r.usage_estimated ? t('estimated (the upstream did not report it)') : t('as the upstream reported it')],
    [t('Translation'), translation(r.translation)],
    [t('Cached tokens'), fmt.num(r.cached_tokens)], [t('Cache write tokens'), fmt.num(r.cache_write_tokens)],
    [t('Reasoning tokens'), fmt.num(r.reasoning_tokens)],
    [t('Cost'), fmt.usd(r.cost_usd)], [t('Saved by the prompt cache'), fmt.usd(r.cache_savings_usd)],
    [t('Response cache'), r.response_cache ? `${r.response_cache}${r.cached_from ? ` ← ${r.cached_from}` : ''}` : '—'], [t('Saved by the response cache'), fmt.usd(r.response_cache_saved_usd)], [t('Client IP'), r.client_ip], [t('User agent'), r.user_agent],
  ];
  const body = text => { try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; } };
  return html`<dl class="detail" id="log-detail">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v ?? '—'}</dd>`)}</dl>
    ${r.request_body ? html`<h3>${t('Request body')}</h3><pre class="body">${body(r.request_body)}</pre>` : null}
    ${r.response_body ? html`<h3>${t('Response body')}</h3><pre class="body">${body(r.response_body)}</pre>` : null}
    ${!r.request_body && !r.response_body ? html`<p class="muted small">${t('Bodies are logged only for keys with body logging on.')}</p>` : null}`;
}
