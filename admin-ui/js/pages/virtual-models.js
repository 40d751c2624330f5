// Virtual models: a name bound to a routing config (strategy, targets with weights and priorities,
// deadlines, breaker settings) and prompt rules, with the live breaker state of every target and a
// dry-run preview of the rules.
import { html, useState, useEffect, useLoad, Loaded, Table, Modal, AsyncButton, Badge, YesNo, DeleteButton, ErrorBox, toast, fmt } from '../ui.js';
import { get, post, patch } from '../api.js';
import { t } from '../i18n.js';

const STRATEGIES = [['weighted', 'Weighted'], ['priority', 'Priority failover'], ['round_robin', 'Round robin'],
  ['least_latency', 'Least latency'], ['sticky', 'Sticky (session)']];
const OPS = [['system_set', 'Set system prompt'], ['system_prepend', 'Prepend to system prompt'], ['system_append', 'Append to system prompt'],
  ['prepend', 'Prepend to last user message'], ['append', 'Append to last user message'], ['replace', 'Replace last user message'],
  ['regex_replace', 'Regex replace']];
const CONFIG = [['deadline_ms', 'Deadline to first byte (ms)'], ['attempt_timeout_ms', 'Per-attempt timeout (ms)'],
  ['max_attempts', 'Max attempts'], ['failure_threshold', 'Failures to open the breaker'], ['cooldown_ms', 'Breaker cooldown (ms)']];

/** A breaker state as a badge: closed (ok), half-open, open (rate limited or failing). */
export function BreakerBadge({ status }) {
  if (!status) return html`<${Badge}>${t('no traffic yet')}<//>`;
  const b = status.breaker;
  if (b.state === 'closed') return html`<${Badge} kind="ok">${t('closed')}<//>`;
  if (b.state === 'half_open') return html`<${Badge} kind="warn">${t('half-open')}<//>`;
  return html`<${Badge} kind="bad">${b.rate_limited ? t('open (429)') : t('open')}<//>`;
}

export function VirtualModels() {
  const state = useLoad(async () => {
    const [vms, providers, models] = await Promise.all([get('/api/admin/virtual-models'), get('/api/admin/providers'), get('/api/admin/models')]);
    return { vms: vms.data, providers: providers.data, models: models.data };
  });
  // Breaker states are live: only they are fetched again, every 5 s while the page is open.
  const [routing, setRouting] = useState({});
  useEffect(() => {
    const poll = () => get('/api/admin/routing')
      .then(r => setRouting(Object.fromEntries(r.targets.map(s => [s.target, s])))).catch(() => {});
    poll();
    const id = setInterval(poll, 5000);
    return () => clearInterval(id);
  }, []);
  const [editing, setEditing] = useState(null);
  return html`<section>
    <div class="page-head"><h1>${t('Virtual models')}</h1>
      <button type="button" class="primary" id="add-vm" onClick=${() => setEditing({})}>${t('Add virtual model')}</button></div>
    <p class="lead">${t('A name callers use like any model, routed over several targets with failover, plus prompt rules.')}</p>
    <${Loaded} state=${state}>${loaded => { const d = { ...loaded, routing }; return html`
      <${Table} rows=${d.vms} empty=${t('No virtual models yet.')} columns=${[
        { label: t('Name'), cell: vm => html`<strong>${vm.name}</strong>${vm.description ? html`<div class="muted small">${vm.description}</div>` : null}` },
        { label: t('Strategy'), cell: vm => t(STRATEGIES.find(s => s[0] === vm.strategy)?.[1] || vm.strategy) },
        { label: t('Targets (live breaker)'), cell: vm => html`<ul class="targets">${vm.targets.map(tg => {
          const s = d.routing[`${tg.provider_id}/${tg.model}`];
          return html`<li><code>${tg.model}</code> <span class="muted small">@${d.providers.find(p => p.id === tg.provider_id)?.name || tg.provider_id}</span> <${BreakerBadge} status=${s} />
            ${s?.latency_ewma_ms ? html`<span class="muted small"> ${fmt.ms(s.latency_ewma_ms)}</span>` : null}</li>`;
        })}</ul>` },
        { label: t('Rules'), class: 'num', cell: vm => vm.rules.length },
        { label: t('Enabled'), cell: vm => html`<${YesNo} value=${vm.enabled} />` },
        { label: '', class: 'row-actions', cell: vm => html`
          <button type="button" class="small secondary" data-action="edit" onClick=${() => setEditing(vm)}>${t('Edit')}</button>
          <${DeleteButton} question=${t('Delete virtual model {name}?', { name: vm.name })}
            path=${`/api/admin/virtual-models/${vm.id}`} done=${state.reload} />` },
      ]} />
      ${editing ? html`<${Modal} wide title=${editing.id ? t('Edit virtual model') : t('New virtual model')} onClose=${() => setEditing(null)}>
        <${Editor} vm=${editing} data=${d} saved=${() => { setEditing(null); state.reload(); }} onCancel=${() => setEditing(null)} /><//>` : null}`; }}<//>
  </section>`;
}

