// Loads a gateway's public status page in headless chromium and prints what a visitor sees as JSON:
// the global line, one entry per target card, and the detailed history of the last card, clicked.
// Usage: node status-page.mjs http://127.0.0.1:PORT/status [screenshot.png]
import { chromium } from 'playwright-core';

const url = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  await page.goto(url, { timeout: 15000 });
  await page.waitForFunction(() => document.getElementById('global').textContent !== 'Loading…', null, { timeout: 15000 });
  const seen = await page.evaluate(() => ({
    url: location.pathname,
    global: document.getElementById('global').textContent,
    cards: [...document.querySelectorAll('#cards .card')].map(card => ({
      target: card.dataset.target,
      name: card.querySelector('.name').textContent,
      status: card.querySelector('.badge').textContent,
      className: card.className,
      stats: Object.fromEntries([...card.querySelectorAll('dt')].map(dt => [dt.textContent, dt.nextElementSibling.textContent])),
      checks: card.querySelectorAll('.timeline span').length,
      errors: card.querySelector('.errors')?.textContent ?? null,
    })),
  }));
  // The detailed history of the last card (clicked, as a visitor would).
  const cards = await page.$$('#cards .card');
  if (cards.length) {
    await cards[cards.length - 1].click();
    await page.waitForSelector('#runs tr', { timeout: 15000 });
    seen.detail = await page.evaluate(() => ({
      title: document.getElementById('detail-title').textContent,
      runs: [...document.querySelectorAll('#runs tr')].map(tr => [...tr.children].map(td => td.textContent)),
    }));
  }
  if (process.argv[3]) await page.screenshot({ path: process.argv[3], fullPage: true });
  console.log(JSON.stringify({ ...seen, errors }));
} finally {
  await browser.close();
}
