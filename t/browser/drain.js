// Drives Debian's chromium (headless, no network) against the sticky_status
// dashboard as an operator would: load the page, press "Drain" on a worker,
// wait until the page shows it drained, take screenshots.
//
//   node drain.js URL UPSTREAM WORKER SCREENSHOT.png [PHONE.png]
//
// Prints one JSON line: what the page showed before and after, the answer
// shown to the operator, and every console error or CSP violation. Exits 0
// when the page showed the change, 1 otherwise. CHROMIUM overrides the path
// of the browser (default /usr/bin/chromium).
'use strict';

const { chromium } = require('playwright-core');

async function main() {
  const [url, upstream, worker, shot, phoneShot] = process.argv.slice(2);
  if (!url || !upstream || !worker || !shot) {
    console.error('usage: node drain.js URL UPSTREAM WORKER SCREENSHOT.png [PHONE.png]');
    process.exit(2);
  }
  const result = { errors: [], before: null, after: null, message: null };
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 60000,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-default-apps', '--disable-extensions', '--metrics-recording-only',
    ],  // and a fresh profile in a temp directory: playwright's launch() makes one
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 520 } });
    page.on('console', (m) => { if (m.type() === 'error') result.errors.push(m.text()); });
    page.on('pageerror', (e) => result.errors.push(String(e)));
    // Nothing but the status page may be fetched: no CDN, no font, no image.
    const origin = new URL(url).origin;
    await page.route('**/*', (route) => {
      if (new URL(route.request().url()).origin === origin) return route.continue();
      result.errors.push('external request: ' + route.request().url());
      return route.abort();
    });

    await page.goto(url, { waitUntil: 'load' });
    const row = () => page.locator(`section[data-upstream="${upstream}"] tr[data-worker="${worker}"]`);
    result.before = await row().getAttribute('class');

    await row().locator('button[data-field="activation"][data-value="D"]').click();
    await page.locator('#msg.ok').waitFor({ timeout: 10000 });
    result.message = await page.locator('#msg').textContent();
    // The page refreshes itself: wait for the row to show the drain.
    await page.waitForFunction(
      ([u, w]) => {
        const r = document.querySelector(`section[data-upstream="${u}"] tr[data-worker="${w}"]`);
        return r && r.classList.contains('a-D');
      },
      [upstream, worker], { timeout: 10000 });
    result.after = await row().getAttribute('class');
    result.drain_button_disabled =
      await row().locator('button[data-field="activation"][data-value="D"]').isDisabled();
    // A refresh on its own (every 2 s) keeps working.
    const refreshed = await page.evaluate(() => document.body.getAttribute('data-refreshed'));
    await page.waitForFunction(
      (before) => document.body.getAttribute('data-refreshed') !== before, refreshed,
      { timeout: 10000 });
    result.refreshes = true;

    // caret: 'initial': hiding the caret injects a <style> the page's CSP rightly blocks.
    await page.screenshot({ path: shot, fullPage: true, caret: 'initial' });
    if (phoneShot) {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForTimeout(300);
      result.phone_overflow = await page.evaluate(
        () => document.documentElement.scrollWidth > window.innerWidth + 1);
      await page.screenshot({ path: phoneShot, fullPage: false, caret: 'initial' });
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
  return result.after && result.after.split(' ').includes('a-D') ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => {
  console.log(JSON.stringify({ fatal: String(e && e.stack || e) }));
  process.exit(1);
});