function Editor({ vm, data, saved, onCancel }) {
  const [name, setName] = useState(vm.name || '');
  const [description, setDescription] = useState(vm.description || '');
  const [strategy, setStrategy] = useState(vm.strategy || 'weighted');
  const [enabled, setEnabled] = useState(vm.enabled ?? true);
  const [targets, setTargets] = useState(vm.targets?.length ? vm.targets.map(x => ({ weight: 1, priority: 0, ...x }))
    : [{ provider_id: data.providers[0]?.id || '', model: '', weight: 1, priority: 0 }]);
  const [rules, setRules] = useState(vm.rules || []);
  const [config, setConfig] = useState(Object.fromEntries(CONFIG.map(([k]) => [k, vm.config?.[k] ?? ''])));
  const [cache, setCache] = useState({ on: !!vm.cache, ttl_s: vm.cache?.ttl_s ?? '', max_bytes: vm.cache?.max_bytes ?? '', sampled: !!vm.cache?.sampled });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const setTarget = (i, k, v) => setTargets(ts => ts.map((x, j) => (j === i ? { ...x, [k]: v } : x)));
  const setRule = (i, k, v) => setRules(rs => rs.map((x, j) => (j === i ? { ...x, [k]: v } : x)));
  const move = (i, by) => setRules(rs => { const n = rs.slice(); const [r] = n.splice(i, 1); n.splice(i + by, 0, r); return n; });
  const save = async e => {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const cfg = {};
      for (const [k] of CONFIG) if (String(config[k]).trim() !== '') cfg[k] = Number(config[k]);
      const body = { name: name.trim(), description: description.trim() || null, strategy, enabled, config: cfg,
        targets: targets.map(x => ({ provider_id: x.provider_id, model: x.model.trim(), weight: Number(x.weight) || 0, priority: Number(x.priority) || 0 })),
        rules: rules.map(cleanRule), cache: null };
      if (cache.on) {
        body.cache = { sampled: cache.sampled };
        for (const k of ['ttl_s', 'max_bytes']) if (String(cache[k]).trim() !== '') body.cache[k] = Number(cache[k]);
      }
      if (vm.id) await patch(`/api/admin/virtual-models/${vm.id}`, body); else await post('/api/admin/virtual-models', body);
      toast(t('Saved')); saved();
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  const fieldError = prefix => (error?.field && error.field.startsWith(prefix) ? html`<span class="field-error">${error.message}</span>` : null);
  return html`<form class="form" onSubmit=${save} novalidate>
    <div class="grid">
      <label class="field"><span>${t('Name (what callers ask for)')} *</span><input id="vm-name" value=${name} onInput=${e => setName(e.target.value)} />${fieldError('name')}</label>
      <label class="field"><span>${t('Strategy')}</span><select id="vm-strategy" value=${strategy} onChange=${e => setStrategy(e.target.value)}>
        ${STRATEGIES.map(([v, l]) => html`<option value=${v} selected=${v === strategy}>${t(l)}</option>`)}</select></label>
      <label class="field wide"><span>${t('Description')}</span><input value=${description} onInput=${e => setDescription(e.target.value)} /></label>
      <label class="check"><input type="checkbox" checked=${enabled} onChange=${e => setEnabled(e.target.checked)} /> ${t('Enabled')}</label>
    </div>

    <h3>${t('Targets')}</h3>
    <datalist id="known-models">${data.models.map(m => html`<option value=${m.upstream_model}>${m.name}</option>`)}</datalist>
    <div class="rows" id="targets">${targets.map((x, i) => html`<div class="row target-row" key=${i}>
      <label class="field"><span>${t('Provider')}</span><select data-target-provider=${i} value=${x.provider_id} onChange=${e => setTarget(i, 'provider_id', e.target.value)}>
        ${data.providers.map(p => html`<option value=${p.id} selected=${p.id === x.provider_id}>${p.name}</option>`)}</select></label>
      <label class="field"><span>${t('Upstream model')}</span><input data-target-model=${i} list="known-models" value=${x.model} onInput=${e => setTarget(i, 'model', e.target.value)} /></label>
      <label class="field narrow"><span>${t('Weight')}</span><input inputmode="numeric" value=${x.weight} onInput=${e => setTarget(i, 'weight', e.target.value)} /></label>
      <label class="field narrow"><span>${t('Priority')}</span><input inputmode="numeric" value=${x.priority} onInput=${e => setTarget(i, 'priority', e.target.value)} /></label>
      <span class="breaker"><${BreakerBadge} status=${data.routing[`${x.provider_id}/${x.model}`]} /></span>
      <button type="button" class="icon" aria-label=${t('Remove')} onClick=${() => setTargets(ts => ts.filter((_, j) => j !== i))}>×</button>
    </div>`)}</div>
    ${fieldError('targets')}
    <button type="button" class="secondary small" id="add-target" onClick=${() => setTargets(ts => [...ts, { provider_id: data.providers[0]?.id || '', model: '', weight: 1, priority: ts.length }])}>+ ${t('Add target')}</button>

    <details class="advanced"><summary>${t('Deadlines and circuit breaker')}</summary><div class="grid">
      ${CONFIG.map(([k, l]) => html`<label class="field"><span>${t(l)}</span><input inputmode="numeric" placeholder=${t('default')} value=${config[k]} onInput=${e => setConfig(c => ({ ...c, [k]: e.target.value }))} /></label>`)}
    </div>${fieldError('config')}</details>

    <details class="advanced" id="vm-cache" open=${cache.on}><summary>${t('Response cache')}</summary>
      <p class="muted small">${t('Identical requests at temperature 0 (on any endpoint) get the kept answer; each key has its own answers unless its own setting shares them.')}</p>
      <div class="grid">
        <label class="check wide"><input type="checkbox" id="vm-cache-on" checked=${cache.on} onChange=${e => setCache(c => ({ ...c, on: e.target.checked }))} /> ${t('Response cache: answer repeated requests from the cache')}</label>
        <label class="field"><span>${t('Keep answers for (seconds)')}</span><input id="vm-cache-ttl" inputmode="numeric" placeholder="3600" value=${cache.ttl_s} onInput=${e => setCache(c => ({ ...c, ttl_s: e.target.value }))} /></label>
        <label class="field"><span>${t('Largest answer kept (bytes)')}</span><input inputmode="numeric" placeholder="1048576" value=${cache.max_bytes} onInput=${e => setCache(c => ({ ...c, max_bytes: e.target.value }))} /></label>
        <label class="check"><input type="checkbox" checked=${cache.sampled} onChange=${e => setCache(c => ({ ...c, sampled: e.target.checked }))} /> ${t('Also keep sampled answers (temperature above 0)')}</label>
      </div>${fieldError('cache')}</details>

    <h3>${t('Prompt rules')}</h3>
    <p class="muted small">${t('Applied in order on every endpoint and upstream. Templates may use {{user_prompt}}, {{date}}, {{model}}, {{key_name}}.')}</p>
    <div class="rows" id="rules">${rules.map((r, i) => html`<div class="rule" key=${i}>
      <div class="row">
        <label class="field"><span>${t('Operation')}</span><select data-rule-op=${i} value=${r.op} onChange=${e => setRule(i, 'op', e.target.value)}>
          ${OPS.map(([v, l]) => html`<option value=${v} selected=${v === r.op}>${t(l)}</option>`)}</select></label>
        ${r.op === 'regex_replace' ? html`<label class="field"><span>${t('Pattern (regex)')}</span><input value=${r.match || ''} onInput=${e => setRule(i, 'match', e.target.value)} /></label>
          <label class="field narrow"><span>${t('Scope')}</span><select value=${r.scope || 'user'} onChange=${e => setRule(i, 'scope', e.target.value)}>
            <option value="user">${t('user messages')}</option><option value="all">${t('all messages')}</option></select></label>` : null}
        <span class="rule-tools">
          <button type="button" class="icon" aria-label=${t('Move up')} disabled=${i === 0} onClick=${() => move(i, -1)}>↑</button>
          <button type="button" class="icon" aria-label=${t('Move down')} disabled=${i === rules.length - 1} onClick=${() => move(i, 1)}>↓</button>
          <button type="button" class="icon" aria-label=${t('Remove')} onClick=${() => setRules(rs => rs.filter((_, j) => j !== i))}>×</button></span>
      </div>
      <label class="field wide"><span>${r.op === 'regex_replace' ? t('Replacement') : t('Template')}</span>
        <textarea data-rule-template=${i} rows="2" value=${r.template || ''} onInput=${e => setRule(i, 'template', e.target.value)}></textarea></label>
      <div class="row">
        <label class="check"><input type="checkbox" checked=${r.enabled !== false} onChange=${e => setRule(i, 'enabled', e.target.checked)} /> ${t('Enabled')}</label>
        <label class="check"><input type="checkbox" checked=${!!r.first_turn_only} onChange=${e => setRule(i, 'first_turn_only', e.target.checked)} /> ${t('First turn only')}</label>
      </div>
      ${error?.field?.startsWith(`rules[${i}]`) ? html`<span class="field-error">${error.message}</span>` : null}
    </div>`)}</div>
    <button type="button" class="secondary small" id="add-rule" onClick=${() => setRules(rs => [...rs, { op: 'system_prepend', template: '', enabled: true, first_turn_only: false }])}>+ ${t('Add rule')}</button>

    <${Preview} rules=${rules} model=${name} />

    ${error && !(error.field && /^(name|targets|config|rules|cache)/.test(error.field)) ? html`<${ErrorBox} error=${error} />` : null}
    <div class="actions">
      <button type="button" class="secondary" onClick=${onCancel}>${t('Cancel')}</button>
      <button type="submit" class="primary" id="save-vm" disabled=${busy} aria-busy=${busy}>${busy ? html`<span class="spin small"></span>` : null}${t('Save')}</button>
    </div>
  </form>`;
}

function cleanRule(r) {
  const out = { op: r.op, template: r.template || '', enabled: r.enabled !== false, first_turn_only: !!r.first_turn_only };
  if (r.op === 'regex_replace') { out.match = r.match || ''; out.scope = r.scope || 'user'; }
  return out;
}

/** Dry run: what the rules make of a sample conversation (POST /virtual-models/preview; sent nowhere). */
function Preview({ rules, model }) {
  const [system, setSystem] = useState('You are a helpful assistant.');
  const [user, setUser] = useState('Hello!');
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const run = async () => {
    setError(null);
    const messages = [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: user }];
    try {
      setResult(await post('/api/admin/virtual-models/preview', { rules: rules.map(cleanRule), request: { model: model || 'preview', messages } }));
    } catch (e) { setResult(null); setError(e); }
  };
  return html`<details class="advanced preview" open=${rules.length > 0}><summary>${t('Preview the rules (dry run)')}</summary>
    <div class="grid">
      <label class="field"><span>${t('Sample system prompt')}</span><textarea rows="2" value=${system} onInput=${e => setSystem(e.target.value)}></textarea></label>
      <label class="field"><span>${t('Sample user message')}</span><textarea id="preview-user" rows="2" value=${user} onInput=${e => setUser(e.target.value)}></textarea></label>
    </div>
    <${AsyncButton} class="secondary small" id="run-preview" onClick=${run}>${t('Run preview')}<//>
    <${ErrorBox} error=${error} />
    ${result ? html`<div class="preview-out" id="preview-out">
      <p class="small">${result.changed ? t('The rules changed the request:') : t('The rules left the request unchanged.')}</p>
      ${(result.request.messages || []).map(m => html`<div class="msg"><span class="role">${m.role}</span><pre>${typeof m.content === 'string' ? m.content : JSON.stringify(m.content, null, 2)}</pre></div>`)}
    </div>` : null}
  </details>`;
}
