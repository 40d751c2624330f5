// Health monitoring: the persistent-monitoring switch, real-traffic statistics, and the health
// targets probed for the public status page.
import { html, useState, useLoad, Loaded, Table, Modal, Form, Badge, YesNo, Switch, DeleteButton, toast, fmt } from '../ui.js';
import { get, getPublic, post, patch, gatewayHref } from '../api.js';
import { t } from '../i18n.js';
import { PROTOCOLS } from './providers.js';

export function Health() {
  const state = useLoad(async () => {
    const [settings, targets, models, vms] = await Promise.all([get('/api/admin/settings'), get('/api/admin/health-targets'),
      get('/api/admin/models'), get('/api/admin/virtual-models')]);
    // With monitoring on, the public summary has each target's current status and availability.
    const summary = settings.monitoring_enabled ? await getPublic('/public/health/summary').catch(() => null) : null;
    const live = Object.fromEntries((summary?.targets || []).map(s => [s.targetId, s]));
    return { settings, live, targets: targets.data, names: { model: models.data.map(m => m.name), virtual_model: vms.data.map(v => v.name) } };
  });
  const [dialog, setDialog] = useState(null);
  const close = () => setDialog(null);
  const flip = async (field, value) => { await patch('/api/admin/settings', { [field]: value }); toast(t('Saved')); state.reload(); };
  return html`<section>
    <div class="page-head"><h1>${t('Health monitoring')}</h1>
      <a class="button secondary" href=${gatewayHref('/status')} target="_blank" rel="noopener">${t('Open status page')} ↗</a></div>
    <${Loaded} state=${state}>${d => html`
      <div class="panel settings-panel">
        <div class="setting"><div><strong>${t('Persistent monitoring')}</strong>
          <p class="muted small">${t('Probes every enabled target on its interval with a monitoring-only key and publishes the results at /status. Off: no probes, and the public endpoints answer 404.')}</p></div>
          <${Switch} id="monitoring-switch" on=${d.settings.monitoring_enabled} onToggle=${() => flip('monitoring_enabled', !d.settings.monitoring_enabled)} /></div>
        <div class="setting"><div><strong>${t('Count real traffic')}</strong>
          <p class="muted small">${t('Real requests to a target also feed its availability and latency, so the page shows what users get.')}</p></div>
          <${Switch} on=${d.settings.monitoring_real_traffic} onToggle=${() => flip('monitoring_real_traffic', !d.settings.monitoring_real_traffic)} /></div>
      </div>
      <div class="page-head"><h2>${t('Health targets')}</h2>
        <button type="button" class="primary" id="add-target" onClick=${() => setDialog({})}>${t('Add health target')}</button></div>
      <${Table} rows=${d.targets} empty=${t('No health targets yet.')} columns=${[
        { label: t('Name'), cell: h => html`<strong>${h.display_title || h.name}</strong><div class="muted small">${h.name}</div>` },
        { label: t('Checks'), cell: h => html`<code>${h.target_id}</code> <span class="muted small">${h.type === 'virtual_model' ? t('virtual model') : t('model')}</span>` },
        { label: t('Interval'), class: 'num', cell: h => `${h.check_interval_seconds} s` },
        { label: t('Now'), cell: h => {
          const s = d.live[h.id];
          if (!s) return html`<span class="muted">—</span>`;
          const kind = { ok: 'ok', degraded: 'warn', down: 'bad' }[s.currentStatus] || '';
          return html`<${Badge} kind=${kind}>${t(s.currentStatus)}<//> <span class="muted small">${t('24 h')}: ${fmt.pct(s.stats24h.availability)} · P50 ${fmt.ms(s.stats24h.p50Latency)}</span>`;
        } },
        { label: t('Enabled'), cell: h => html`<${YesNo} value=${h.enabled} />` },
        { label: '', class: 'row-actions', cell: h => html`
          <button type="button" class="small secondary" onClick=${() => setDialog(h)}>${t('Edit')}</button>
          <${DeleteButton} question=${t('Delete health target {name}? Its history goes with it.', { name: h.name })}
            path=${`/api/admin/health-targets/${h.id}`} done=${state.reload} />` },
      ]} />
      ${dialog ? html`<${Modal} title=${dialog.id ? t('Edit health target') : t('New health target')} onClose=${close}>
        <${TargetForm} target=${dialog} names=${d.names} saved=${() => { close(); state.reload(); }} onCancel=${close} /><//>` : null}`}<//>
  </section>`;
}

function TargetForm({ target, names, saved, onCancel }) {
  const [draft, setDraft] = useState(() => ({ ...target, ...(target.check_config || {}), type: target.type || 'model' }));
  const type = draft.type;
  const all = names[type] || [];
  const fields = [
    { name: 'name', label: t('Name'), required: true },
    { name: 'display_title', label: t('Title on the status page') },
    { name: 'type', label: t('Type'), type: 'select', options: [['model', t('model')], ['virtual_model', t('virtual model')]] },
    { name: 'target_id', label: t('Model name'), type: 'select', options: all.length ? all.map(n => [n, n]) : [['', t('none yet')]] },
    { name: 'check_interval_seconds', label: t('Interval (seconds, 30–86400)'), type: 'number', default: '300' },
    { name: 'check_prompt', label: t('Check prompt'), default: 'Say "OK"', wide: true },
    { name: 'protocol', label: t('Protocol'), type: 'select', options: PROTOCOLS },
    { name: 'timeout_ms', label: t('Timeout (ms)'), type: 'number' },
    { name: 'max_tokens', label: t('Max tokens'), type: 'number' },
    { name: 'enabled', label: t('Enabled'), type: 'checkbox', default: true },
  ];
  const submit = async v => {
    const { protocol, timeout_ms, max_tokens, ...rest } = v;
    const body = { ...rest, check_config: Object.fromEntries(Object.entries({ protocol, timeout_ms, max_tokens }).filter(([, x]) => x !== null)) };
    if (target.id) await patch(`/api/admin/health-targets/${target.id}`, body); else await post('/api/admin/health-targets', body);
    toast(t('Saved')); saved();
  };
  // Switching the type re-lists the names to pick from (the other fields keep what was typed).
  return html`<${Form} key=${type} fields=${fields} initial=${draft} submit=${submit} onCancel=${onCancel}
    onChange=${v => v.type !== type && setDraft({ ...v, target_id: '' })} />`;
}
