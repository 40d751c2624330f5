// Drives the admin UI in headless chromium the way an admin would, against a real gateway and the
// mock upstream, and fails (exit 1) on the first thing that does not work. Prints a JSON summary
// for the Rust test to cross-check through the admin API; saves a screenshot of every page.
// Usage: node admin-ui.mjs GATEWAY_URL MOCK_URL ADMIN_PASSWORD SCREENSHOT_DIR [STATIC_URL]
// STATIC_URL: the same admin-ui folder served by a plain static server on another origin (the UI
// deployed alone), which must reach the gateway through CORS.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const [base, mock, password, shots, staticUrl] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const summary = { steps: [] };
const check = (ok, what) => { if (!ok) throw new Error(`check failed: ${what}`); };
const step = name => { summary.steps.push(name); console.error(`· ${name}`); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
const page = await context.newPage();
const problems = [];
page.on('pageerror', e => problems.push(`page error: ${e}`));
// Every failed request is a problem, except the wrong password's 401 and the bad key's 400 while
// those steps run (the browser's own console line for them carries no URL, so responses are watched).
let expected = null;
page.on('console', m => {
  if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
});
page.on('response', r => {
  if (r.status() >= 400 && !(expected && expected.test(String(r.status())))) problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
});
page.on('requestfailed', r => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
page.on('dialog', d => d.accept());
page.setDefaultTimeout(15000);
const shot = name => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
const go = async p => { await page.goto(`${base}/#/${p}`); await page.waitForSelector(`#page[data-page="${p}"]`); await page.waitForSelector('#page .loading', { state: 'detached' }); };
const row = text => page.locator('tr', { hasText: text });

try {
  // ---- login: a wrong password is answered in place, the right one opens the dashboard ----------
  step('login');
  await page.goto(`${base}/`);
  await page.fill('#password', 'wrong-password');
  expected = /^401$/;
  await page.click('button[type=submit]');
  const wrong = await page.locator('.error-box').textContent();
  expected = null;
  check(/invalid|password|credentials/i.test(wrong), `wrong password shows the API's error in place: ${wrong}`);
  await shot('01-login');
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('#page[data-page="dashboard"]');
  // A new gateway shows the three steps to a first request.
  await page.waitForSelector('#get-started');
  const todo = await page.locator('#get-started li:not(.done)').count();
  check(todo === 3, `a fresh gateway has 3 steps to go: ${todo}`);
  await shot('01b-get-started');

  // ---- a provider from a preset, pointed at the mock -------------------------------------------
  step('provider from a preset');
  await go('providers');
  await page.click('#add-provider');
  await page.fill('#preset-search', 'openai');
  await page.click('[data-preset="openai"]');
  await page.fill('#f-name', 'Mock vLLM');
  await page.fill('#f-base_url', `${mock}/v1`);
  await page.fill('#f-api_key', 'sk-mock-upstream');
  // A second key the upstream refuses: traffic below disables it, and the provider shows why.
  await page.fill('#f-more_keys', 'sk-mock-revoked');
  await shot('02-provider-form');
  await page.click('.modal button[type=submit]');
  await row('Mock vLLM').waitFor();
  step('test connectivity');
  await row('Mock vLLM').locator('[data-action=test]').click();
  const test = await row('Mock vLLM').locator('.test-result').textContent();
  check(/OK/.test(test) && /3 models/.test(test), `connectivity test: ${test}`);
  await shot('03-providers');

  // ---- fetch the upstream's models and add them in bulk ----------------------------------------
  step('fetch and bulk-add models');
  await row('Mock vLLM').locator('[data-action=models]').click();
  await page.waitForSelector('[data-model="mock-text"]');
  await page.check('#pick-all');
  await shot('04-upstream-models');
  await page.click('#bulk-add');
  const bulk = await page.locator('#bulk-result').textContent();
  check(/3 models added/.test(bulk), `bulk add: ${bulk}`);
  await page.click('.modal header button');

  // ---- catalog search and one-click apply ------------------------------------------------------
  step('catalog search and apply');
  await go('models');
  for (const m of ['mock-text', 'mock-tool', 'mock-parallel']) await row(m).first().waitFor();
  await row('mock-text').locator('[data-action=catalog]').click();
  await page.fill('#catalog-q', 'gpt-4o');
  await page.click('.search-row button[type=submit]');
  await page.waitForSelector('.catalog-name');
  const names = await page.locator('.catalog-name').allTextContents();
  check(names[0] === 'gpt-4o', `exact match ranks first: ${names.join(', ')}`);
  const at = n => names.indexOf(n);
  check(at('gpt-4o-mini') > 0 && at('chatgpt-4o-latest') > at('gpt-4o-mini'), `exact > prefix > substring: ${names.join(', ')}`);
  summary.catalog = names;
  await shot('05-catalog');
  await page.locator('tr', { has: page.locator('.catalog-name', { hasText: /^gpt-4o$/ }) }).first().locator('[data-action=apply]').click();
  await page.waitForSelector('.modal', { state: 'detached' });
  // The list reloads with the applied context window and prices.
  await row('mock-text').filter({ hasText: '128,000' }).waitFor();

  step('edit a model and import a JSON file');
  await row('mock-tool').locator('[data-action=edit]').click();
  await page.fill('#f-input_cost_per_token', '1.5');
  await page.fill('#f-output_cost_per_token', '6');
  await page.click('.modal button[type=submit]');
  await row('mock-tool').filter({ hasText: '$1.5' }).filter({ hasText: '$6' }).waitFor();
  const providerId = await page.evaluate(async () => {
    const r = await fetch('/api/admin/providers', { headers: { authorization: `Bearer ${localStorage.getItem('gw.token')}` } });
    return (await r.json()).data[0].id;
  });
  await page.click('#import-file');
  const file = [{ name: 'imported-model', provider_id: providerId, upstream_model: 'mock-parallel', context_window: 32000 },
    { name: 'mock-text', provider_id: providerId }];
  await page.setInputFiles('#import-json', { name: 'models.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(file)) });
  const imported = await page.locator('#bulk-result').textContent();
  check(/1 models added/.test(imported) && /1 skipped/.test(imported), `JSON import: ${imported}`);
  await page.click('.modal header button');
  await row('imported-model').filter({ hasText: '32,000' }).waitFor();
  // Delete asks first (accepted here), then the row goes.
  await row('mock-parallel').filter({ hasNotText: 'imported-model' }).locator('button.danger').click();
  await page.locator('tr', { hasText: /^mock-parallel/ }).waitFor({ state: 'detached' });
  await shot('06-models');

  // ---- a key: bad input answered in place, then created and shown once -------------------------
  step('create a key and read it once');
  await go('keys');
  await page.click('#add-key');
  await page.fill('#f-name', 'browser-app');
  await page.fill('#f-rpm_limit', '0');
  expected = /^400$/;
  await page.click('.modal button[type=submit]');
  const fieldError = await page.locator('.modal .field-error').textContent();
  expected = null;
  check(/rpm_limit/.test(fieldError), `the API's error shows under its field: ${fieldError}`);
  await page.fill('#f-rpm_limit', '1000');
  // The response cache, keeping sampled answers (the traffic below names no temperature).
  await page.check('[id="f-cache_on"]');
  await page.fill('[id="f-cache.ttl_s"]', '600');
  await page.check('[id="f-cache.sampled"]');
  await page.click('.modal button[type=submit]');
  const key = (await page.locator('#new-key-value').textContent()).trim();
  check(/^sk-gw-[A-Za-z0-9]{32}$/.test(key), `a new key is shown: ${key}`);
  await page.click('#new-key .copy');
  await page.locator('#new-key .copy', { hasText: 'Copied' }).waitFor();
  await shot('07-key-once');
  await page.click('#key-done');
  await row('browser-app').waitFor();
  check(!(await page.content()).includes(key), 'the key is gone from the page once the dialog is closed');
  summary.key = key;

  // ---- a virtual model with two targets and a prompt rule, previewed -----------------------------
  step('virtual model with two targets and a rule');
  await go('virtual-models');
  await page.click('#add-vm');
  await page.fill('#vm-name', 'smart');
  await page.selectOption('#vm-strategy', 'priority');
  await page.fill('[data-target-model="0"]', 'mock-text');
  await page.click('#add-target');
  await page.fill('[data-target-model="1"]', 'mock-tool');
  await page.click('#add-rule');
  await page.selectOption('[data-rule-op="0"]', 'system_prepend');
  await page.fill('[data-rule-template="0"]', 'Answer briefly, {{key_name}}.');
  await page.click('#vm-cache summary');
  await page.check('#vm-cache-on');
  await page.fill('#vm-cache-ttl', '900');
  await page.click('#run-preview');
  const preview = await page.locator('#preview-out').textContent();
  check(preview.includes('Answer briefly, preview.') && preview.includes('Hello!'), `the dry run shows the rewritten request: ${preview}`);
  await shot('08-virtual-model-editor');
  await page.click('#save-vm');
  await row('smart').waitFor();

  // ---- traffic through the gateway with the key read from the UI --------------------------------
  step('traffic');
  const send = async (model, content) => {
    const r = await fetch(`${base}/v1/chat/completions`, { method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content }] }) });
    return r.status;
  };
  const statuses = [];
  // Two questions, each asked twice: the second time the response cache answers.
  for (let i = 0; i < 4; i++) {
    if (i === 2) await new Promise(r => setTimeout(r, 300));
    statuses.push(await send('smart', `hello ${i % 2}`));
  }
  statuses.push(await send('mock-text', 'direct'));
  statuses.push(await send('no-such-model', 'error'));
  summary.traffic = statuses;
  check(statuses.slice(0, 5).every(s => s === 200) && statuses[5] >= 400, `traffic statuses ${statuses}`);
  await go('providers');
  await row('Mock vLLM').locator('[data-credentials] .badge.bad').waitFor();
  await row('Mock vLLM').locator('[data-action=edit]').click();
  const reason = await page.locator('#credentials .disabled-reason').textContent();
  check(/401/.test(reason) && /Incorrect API key/.test(reason), `the refused key shows why: ${reason}`);
  await shot('09b-provider-keys');
  await page.click('.modal header button');
  await go('virtual-models');
  await row('smart').locator('.badge', { hasText: 'closed' }).first().waitFor();
  await shot('09-virtual-models');

  // ---- logs and dashboard --------------------------------------------------------------------
  step('logs');
  await go('logs');
  await page.waitForFunction(() => /^6 requests/.test(document.getElementById('log-total')?.textContent || ''), null, { timeout: 20000 })
    .catch(async () => { await page.reload(); });
  await go('logs');
  const total = await page.locator('#log-total').textContent();
  check(/^6 requests/.test(total), `logs count the traffic: ${total}`);
  await page.selectOption('#filter-key', { label: 'browser-app' });
  await page.fill('#filter-model', 'smart');
  await page.click('#log-filters button[type=submit]');
  await page.locator('#log-total', { hasText: /^4 requests/ }).waitFor();
  await page.locator('tbody tr').first().click();
  const detail = await page.locator('#log-detail').textContent();
  check(detail.includes('smart') && detail.includes('browser-app'), `log detail: ${detail.slice(0, 200)}`);
  await shot('10-log-detail');
  await page.click('.modal header button');
  await shot('11-logs');

  step('dashboard');
  await go('dashboard');
  check(await page.locator('#get-started').count() === 0, 'the steps are gone once done');
  const requests = await page.locator('[data-stat=requests] strong').textContent();
  check(requests === '6', `dashboard counts 6 requests: ${requests}`);
  const byModel = await page.locator('[data-breakdown=model]').textContent();
  check(byModel.includes('smart') && byModel.includes('mock-text'), `per-model chart: ${byModel}`);
  const byKey = await page.locator('[data-breakdown=key]').textContent();
  check(byKey.includes('browser-app'), `per-key chart: ${byKey}`);
  const cacheCard = await page.locator('[data-stat=response-cache] strong').textContent();
  check(cacheCard.startsWith('40'), `response cache: 2 hits of 5 lookups: ${cacheCard}`);
  await page.click('[data-window="7d"]');
  await page.waitForSelector('[data-window="7d"].on');
  await page.waitForSelector('#page .loading', { state: 'detached' });
  await shot('12-dashboard');
  // Narrowed to one model, then from its bar to its requests in the logs.
  await page.fill('#dash-model', 'smart');
  await page.locator('#dash-model').blur();
  await page.locator('[data-stat=requests] strong', { hasText: /^4$/ }).waitFor();
  await page.fill('#dash-model', '');
  await page.locator('#dash-model').blur();
  await page.locator('[data-stat=requests] strong', { hasText: /^6$/ }).waitFor();
  await page.click('[data-breakdown=model] a:text-is("smart")');
  await page.waitForSelector('#page[data-page="logs"]');
  await page.locator('#log-total', { hasText: /^4 requests/ }).waitFor();

  // ---- health targets and monitoring, users and settings ---------------------------------------
  step('health monitoring');
  await go('health');
  if (await page.getAttribute('#monitoring-switch', 'aria-checked') !== 'true') await page.click('#monitoring-switch');
  await page.locator('#monitoring-switch[aria-checked="true"]').waitFor();
  await page.click('#add-target');
  await page.fill('#f-name', 'text-probe');
  await page.fill('#f-display_title', 'Mock text model');
  await page.selectOption('#f-target_id', 'mock-text');
  await page.click('.modal button[type=submit]');
  await row('Mock text model').filter({ hasText: 'unknown' }).waitFor(); // no check has run yet
  await shot('13-health');
  step('settings');
  await go('settings');
  await page.locator('td', { hasText: 'admin' }).first().waitFor();
  await shot('14-settings');

  // ---- Chinese ----------------------------------------------------------------------------------
  step('switch to Chinese');
  await page.selectOption('.topbar .lang', 'zh-CN');
  await page.locator('.sidebar a[data-page="dashboard"]', { hasText: '仪表盘' }).waitFor();
  await go('dashboard');
  const zh = await page.locator('#page h1').textContent();
  check(zh === '仪表盘', `dashboard title in Chinese: ${zh}`);
  check(await page.evaluate(() => document.documentElement.lang) === 'zh-CN', 'html lang follows');
  await shot('15-dashboard-zh');
  await go('keys');
  await shot('16-keys-zh');
  await page.selectOption('.topbar .lang', 'en');

  // ---- on a phone ------------------------------------------------------------------------------
  step('phone');
  await page.setViewportSize({ width: 390, height: 844 });
  await go('models');
  check(await page.locator('.sidebar').isHidden(), 'the menu is folded on a phone');
  await page.click('.menu-toggle');
  await page.locator('.sidebar a[data-page="keys"]').click();
  await page.waitForSelector('#page[data-page="keys"]');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 390, `no sideways scrolling of the page on a phone (scrollWidth ${width})`);
  await shot('17-keys-phone');
  await page.setViewportSize({ width: 1280, height: 900 });

  // ---- the public status page -------------------------------------------------------------------
  step('status page');
  await page.goto(`${base}/status`);
  await page.locator('#cards .card[data-target]').first().waitFor();
  summary.status = await page.locator('#cards .card .name').allTextContents();
  check(summary.status.includes('Mock text model'), `status page lists the target: ${summary.status}`);
  await shot('18-status');
  await page.selectOption('#lang', 'zh-CN');
  await page.locator('#global', { hasText: '个模型中' }).waitFor();
  check(await page.locator('h1').textContent() === '模型状态', 'the status page speaks Chinese too');
  await shot('18-status-zh');
  await page.selectOption('#lang', 'en');

  // ---- the same files deployed alone, pointed at the gateway --------------------------------------
  if (staticUrl) {
    step('deployed alone');
    const alone = await context.browser().newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
    const other = await alone.newPage();
    other.on('pageerror', e => problems.push(`page error (deployed alone): ${e}`));
    other.on('response', r => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()} (deployed alone)`); });
    await other.goto(`${staticUrl}/`);
    await other.click('text=Use another gateway…');
    await other.fill('#gateway-url', base);
    await other.fill('#password', password);
    await other.click('button[type=submit]');
    await other.waitForSelector('[data-stat=requests] strong');
    const seen = await other.locator('[data-stat=requests] strong').textContent();
    check(seen === '6', `the UI on another origin reads the gateway's stats: ${seen}`);
    await other.screenshot({ path: `${shots}/19-deployed-alone.png`, fullPage: true });
    await alone.close();
  }

  // ---- a cloud provider from its preset, and a unit price --------------------------------------
  step('a Bedrock provider from its preset, with an AWS credential');
  await page.goto(`${base}/`);
  await go('providers');
  await page.click('#add-provider');
  await page.fill('#preset-search', 'bedrock');
  await page.click('[data-preset="bedrock-us-east-1"]');
  await page.fill('#f-name', 'Mock Bedrock');
  await page.fill('#f-base_url', mock);
  const secret = 'mock/Bedrock+Secret/Key0000000000000000';
  await page.fill('#f-api_key', JSON.stringify({ access_key_id: 'AKIAMOCKBEDROCK00001', secret_access_key: secret, region: 'us-east-1' }));
  await page.click('.modal button[type=submit]');
  await row('Mock Bedrock').filter({ hasText: 'Amazon Bedrock Converse' }).waitFor();
  check(!(await page.content()).includes(secret), 'the AWS secret never comes back to the page');
  await shot('20-bedrock-provider');
  step('a unit price on a model');
  await go('models');
  await row('mock-text').first().locator('[data-action=edit]').click();
  await page.fill('#f-per_image', '0.04');
  await page.click('.modal button[type=submit]');
  await page.waitForSelector('.modal', { state: 'detached' });
  const prices = await page.evaluate(async () => {
    const r = await fetch('/api/admin/models', { headers: { authorization: `Bearer ${localStorage.getItem('gw.token')}` } });
    return (await r.json()).data.find(m => m.name === 'mock-text').unit_prices;
  });
  check(prices && prices.per_image === 0.04, `the model's unit prices: ${JSON.stringify(prices)}`);

  step('log out');
  await page.goto(`${base}/`);
  await page.click('#logout');
  await page.waitForSelector('#password');

  check(problems.length === 0, `no script errors: ${problems.join(' | ')}`);
  console.log(JSON.stringify(summary));
} catch (e) {
  await shot('failure').catch(() => {});
  console.error(`FAILED after steps: ${summary.steps.join(' > ')}\n${e.stack || e}\n${problems.join('\n')}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
