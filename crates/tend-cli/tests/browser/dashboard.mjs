// Drives tend's dashboard in a real headless chromium (Debian's, through
// playwright-core): the token prompt, the live tree, keyboard navigation,
// the log pane, every action with its confirmation (on an instance and on
// a group), the event history and its filters, and a phone's screen.
// Each step's screen is kept in $SHOTS. Run by tests/dashboard.rs, which
// starts tend and checks what the page did through the API as well.
//
// Env: TEND_URL (http://127.0.0.1:PORT/), TEND_TOKEN, CHROMIUM, SHOTS.

import { chromium } from 'playwright-core';

const url = process.env.TEND_URL;
const token = process.env.TEND_TOKEN;
const shots = process.env.SHOTS;
const LONG = 30000;

function fail(message) {
  throw new Error(message);
}

// The API, as a client with the token (to check what the page did).
async function api(path, init = {}) {
  const response = await fetch(new URL(path, url), {
    ...init,
    headers: { Authorization: 'Bearer ' + token, ...(init.headers || {}) },
  });
  if (!response.ok) fail(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function service(name) {
  return (await api('/v1/services')).find((s) => s.name === name);
}

async function until(what, condition) {
  const start = Date.now();
  for (;;) {
    if (await condition()) return;
    if (Date.now() - start > LONG) fail('timed out waiting for ' + what);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let shot = 0;
async function keep(page, name) {
  shot += 1;
  await page.screenshot({ path: `${shots}/${String(shot).padStart(2, '0')}-${name}.png`, fullPage: true });
  console.log('screen kept:', name);
}

const row = (page, name) => page.locator(`tr[data-key="i:${name}"]`);
const cellOf = (page, name, cls) => row(page, name).locator('td.' + cls);

async function confirm(page, text, button) {
  const dialog = page.locator('#confirm');
  await dialog.waitFor({ state: 'visible' });
  const said = await page.locator('#confirm-text').textContent();
  if (!said.includes(text)) fail(`the question was ${JSON.stringify(said)}, expected ${JSON.stringify(text)}`);
  await keep(page, 'confirm-' + text.split(' ')[0].toLowerCase());
  await page.locator(button === 'cancel' ? '#confirm-cancel' : '#confirm-ok').click();
  await dialog.waitFor({ state: 'hidden' });
}

async function toast(page, text) {
  await page.locator('#toast', { hasText: text }).waitFor({ timeout: LONG });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));

  // 1. No token: the page asks for one; a wrong one is refused.
  await page.goto(url);
  await page.locator('#token-form').waitFor({ state: 'visible' });
  await page.fill('#token', 'not-the-token-at-all');
  await page.click('#token-form button');
  await page.locator('#token-error', { hasText: 'refused' }).waitFor({ timeout: LONG });
  await keep(page, 'token-refused');
  await page.fill('#token', token);
  await page.click('#token-form button');
  await page.locator('#connection', { hasText: 'live' }).waitFor({ timeout: LONG });

  // 2. The live tree.
  for (const name of ['alpha', 'beta', 'gamma', 'delta.1', 'delta.2']) {
    await cellOf(page, name, 'state').filter({ hasText: 'running' }).waitFor({ timeout: LONG });
  }
  const groupText = await page.locator('tr[data-key="g:g"]').textContent();
  if (!groupText.includes('3/3 running')) fail('group row: ' + groupText);
  const alpha = await service('alpha');
  if ((await cellOf(page, 'alpha', 'pid').textContent()) !== String(alpha.pid)) fail('alpha pid not shown');
  await page.locator('#log', { hasText: 'alpha says hello' }).waitFor({ timeout: LONG });
  await keep(page, 'tree');

  // 3. The keyboard: down to beta, its log follows; the row has focus.
  await page.keyboard.press('ArrowDown');
  await page.locator('tr[data-key="i:beta"][aria-selected="true"]').waitFor();
  await page.locator('#log', { hasText: 'beta says hello' }).waitFor({ timeout: LONG });
  const focused = await page.evaluate(() => document.activeElement.dataset.key);
  if (focused !== 'i:beta') fail('focus is on ' + focused);
  await page.keyboard.press('k');
  await page.locator('#log', { hasText: 'alpha says hello' }).waitFor({ timeout: LONG });

  // 4. Restart: cancelled changes nothing; confirmed, a new process.
  await page.click('#actions button[data-action="restart"]');
  await confirm(page, 'Restart alpha?', 'cancel');
  await toast(page, 'cancelled');
  if ((await service('alpha')).pid !== alpha.pid) fail('a cancelled restart restarted');
  await page.keyboard.press('r');
  await confirm(page, 'Restart alpha?', 'ok');
  await toast(page, 'restart: alpha');
  await until('alpha restarted', async () => {
    const s = await service('alpha');
    return s.state === 'running' && s.pid !== alpha.pid;
  });
  const restarted = await service('alpha');
  await cellOf(page, 'alpha', 'pid').filter({ hasText: String(restarted.pid) }).waitFor({ timeout: LONG });

  // 5. Signal: the dialog asks which.
  await page.keyboard.press('x');
  await page.locator('#signal').fill('HUP');
  await confirm(page, 'Send a signal to alpha?', 'ok');
  await toast(page, 'HUP sent to alpha');
  await page.locator('#log', { hasText: 'alpha got HUP' }).waitFor({ timeout: LONG });

  // 6. Stop, then start.
  await page.locator('#actions button[data-action="stop"]').focus();
  await page.keyboard.press('Enter');
  await confirm(page, 'Stop alpha?', 'ok');
  await cellOf(page, 'alpha', 'state').filter({ hasText: 'shutdown' }).waitFor({ timeout: LONG });
  if ((await service('alpha')).state !== 'shutdown') fail('alpha not stopped');
  await keep(page, 'stopped');
  await page.keyboard.press('S');
  await confirm(page, 'Start alpha?', 'ok');
  await cellOf(page, 'alpha', 'state').filter({ hasText: 'running' }).waitFor({ timeout: LONG });

  // 7. Kill: the restart type brings it back, and the row says so.
  const before = await service('alpha');
  await page.keyboard.press('K');
  await confirm(page, 'Kill alpha?', 'ok');
  await until('alpha killed and back', async () => {
    const s = await service('alpha');
    return s.state === 'running' && s.pid !== before.pid && s.restarts === before.restarts + 1;
  });
  await cellOf(page, 'alpha', 'exit').filter({ hasText: 'killed' }).waitFor({ timeout: LONG });
  await cellOf(page, 'alpha', 'restarts').filter({ hasText: '1' }).waitFor({ timeout: LONG });

  // 8. A group: the action reaches every member.
  const members = await Promise.all(['gamma', 'delta.1', 'delta.2'].map(service));
  await page.click('tr[data-key="g:g"]');
  await page.click('#actions button[data-action="restart"]');
  await confirm(page, 'Restart every service of group g?', 'ok');
  await toast(page, 'restart: gamma, delta.1, delta.2');
  await until('every member restarted', async () => {
    const now = await Promise.all(members.map((m) => service(m.name)));
    return now.every((s, i) => s.state === 'running' && s.pid !== members[i].pid);
  });

  // 9. The filter.
  await page.keyboard.press('/');
  await page.keyboard.type('gam');
  await until('the filtered tree', async () => (await row(page, 'alpha').count()) === 0);
  if ((await row(page, 'gamma').count()) !== 1) fail('gamma filtered out');
  await keep(page, 'filtered');
  await page.keyboard.press('Escape');
  await row(page, 'alpha').waitFor();

  // 10. The event history, with filters: commands only, then one service.
  // (The list is fetched again on each change: wait until it is.) Each
  // line is the server's text, as `tend events` prints it.
  const listed = () => page.locator('#events li span').allTextContents();
  await page.selectOption('#events-kind', 'command');
  await until('only commands listed', async () => {
    const lines = await listed();
    return lines.length > 0 && lines.every((l) => l.startsWith('operator: '));
  });
  await page.locator('#events li', { hasText: 'operator: restart alpha' }).first().waitFor({ timeout: LONG });
  await page.selectOption('#events-kind', '');
  await page.selectOption('#events-service', 'beta');
  await until("only beta's events listed", async () => {
    const lines = await listed();
    return lines.length > 0 && lines.every((l) => l.startsWith('beta '));
  });
  await page.locator('#events li', { hasText: 'started' }).first().waitFor({ timeout: LONG });
  await page.selectOption('#events-service', '');
  await page.selectOption('#events-kind', 'problems');
  await page.locator('#events li span.problem', { hasText: /^alpha \(pid \d+\) exited after .*: killed/ }).first().waitFor({ timeout: LONG });
  await keep(page, 'events-problems');

  // Live: a new event appears without a reload.
  await page.selectOption('#events-kind', '');
  await api('/v1/services/beta/restart', { method: 'POST' });
  await page.locator('#events li', { hasText: 'operator: restart beta' }).first().waitFor({ timeout: LONG });
  await keep(page, 'live-event');

  if (errors.length) fail('page errors: ' + errors.join('; '));

  // 11. A phone: one column, no sideways scrolling, big enough targets.
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await phone.goto(url + '#token=' + token);
  await phone.locator('#connection', { hasText: 'live' }).waitFor({ timeout: LONG });
  await cellOf(phone, 'alpha', 'state').filter({ hasText: 'running' }).waitFor({ timeout: LONG });
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) fail(`the phone's page scrolls sideways by ${overflow}px`);
  if (await phone.locator('th.opt').first().isVisible()) fail('optional columns shown on a phone');
  const height = await phone.locator('#actions button').first().evaluate((b) => b.getBoundingClientRect().height);
  if (height < 32) fail('buttons too small for a finger: ' + height);
  if (phone.url().includes('token')) fail('the token stays in the address');
  await phone.screenshot({ path: `${shots}/${String(++shot).padStart(2, '0')}-phone.png` });
  console.log('screen kept: phone');
  console.log('dashboard: every step passed');
} finally {
  await browser.close();
}
