// The public status page: a card per health target from /public/health/summary, refreshed every
// minute; a click shows the target's last 24 hours of checks. English or Chinese (the admin UI's
// choice, else the browser's language), switchable in the header.
const ZH = {
  'Model status': '模型状态', 'Loading…': '加载中…', 'Time (UTC)': '时间（UTC）', 'Status': '状态', 'Latency': '延迟',
  'TTFT': '首 Token', 'Error': '错误', 'Refreshes every minute. Click a model for its last 24 hours of checks.':
    '每分钟刷新。点击模型查看最近 24 小时的检查记录。',
  '1 h availability': '1 小时可用率', '24 h availability': '24 小时可用率', 'P50 (24 h)': 'P50（24 小时）', 'P95 (24 h)': 'P95（24 小时）',
  'Errors: ': '错误：', '{name}: last 24 hours': '{name}：最近 24 小时', 'Status unavailable: ': '状态不可用：',
  '{healthy} of {active} models healthy, 24 h availability {availability}.': '{active} 个模型中 {healthy} 个健康，24 小时可用率 {availability}。',
  ok: '正常', degraded: '降级', down: '故障', unknown: '未知', success: '成功',
};
let lang = localStorage.getItem('gw.lang') || (navigator.language.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en');
const tr = (text, vars) => ((lang === 'zh-CN' && ZH[text]) || text).replace(/\{(\w+)\}/g, (m, k) => (vars && k in vars ? vars[k] : m));
function translateStatic() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = tr(node.dataset.i18n);
  document.title = tr('Model status');
}
const ms = v => v == null ? '–' : v + ' ms';
const pct = v => v == null ? '–' : v + ' %';
const el = (tag, props, ...children) => {
  const node = Object.assign(document.createElement(tag), props || {});
  node.append(...children);
  return node;
};
async function getJson(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error && body.error.message || ('HTTP ' + r.status));
  return body;
}
function card(t) {
  const stats = [[tr('1 h availability'), pct(t.stats1h.availability)], [tr('24 h availability'), pct(t.stats24h.availability)],
    [tr('P50 (24 h)'), ms(t.stats24h.p50Latency)], [tr('P95 (24 h)'), ms(t.stats24h.p95Latency)]];
  const dl = el('dl');
  for (const [k, v] of stats) dl.append(el('dt', { textContent: k }), el('dd', { textContent: v }));
  const timeline = el('div', { className: 'timeline' });
  const errorTypes = new Set();
  for (const run of t.healthHistory.slice(0, 50).reverse()) {
    if (run.status !== 'success') errorTypes.add(run.errorType || run.status);
    timeline.append(el('span', { className: run.status === 'success' ? 's' : 'e',
      title: new Date(run.timestamp).toISOString() + ' ' + run.status + (run.errorMessage ? ': ' + run.errorMessage : '') }));
  }
  const node = el('article', { className: 'card ' + t.currentStatus },
    el('h2', {}, el('span', { className: 'name', textContent: t.displayTitle }), el('span', { className: 'badge', textContent: tr(t.currentStatus) })),
    dl, timeline);
  if (errorTypes.size) node.append(el('div', { className: 'errors', textContent: tr('Errors: ') + [...errorTypes].join(', ') }));
  node.dataset.target = t.targetId;
  node.addEventListener('click', () => detail(t));
  return node;
}
async function detail(t) {
  const section = document.getElementById('detail');
  document.getElementById('detail-title').textContent = tr('{name}: last 24 hours', { name: t.displayTitle });
  const body = await getJson('/public/health/runs?window=24h&page_size=100&target_id=' + encodeURIComponent(t.targetId));
  document.getElementById('runs').replaceChildren(...body.runs.map(r => el('tr', {},
    el('td', { textContent: new Date(r.timestamp).toISOString().replace('T', ' ').slice(0, 19) }),
    el('td', { textContent: tr(r.status) }), el('td', { textContent: ms(r.latencyMs) }), el('td', { textContent: ms(r.ttftMs) }),
    el('td', { textContent: r.errorType ? r.errorType + (r.errorMessage ? ': ' + r.errorMessage : '') : '' }))));
  section.hidden = false;
}
async function load() {
  const global = document.getElementById('global');
  try {
    const body = await getJson('/public/health/summary');
    const g = body.global;
    global.textContent = tr('{healthy} of {active} models healthy, 24 h availability {availability}.',
      { healthy: g.healthyTargets, active: g.activeTargets, availability: pct(g.overall24hAvailability) });
    document.getElementById('cards').replaceChildren(...body.targets.map(card));
  } catch (e) {
    global.textContent = tr('Status unavailable: ') + e.message;
  }
}
const picker = document.getElementById('lang');
picker.value = lang;
picker.addEventListener('change', () => { lang = picker.value; localStorage.setItem('gw.lang', lang); translateStatic(); load(); });
translateStatic();
load();
setInterval(load, 60000);
