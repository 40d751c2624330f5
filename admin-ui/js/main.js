// The admin app's shell: configuration, login, the navigation and a hash router (#/providers …), so
// the same files work served by the gateway at / or from any static host.
import { html, render, useState, useEffect, Toasts, ErrorBox } from './ui.js';
import { configure, session, setSession, whenExpired, post, gatewayUrl, setGatewayUrl, gatewayHref } from './api.js';
import { t, LANGS, currentLang, setLang, onLang } from './i18n.js';
import { Dashboard } from './pages/dashboard.js';
import { Providers } from './pages/providers.js';
import { Models } from './pages/models.js';
import { VirtualModels } from './pages/virtual-models.js';
import { Keys } from './pages/keys.js';
import { Logs } from './pages/logs.js';
import { Health } from './pages/health.js';
import { Settings } from './pages/settings.js';

const PAGES = [
  ['dashboard', 'Dashboard', Dashboard],
  ['providers', 'Providers', Providers],
  ['models', 'Models', Models],
  ['virtual-models', 'Virtual models', VirtualModels],
  ['keys', 'Virtual keys', Keys],
  ['logs', 'Request logs', Logs],
  ['health', 'Health monitoring', Health],
  ['settings', 'Settings', Settings],
];

/** The route: `#/page?query` → {page, params}. */
function route() {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const page = PAGES.some(p => p[0] === path) ? path : 'dashboard';
  return { page, params: Object.fromEntries(new URLSearchParams(query)) };
}

function LangSwitch() {
  return html`<select class="lang" aria-label="Language / 语言" value=${currentLang()} onChange=${e => setLang(e.target.value)}>
    ${LANGS.map(([v, l]) => html`<option value=${v} selected=${v === currentLang()}>${l}</option>`)}</select>`;
}

function Login({ done }) {
  const [username, setUsername] = useState('admin');
  const [password, setPassword] = useState('');
  const [url, setUrl] = useState(gatewayUrl());
  const [showUrl, setShowUrl] = useState(!!gatewayUrl());
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async e => {
    e.preventDefault();
    setBusy(true); setError(null);
    setGatewayUrl(url);
    try {
      const r = await post('/api/auth/login', { username, password });
      setSession(r.token, r.user);
      done();
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  return html`<main class="login">
    <form class="card login-card" onSubmit=${submit}>
      <div class="brand big"><span class="logo">◆</span> LLM Gateway</div>
      <h1>${t('Sign in')}</h1>
      <label class="field"><span>${t('Username')}</span><input id="username" autocomplete="username" value=${username} onInput=${e => setUsername(e.target.value)} /></label>
      <label class="field"><span>${t('Password')}</span><input id="password" type="password" autocomplete="current-password" value=${password} onInput=${e => setPassword(e.target.value)} /></label>
      ${showUrl ? html`<label class="field"><span>${t('Gateway URL')}</span><input id="gateway-url" placeholder="https://gateway.example.com" value=${url} onInput=${e => setUrl(e.target.value)} />
        <small>${t('Empty: the gateway serving this page. Elsewhere, the gateway must list this origin in ADMIN_CORS_ORIGINS.')}</small></label>`
        : html`<button type="button" class="link" onClick=${() => setShowUrl(true)}>${t('Use another gateway…')}</button>`}
      <${ErrorBox} error=${error} />
      <button class="primary wide" type="submit" disabled=${busy} aria-busy=${busy}>${busy ? html`<span class="spin small"></span>` : null}${t('Sign in')}</button>
      <div class="login-foot"><${LangSwitch} /><a href=${gatewayHref('/status')}>${t('Public status page')}</a></div>
    </form>
  </main>`;
}

function Shell({ logout }) {
  const [r, setRoute] = useState(route());
  const [menu, setMenu] = useState(false);
  useEffect(() => {
    const on = () => { setRoute(route()); setMenu(false); window.scrollTo(0, 0); };
    addEventListener('hashchange', on);
    // The hash may have changed between the first render and this effect (effects run after paint).
    setRoute(route());
    return () => removeEventListener('hashchange', on);
  }, []);
  const current = PAGES.find(p => p[0] === r.page);
  const Page = current[2];
  const user = session()?.user;
  return html`<div class=${`shell ${menu ? 'menu-open' : ''}`}>
    <header class="topbar">
      <button type="button" class="icon menu-toggle" aria-label=${t('Menu')} aria-expanded=${menu} onClick=${() => setMenu(!menu)}>☰</button>
      <a class="brand" href="#/dashboard"><span class="logo">◆</span> LLM Gateway</a>
      <div class="spacer"></div>
      <${LangSwitch} />
      <span class="user muted">${user?.username || ''}</span>
      <button type="button" class="secondary small" id="logout" onClick=${logout}>${t('Log out')}</button>
    </header>
    <nav class="sidebar" aria-label=${t('Main')}>
      ${PAGES.map(([id, label]) => html`<a href=${`#/${id}`} data-page=${id} class=${id === r.page ? 'active' : ''}>${t(label)}</a>`)}
      <a href=${gatewayHref('/status')} target="_blank" rel="noopener">${t('Status page')} ↗</a>
      <a href=${gatewayHref('/api/openapi.json')} target="_blank" rel="noopener">${t('API reference')} ↗</a>
    </nav>
    <main class="content" id="page" data-page=${r.page}>
      <${Page} key=${r.page} params=${r.params} />
    </main>
  </div>`;
}

function App() {
  const [, setLangState] = useState(currentLang());
  const [signedIn, setSignedIn] = useState(!!session());
  useEffect(() => onLang(setLangState), []);
  useEffect(() => { whenExpired(() => setSignedIn(false)); }, []);
  const logout = async () => {
    try { await post('/api/auth/logout'); } catch { /* the token is dropped either way */ }
    setSession(null); setSignedIn(false);
  };
  // Re-render everything on a language switch: the key changes with the language.
  return html`<div key=${currentLang()}>
    ${signedIn ? html`<${Shell} logout=${logout} />` : html`<${Login} done=${() => setSignedIn(true)} />`}
    <${Toasts} />
  </div>`;
}

await configure();
render(html`<${App} />`, document.getElementById('app'));
