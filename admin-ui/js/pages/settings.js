// Settings: log retention, the signed-in user's password, and the admin users.
import { html, useLoad, Loaded, Table, Form, DeleteButton, toast, fmt } from '../ui.js';
import { get, post, patch, session, setSession, gatewayUrl } from '../api.js';
import { t } from '../i18n.js';

export function Settings() {
  const settings = useLoad(() => get('/api/admin/settings'));
  const users = useLoad(async () => (await get('/api/admin/users')).data);
  const me = session()?.user;
  return html`<section>
    <div class="page-head"><h1>${t('Settings')}</h1></div>
    <div class="panels">
      <div class="panel"><h2>${t('Request logs')}</h2>
        <${Loaded} state=${settings}>${s => html`
          <${Form} fields=${[{ name: 'log_retention_days', label: t('Keep request logs for (days)'), type: 'number', help: t('Daily rollups are kept forever.') }]}
            initial=${s} submit=${async v => { await patch('/api/admin/settings', v); toast(t('Saved')); settings.reload(); }} />
          <p class="muted small">${t('Last maintenance')}: ${fmt.time(s.last_maintenance_at)}</p>`}<//>
      </div>
      <div class="panel"><h2>${t('Change password')}</h2>
        <${Form} fields=${[
          { name: 'current_password', label: t('Current password'), type: 'password', autocomplete: 'current-password' },
          { name: 'new_password', label: t('New password'), type: 'password', autocomplete: 'new-password' },
        ]} submitLabel=${t('Change password')} submit=${async v => {
          // Every other session of this user ends; this one continues with the token returned.
          const r = await post('/api/auth/password', { current_password: v.current_password || '', new_password: v.new_password || '' });
          setSession(r.token, r.user);
          toast(t('Password changed'));
        }} />
        <p class="muted small">${t('Changing the password ends every other session of this user.')}</p>
      </div>
      <div class="panel wide"><h2>${t('Admin users')}</h2>
        <${Loaded} state=${users}>${list => html`<${Table} rows=${list} columns=${[
          { label: t('Username'), cell: u => html`<strong>${u.username}</strong>${u.id === me?.id ? html` <span class="muted small">(${t('you')})</span>` : null}` },
          { label: t('Created'), cell: u => fmt.time(u.created_at) },
          { label: '', class: 'row-actions', cell: u => (u.id === me?.id ? null : html`<${DeleteButton} question=${t('Delete user {name}?', { name: u.username })} path=${`/api/admin/users/${u.id}`} done=${users.reload} />`) },
        ]} />`}<//>
        <h3>${t('Add a user')}</h3>
        <${Form} key=${users.data?.length} fields=${[
          { name: 'username', label: t('Username'), required: true },
          { name: 'password', label: t('Password'), type: 'password', required: true, autocomplete: 'new-password' },
        ]} submitLabel=${t('Add user')} submit=${async v => { await post('/api/admin/users', v); toast(t('User added')); users.reload(); }} />
      </div>
      <div class="panel"><h2>${t('This admin UI')}</h2>
        <p class="small">${t('Gateway')}: <code>${gatewayUrl() || location.origin}</code></p>
        <p class="muted small">${t('To run the UI on another host, set gateway_url in config.json and list that origin in the gateway\'s ADMIN_CORS_ORIGINS.')}</p>
      </div>
    </div>
  </section>`;
}
