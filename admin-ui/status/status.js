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
  const stats = [['1 h availability', pct(t.stats1h.availability)], ['24 h availability', pct(t.stats24h.availability)],
    ['P50 (24 h)', ms(t.stats24h.p50Latency)], ['P95 (24 h)', ms(t.stats24h.p95Latency)]];
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
    el('h2', {}, el('span', { className: 'name', textContent: t.displayTitle }), el('span', { className: 'badge', textContent: t.currentStatus })),
    dl, timeline);
  if (errorTypes.size) node.append(el('div', { className: 'errors', textContent: 'Errors: ' + [...errorTypes].join(', ') }));
  node.dataset.target = t.targetId;
  node.addEventListener('click', () => detail(t));
  return node;
}
async function detail(t) {
  const section = document.getElementById('detail');
  document.getElementById('detail-title').textContent = t.displayTitle + ': last 24 hours';
  const body = await getJson('/public/health/runs?window=24h&page_size=100&target_id=' + encodeURIComponent(t.targetId));
  document.getElementById('runs').replaceChildren(...body.runs.map(r => el('tr', {},
    el('td', { textContent: new Date(r.timestamp).toISOString().replace('T', ' ').slice(0, 19) }),
    el('td', { textContent: r.status }), el('td', { textContent: ms(r.latencyMs) }), el('td', { textContent: ms(r.ttftMs) }),
    el('td', { textContent: r.errorType ? r.errorType + (r.errorMessage ? ': ' + r.errorMessage : '') : '' }))));
  section.hidden = false;
}
async function load() {
  const global = document.getElementById('global');
  try {
    const body = await getJson('/public/health/summary');
    const g = body.global;
    global.textContent = g.healthyTargets + ' of ' + g.activeTargets + ' models healthy, 24 h availability ' +
      pct(g.overall24hAvailability) + '.';
    document.getElementById('cards').replaceChildren(...body.targets.map(card));
  } catch (e) {
    global.textContent = 'Status unavailable: ' + e.message;
  }
}
load();
setInterval(load, 60000);
