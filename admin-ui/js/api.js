// The admin API client: where the gateway is, the session token, and errors as values the pages can
// show in place ({status, code, message, field}).

const TOKEN = 'gw.token';
const USER = 'gw.user';
const BASE = 'gw.base';

let base = '';
let onExpired = () => {};

/** Reads `config.json` (deployments of the UI alone point `gateway_url` at the gateway); a URL saved
 * on the login page wins. Empty means the gateway serving this page. */
export async function configure() {
  let configured = '';
  try {
    const r = await fetch(new URL('config.json', document.baseURI), { cache: 'no-store' });
    if (r.ok) configured = (await r.json()).gateway_url || '';
  } catch { /* no config file: same origin */ }
  base = (localStorage.getItem(BASE) || configured).replace(/\/+$/, '');
}

export const gatewayUrl = () => base;
export function setGatewayUrl(url) {
  base = (url || '').trim().replace(/\/+$/, '');
  if (base) localStorage.setItem(BASE, base); else localStorage.removeItem(BASE);
}
/** Absolute URL of a gateway path (for links such as /status and /api/openapi.json). */
export const gatewayHref = path => (base || '') + path;

export const session = () => {
  const token = localStorage.getItem(TOKEN);
  if (!token) return null;
  try { return { token, user: JSON.parse(localStorage.getItem(USER) || 'null') }; } catch { return { token, user: null }; }
};
export function setSession(token, user) {
  if (token) { localStorage.setItem(TOKEN, token); localStorage.setItem(USER, JSON.stringify(user || null)); }
  else { localStorage.removeItem(TOKEN); localStorage.removeItem(USER); }
}
export const whenExpired = fn => { onExpired = fn; };

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status; this.code = code; this.field = field;
  }
}

/** One admin API call; resolves to the parsed body (null for 204), rejects with an ApiError.
 * `anonymous` leaves the session out (the public status API: no preflight from other origins). */
export async function api(method, path, body, { anonymous = false } = {}) {
  const headers = { accept: 'application/json' };
  const s = anonymous ? null : session();
  if (s) headers.authorization = `Bearer ${s.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let r;
  try {
    // no-store: an admin always sees the current state (the public status API is cacheable for
    // 15 s, and a cached copy would also be what the status page then shows).
    r = await fetch(base + path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'network', `The gateway at ${base || location.origin} cannot be reached (${e.message}).`);
  }
  // The gateway renews a session that is past half its life on any admin call.
  const renewed = r.headers.get('x-session-token');
  if (renewed && s) setSession(renewed, s.user);
  const text = await r.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch { data = null; } }
  if (!r.ok) {
    const err = data && data.error ? data.error : {};
    if (r.status === 401 && path !== '/api/auth/login') { setSession(null); onExpired(); }
    throw new ApiError(r.status, err.code || err.type || `http_${r.status}`,
      err.message || (typeof data?.error === 'string' ? data.error : `${r.status} ${r.statusText}`), err.field || err.param);
  }
  return data;
}

export const get = path => api('GET', path);
export const getPublic = path => api('GET', path, undefined, { anonymous: true });
export const post = (path, body) => api('POST', path, body ?? {});
export const patch = (path, body) => api('PATCH', path, body);
export const del = path => api('DELETE', path);

/** A query string from an object, leaving out empty values. */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
