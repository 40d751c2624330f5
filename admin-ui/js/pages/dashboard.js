// Dashboard: totals, latency percentiles, errors by kind, time series and per-model/per-key
// breakdowns for the last 24 hours, 7 days or 30 days (GET /api/admin/stats).
import { html, useState, useLoad, Loaded, Chart, Bars, fmt } from '../ui.js';
import { get, qs } from '../api.js';
import { t } from '../i18n.js';

const WINDOWS = [['24h', '24 hours'], ['7d', '7 days'], ['30d', '30 days']];

export function Dashboard() {
  const [win, setWin] = useState('24h');
  const [keyId, setKeyId] = useState('');
  const [model, setModel] = useState('');
  const state = useLoad(async () => {
    const [stats, keys, providers, models] = await Promise.all([get(`/api/admin/stats${qs({ window: win, key_id: keyId, model })}`),
      get('/api/admin/keys'), get('/api/admin/providers'), get('/api/admin/models')]);
    const names = list => Object.fromEntries(list.data.map(x => [x.id, x.name]));
    // Monitoring's own key does not count as the admin having made one.
    const setup = { providers: providers.data.length > 0, models: models.data.length > 0,
      keys: keys.data.some(k => !k.tags?.includes('monitoring')) };
    return { stats, setup, keys: names(keys), providers: names(providers) };
  }, [win, keyId, model]);
  const keyNames = state.data?.keys || {};
  return html`<section>
    <div class="page-head"><h1>${t('Dashboard')}</h1>
      <div class="segmented" role="group" aria-label=${t('Time window')}>
        ${WINDOWS.map(([w, l]) => html`<button type="button" data-window=${w} class=${w === win ? 'on' : ''} aria-pressed=${w === win} onClick=${() => setWin(w)}>${t(l)}</button>`)}
      </div>
      <button type="button" class="secondary small" onClick=${state.reload} disabled=${state.loading}>${t('Refresh')}</button>
    </div>
    <div class="scope">
      <label class="field"><span>${t('Key')}</span><select id="dash-key" value=${keyId} onChange=${e => setKeyId(e.target.value)}>
        <option value="">${t('all keys')}</option>${Object.entries(keyNames).map(([id, name]) => html`<option value=${id} selected=${id === keyId}>${name}</option>`)}</select></label>
      <label class="field"><span>${t('Model')}</span><input id="dash-model" placeholder=${t('all models')} value=${model}
        onChange=${e => setModel(e.target.value.trim())} /></label>
    </div>
    <${Loaded} state=${state}>${d => html`<${GetStarted} setup=${d.setup} /><${Body} ...${d} />`}<//>
  </section>`;
}

/** Until a provider, a model and a key exist: the three steps to a first request. */
function GetStarted({ setup }) {
  if (setup.providers && setup.models && setup.keys) return null;
  const steps = [
    [setup.providers, '#/providers', t('Add a provider'), t('from a preset: usually just an API key')],
    [setup.models, '#/models', t('Add models'), t("import them from the provider's list in one go")],
    [setup.keys, '#/keys', t('Create a virtual key'), t('for your app; then call /v1/chat/completions with it')],
  ];
  return html`<div class="panel get-started" id="get-started"><h2>${t('Get started')}</h2><ol>
    ${steps.map(([done, href, title, hint]) => html`<li class=${done ? 'done' : ''}><span class="tick">${done ? '✓' : ''}</span>
      <a href=${href}>${title}</a> <span class="muted small">${hint}</span></li>`)}</ol></div>`;
}

/** Compact dollars for chart axes: $0.0006, $1.2k. */
const axisUsd = v => (v >= 1000 ? `$${+(v / 1000).toPrecision(3)}k` : `$${+v.toPrecision(2)}`);

function Body({ stats, keys, providers }) {
  const s = stats.totals;
  const x = stats.series.map(p => p.t / 1000);
  const cards = [
    ['requests', t('Requests'), fmt.num(s.requests)],
    ['success', t('Success rate'), fmt.pct(s.success_rate)],
    ['tokens', t('Tokens (in / out)'), `${fmt.num(s.input_tokens)} / ${fmt.num(s.output_tokens)}`],
    ['cost', t('Cost'), fmt.usd(s.cost_usd)],
    ['cache', t('Prompt cache: hit share / saved'), `${fmt.pct(s.cache_hit_share)} / ${fmt.usd(s.cache_savings_usd)}`],
    ['response-cache', t('Response cache: hit rate / saved'), `${fmt.pct(s.response_cache_hit_rate)} / ${fmt.usd(s.response_cache_saved_usd)}`],
    ['latency', t('Latency P50 / P95'), `${fmt.ms(s.latency_p50_ms)} / ${fmt.ms(s.latency_p95_ms)}`],
    ['ttft', t('First token P50 / P95'), `${fmt.ms(s.ttft_p50_ms)} / ${fmt.ms(s.ttft_p95_ms)}`],
    ['errors', t('Errors'), fmt.num(s.errors)],
  ];
  // The eight largest, each linking to its requests in the logs where it can.
  const top = (list, label, value, href = () => null) => list.slice().sort((a, b) => value(b) - value(a)).slice(0, 8)
    .map(r => ({ label: label(r), value: value(r), href: href(r) }));
  return html`
    <div class="stat-cards">${cards.map(([id, label, value]) => html`<div class="stat" data-stat=${id}><span>${label}</span><strong>${value}</strong></div>`)}</div>
    <div class="panels">
      <div class="panel wide"><h2>${t('Requests and errors')}</h2>
        <${Chart} x=${x} series=${[{ label: t('Requests'), values: stats.series.map(p => p.requests) }, { label: t('Errors'), values: stats.series.map(p => p.errors) }]} /></div>
      <div class="panel"><h2>${t('Tokens')}</h2><${Chart} x=${x} series=${[{ label: t('Tokens'), values: stats.series.map(p => p.tokens), bars: true }]} format=${v => fmt.num(v)} /></div>
      <div class="panel"><h2>${t('Cost')}</h2><${Chart} x=${x} series=${[{ label: t('Cost'), values: stats.series.map(p => p.cost_usd), bars: true }]} format=${v => fmt.usd(v)} axis=${axisUsd} /></div>
      <div class="panel" data-breakdown="model"><h2>${t('Requests by model')}</h2><${Bars} items=${top(stats.by_model, r => r.model || '—', r => r.requests, r => r.model && `#/logs?model=${encodeURIComponent(r.model)}`)} /></div>
      <div class="panel" data-breakdown="key"><h2>${t('Cost by key')}</h2><${Bars} items=${top(stats.by_key, r => keys[r.key_id] || r.key_id || '—', r => r.cost_usd, r => r.key_id && `#/logs?key_id=${encodeURIComponent(r.key_id)}`)} format=${fmt.usd} /></div>
      <div class="panel" data-breakdown="provider"><h2>${t('Latency P50 by provider')}</h2><${Bars} items=${top(stats.by_provider.filter(r => r.provider_id), r => providers[r.provider_id] || r.provider_id, r => r.latency_p50_ms || 0)} format=${fmt.ms} /></div>
      <div class="panel" data-breakdown="errors"><h2>${t('Errors by kind')}</h2><${Bars} items=${stats.errors_by_kind.map(e => ({ label: e.kind, value: e.count }))} /></div>
    </div>`;
}
