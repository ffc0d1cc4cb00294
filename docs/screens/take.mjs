// Takes the dashboard screenshots in this directory from a running demo:
//
//   cargo run --bin tend -- up -c examples/fifty.toml        (wait a minute or two)
//   node docs/screens/take.mjs                               (from the repository root)
//
// Needs Debian's chromium and playwright-core
// (npm ci --prefix crates/tend-cli/tests/browser).
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../crates/tend-cli/tests/browser/', import.meta.url));
const { chromium } = require('playwright-core');

const url = process.env.TEND_URL || 'http://127.0.0.1:7654/#token=demo-token-0123456789';
const out = new URL('.', import.meta.url).pathname;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
  await page.goto(url);
  await page.locator('#connection', { hasText: 'live' }).waitFor();
  // Let the plots fill.
  await page.waitForTimeout(30000);
  await page.click('tr[data-key="i:thumbnailer.1"]');
  await page.waitForTimeout(3000);
  await page.screenshot({ path: out + 'dashboard.png' });
  await page.selectOption('#events-kind', 'problems');
  await page.click('tr[data-key="i:billing"]');
  await page.waitForTimeout(2000);
  await page.keyboard.press('r');
  await page.locator('#confirm').waitFor({ state: 'visible' });
  await page.screenshot({ path: out + 'dashboard-confirm.png' });
  await page.click('#confirm-cancel');
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await phone.goto(url);
  await phone.locator('#connection', { hasText: 'live' }).waitFor();
  await phone.waitForTimeout(3000);
  await phone.screenshot({ path: out + 'dashboard-phone.png' });
} finally {
  await browser.close();
}
