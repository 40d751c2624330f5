// Shared building blocks of the admin pages: htm bound to preact, data loading with loading and
// error states, forms whose API errors land next to the field they name, tables, dialogs, charts.
import { h, render } from '../vendor/preact.js';
import { useState, useEffect, useRef, useCallback } from '../vendor/hooks.js';
import htm from '../vendor/htm.js';
import uPlot from '../vendor/uplot.js';
import { t } from './i18n.js';
import { del } from './api.js';

export const html = htm.bind(h);
export { render, useState, useEffect, useRef, useCallback };

// ---- formatting -------------------------------------------------------------------------------
export const fmt = {
  num: n => (n === null || n === undefined ? '—' : Number(n).toLocaleString()),
  usd: n => (n === null || n === undefined ? '—' : `$${Number(n) < 0.01 && Number(n) > 0 ? Number(n).toPrecision(3) : Number(n).toFixed(2)}`),
  ms: n => (n === null || n === undefined ? '—' : n >= 10000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`),
  pct: n => (n === null || n === undefined ? '—' : `${Number(n).toFixed(2)} %`),
  time: ms => (ms ? new Date(ms).toLocaleString() : '—'),
  /** Price per token shown per million tokens, as people quote them. */
  perM: p => (p === null || p === undefined ? '—' : `$${+(p * 1e6).toPrecision(6)}`),
};

// ---- data loading -----------------------------------------------------------------------------
/** Runs `load` when `deps` change: `{data, error, loading, reload}`. */
export function useLoad(load, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const seq = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++seq.current;
    setState(s => ({ ...s, loading: true, error: null }));
    try {
      const data = await load();
      if (mine === seq.current) setState({ data, error: null, loading: false });
    } catch (error) {
      if (mine === seq.current) setState(s => ({ ...s, error, loading: false }));
    }
  }, deps);
  useEffect(() => { reload(); }, [reload]);
  return { ...state, reload };
}

/** Loading spinner, an error box or the content. */
export function Loaded({ state, children }) {
  if (state.error && !state.data) return html`<${ErrorBox} error=${state.error} retry=${state.reload} />`;
  if (!state.data) return html`<${Spinner} />`;
  return html`${state.error ? html`<${ErrorBox} error=${state.error} retry=${state.reload} />` : null}${children(state.data)}`;
}

export const Spinner = ({ label }) => html`<div class="loading" role="status"><span class="spin"></span>${label || t('Loading…')}</div>`;

export function ErrorBox({ error, retry }) {
  if (!error) return null;
  return html`<div class="error-box" role="alert">
    <strong>${error.code && error.code !== 'network' ? `${error.code}: ` : ''}</strong>${error.message}
    ${retry ? html` <button type="button" class="link" onClick=${retry}>${t('Retry')}</button>` : null}
  </div>`;
}

// ---- toasts -----------------------------------------------------------------------------------
let pushToast = () => {};
export const toast = (text, kind = 'ok') => pushToast({ text, kind, id: Math.random() });
export function Toasts() {
  const [items, setItems] = useState([]);
  pushToast = item => {
    setItems(list => [...list, item]);
    setTimeout(() => setItems(list => list.filter(i => i !== item)), 3500);
  };
  return html`<div class="toasts" aria-live="polite">${items.map(i => html`<div class=${`toast ${i.kind}`} key=${i.id}>${i.text}</div>`)}</div>`;
}

// ---- buttons, badges, dialogs -----------------------------------------------------------------
/** A button that shows a spinner while its async `onClick` runs and reports a thrown error. */
export function AsyncButton({ onClick, children, class: cls = '', disabled, onError, ...rest }) {
  const [busy, setBusy] = useState(false);
  const click = async e => {
    e.preventDefault();
    setBusy(true);
    try { await onClick(e); } catch (err) { onError ? onError(err) : toast(err.message, 'bad'); } finally { setBusy(false); }
  };
  return html`<button type="button" class=${cls} disabled=${busy || disabled} aria-busy=${busy} onClick=${click} ...${rest}>
    ${busy ? html`<span class="spin small"></span>` : null}${children}</button>`;
}

export const Badge = ({ kind, children }) => html`<span class=${`badge ${kind || ''}`}>${children}</span>`;
export const YesNo = ({ value }) => (value ? html`<${Badge} kind="ok">${t('yes')}<//>` : html`<${Badge}>${t('no')}<//>`);

/** An on/off switch; a click runs `onToggle`. */
export const Switch = ({ on, onToggle, id }) => html`<button type="button" id=${id} class=${`switch ${on ? 'on' : ''}`}
  role="switch" aria-checked=${!!on} onClick=${onToggle}><span></span></button>`;

/** A row's Delete button: asks `question`, deletes `path`, then calls `done`. */
export const DeleteButton = ({ question, path, done }) => html`<${AsyncButton} class="small danger" onClick=${async () => {
  if (!confirm(question)) return;
  await del(path);
  toast(t('Deleted'));
  done();
}}>${t('Delete')}<//>`;

export function Modal({ title, onClose, children, wide }) {
  const box = useRef(null);
  useEffect(() => {
    const esc = e => e.key === 'Escape' && onClose();
    addEventListener('keydown', esc);
    return () => removeEventListener('keydown', esc);
  }, [onClose]);
  // Focus goes into the dialog (its first field), and back where it was when the dialog closes.
  useEffect(() => {
    const before = document.activeElement;
    box.current?.querySelector('input:not([disabled]), select, textarea, button.primary')?.focus();
    return () => before?.focus?.();
  }, []);
  return html`<div class="overlay" onClick=${e => e.target === e.currentTarget && onClose()}>
    <div class=${`modal ${wide ? 'wide' : ''}`} role="dialog" aria-modal="true" aria-label=${title} ref=${box}>
      <header><h2>${title}</h2><button type="button" class="icon" aria-label=${t('Close')} onClick=${onClose}>×</button></header>
      <div class="modal-body">${children}</div>
    </div></div>`;
}

export function CopyButton({ text }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try { await navigator.clipboard.writeText(text); } catch {
      const area = document.createElement('textarea');
      area.value = text; document.body.append(area); area.select(); document.execCommand('copy'); area.remove();
    }
    setDone(true); setTimeout(() => setDone(false), 1500);
  };
  return html`<button type="button" class="copy" onClick=${copy}>${done ? t('Copied') : t('Copy')}</button>`;
}

/** A usage bar: `used` of `limit` (no bar without a limit). */
export function Meter({ used, limit, format = fmt.num }) {
  if (limit === null || limit === undefined) return html`<span class="muted">${format(used || 0)} · ${t('no limit')}</span>`;
  const share = Math.min(1, (used || 0) / (limit || 1));
  return html`<span class="meter" title=${`${format(used || 0)} / ${format(limit)}`}>
    <span class=${`bar ${share >= 1 ? 'full' : share > 0.8 ? 'high' : ''}`}><span ref=${el => el && (el.style.width = `${share * 100}%`)}></span></span>
    <span class="meter-text">${format(used || 0)} / ${format(limit)}</span></span>`;
}

// ---- tables -----------------------------------------------------------------------------------
/** A table that scrolls sideways on narrow screens; `columns` = [{label, cell: row => …}]. */
export function Table({ columns, rows, empty, onRow, rowKey = r => r.id }) {
  if (!rows.length) return html`<p class="empty">${empty || t('Nothing here yet.')}</p>`;
  return html`<div class="table-wrap"><table>
    <thead><tr>${columns.map(c => html`<th class=${c.class || ''}>${c.label}</th>`)}</tr></thead>
    <tbody>${rows.map(r => html`<tr key=${rowKey(r)} class=${onRow ? 'clickable' : ''} onClick=${onRow ? () => onRow(r) : undefined}>
      ${columns.map(c => html`<td class=${c.class || ''} data-label=${c.label}><div class="cell">${c.cell(r)}</div></td>`)}</tr>`)}</tbody>
  </table></div>`;
}

// ---- forms ------------------------------------------------------------------------------------
/**
 * A form built from a field list. Each field: {name, label, type: text|password|number|select|
 * checkbox|textarea|list|json, options: [[value, label]], help, required, placeholder}. `list` edits an
 * array as comma/newline separated text; `json` an object as JSON text. The API's error lands under the
 * field it names (`field`), else above the buttons.
 */
export function Form({ fields, initial = {}, submit, submitLabel, onCancel, children, onChange }) {
  const [values, setValues] = useState(() => toText(fields, initial));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (name, value) => { const next = { ...values, [name]: value }; setValues(next); if (onChange) onChange(next); };
  const send = async e => {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      await submit(fromText(fields, values), values);
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  const fieldError = name => error && error.field && (error.field === name || error.field.startsWith(`${name}.`) || error.field.startsWith(`${name}[`)) ? error : null;
  const placed = error && error.field && fields.some(f => fieldError(f.name));
  return html`<form class="form" onSubmit=${send} novalidate>
    <div class="grid">${fields.map(f => html`<${Field} key=${f.name} f=${f} value=${values[f.name]} set=${v => set(f.name, v)} error=${fieldError(f.name)} />`)}</div>
    ${children ? children(values, set) : null}
    ${error && !placed ? html`<${ErrorBox} error=${error} />` : null}
    <div class="actions">
      ${onCancel ? html`<button type="button" class="secondary" onClick=${onCancel}>${t('Cancel')}</button>` : null}
      <button type="submit" class="primary" disabled=${busy} aria-busy=${busy}>${busy ? html`<span class="spin small"></span>` : null}${submitLabel || t('Save')}</button>
    </div>
  </form>`;
}

function Field({ f, value, set, error }) {
  const id = `f-${f.name}`;
  const common = { id, name: f.name, 'aria-invalid': error ? 'true' : undefined, placeholder: f.placeholder || '', required: f.required, disabled: f.readOnly };
  let input;
  if (f.type === 'checkbox') {
    return html`<label class=${`check ${f.wide ? 'wide' : ''}`}><input type="checkbox" ...${common} checked=${!!value} onChange=${e => set(e.target.checked)} /> ${f.label}
      ${f.help ? html`<small>${f.help}</small>` : null}${error ? html`<span class="field-error">${error.message}</span>` : null}</label>`;
  }
  if (f.type === 'select') {
    input = html`<select ...${common} value=${value} onChange=${e => set(e.target.value)}>${f.options.map(([v, l]) => html`<option value=${v} selected=${v === value}>${l}</option>`)}</select>`;
  } else if (f.type === 'textarea' || f.type === 'json' || f.type === 'list') {
    input = html`<textarea ...${common} rows=${f.rows || 3} value=${value} onInput=${e => set(e.target.value)}></textarea>`;
  } else {
    input = html`<input ...${common} type=${f.type === 'number' ? 'text' : f.type || 'text'} inputmode=${f.type === 'number' ? 'decimal' : undefined}
      autocomplete=${f.autocomplete || 'off'} value=${value} onInput=${e => set(e.target.value)} />`;
  }
  return html`<label class=${`field ${f.wide ? 'wide' : ''}`} for=${id}><span>${f.label}${f.required ? ' *' : ''}</span>${input}
    ${f.help ? html`<small>${f.help}</small>` : null}${error ? html`<span class="field-error">${error.message}</span>` : null}</label>`;
}

function toText(fields, initial) {
  const out = {};
  for (const f of fields) {
    const v = initial[f.name];
    if (f.type === 'checkbox') out[f.name] = v ?? f.default ?? false;
    else if (f.type === 'list') out[f.name] = Array.isArray(v) ? v.join(', ') : '';
    else if (f.type === 'json') out[f.name] = v && Object.keys(v).length ? JSON.stringify(v, null, 2) : '';
    else if (f.type === 'select') {
      // A value the options do not offer (none yet, or another type's) shows as what is picked.
      const offered = f.options.map(o => o[0]);
      out[f.name] = offered.includes(v) ? v : (f.default ?? offered[0]);
    }
    else out[f.name] = v === null || v === undefined ? (f.default ?? '') : String(v);
  }
  return out;
}

/** Field values as the API wants them: numbers, arrays, objects; empty optional fields as null. */
function fromText(fields, values) {
  const out = {};
  for (const f of fields) {
    if (f.readOnly) continue;
    const v = values[f.name];
    if (f.type === 'checkbox') out[f.name] = !!v;
    else if (f.type === 'number') {
      const s = String(v).trim();
      if (!s) { out[f.name] = null; continue; }
      const n = Number(s);
      if (!Number.isFinite(n)) throw Object.assign(new Error(t('Enter a number')), { field: f.name });
      out[f.name] = f.scale ? n / f.scale : n;
    } else if (f.type === 'list') {
      const items = String(v).split(/[\n,]/).map(s => s.trim()).filter(Boolean);
      out[f.name] = items.length ? items : f.emptyAsList ? [] : null;
    } else if (f.type === 'json') {
      if (!String(v).trim()) { out[f.name] = f.emptyJson ?? {}; continue; }
      try { out[f.name] = JSON.parse(v); } catch (e) { throw Object.assign(new Error(`${t('Invalid JSON')}: ${e.message}`), { field: f.name }); }
    } else if (f.type === 'select') out[f.name] = v === '' ? null : v;
    else {
      const s = String(v).trim();
      out[f.name] = s === '' ? (f.emptyAs !== undefined ? f.emptyAs : null) : s;
    }
  }
  return out;
}

// ---- charts -----------------------------------------------------------------------------------
const PALETTE = ['#3563e9', '#12a37f', '#e4a11b', '#d92d20', '#8e44ad', '#0ea5e9', '#f97316', '#64748b'];

/** A uPlot time-series chart that follows its container's width. `x` in seconds; `series` =
 * [{label, values, bars}]. */
export function Chart({ x, series, height = 220, format, axis = format }) {
  const box = useRef(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const opts = {
      width: Math.max(240, el.clientWidth), height,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [{ stroke: '#6b7280', grid: { stroke: '#eef0f3' } },
        { stroke: '#6b7280', grid: { stroke: '#eef0f3' }, size: 64, values: axis ? (u, ticks) => ticks.map(axis) : undefined }],
      series: [{}, ...series.map((s, i) => ({
        label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2,
        fill: series.length === 1 ? `${PALETTE[i % PALETTE.length]}22` : undefined,
        value: format ? (u, v) => (v === null ? '—' : format(v)) : undefined,
        paths: s.bars ? uPlot.paths.bars({ size: [0.6, 40] }) : undefined,
        points: { show: x.length < 40 },
      }))],
    };
    const plot = new uPlot(opts, [x, ...series.map(s => s.values)], el);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(240, el.clientWidth), height }));
    ro.observe(el);
    return () => { ro.disconnect(); plot.destroy(); };
  }, [x, series, height]);
  return html`<div class="chart" ref=${box}></div>`;
}

/** Horizontal bars for a breakdown (per model, per key): [{label, value}]. */
export function Bars({ items, format = fmt.num }) {
  if (!items.length) return html`<p class="empty">${t('No data in this window.')}</p>`;
  const max = Math.max(...items.map(i => i.value), 1);
  return html`<ul class="hbars">${items.map((i, n) => html`<li key=${i.label}>
    <span class="hbar-label" title=${i.label}>${i.href ? html`<a href=${i.href}>${i.label}</a>` : i.label}</span>
    <span class="hbar"><span ref=${el => el && (el.style.width = `${(i.value / max) * 100}%`, el.style.background = PALETTE[n % PALETTE.length])}></span></span>
    <span class="hbar-value">${format(i.value)}</span></li>`)}</ul>`;
}
