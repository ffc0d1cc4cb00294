// tend's dashboard. No framework and no build step: this file is served
// as it is, from inside the binary.
//
// Everything comes from the API: GET /v1/watch (server-sent events: a
// snapshot, then only what changed, and journal entries), GET /v1/events
// for history, the log stream of the selected instance, and the actions.
// The streams are read with fetch rather than EventSource, because on a
// TCP listener every request must carry the bearer token in a header,
// which EventSource cannot send.
'use strict';

const $ = (id) => document.getElementById(id);
const BUCKET_MS = 10000;   // one restart bucket
const BUCKETS = 30;        // five minutes of them
const SAMPLES = 120;       // CPU and memory samples kept (two minutes)
const LOG_LINES = 400;
const EVENTS_SHOWN = 300;
const PROBLEMS = new Set(['exited', 'start_failed', 'restarting', 'crash_loop', 'failed', 'isolated',
  'gave_up', 'probe_failed', 'not_ready', 'resource_exceeded', 'resource_warning', 'write_failed']);

const view = {
  token: null,
  daemon: null,
  snapshotAt: 0,
  services: new Map(),   // name → status
  order: [],             // names in config order
  trends: new Map(),     // name → { restarts: [], bucketStart, cpu: [], memory: [], lastCpu, received }
  rows: new Map(),       // name → <tr>
  inView: new Set(),     // the instance rows on screen: the only ones a tick redraws
  groupRows: new Map(),  // group → <tr>
  visible: [],           // the row keys shown, in order: 'i:name' or 'g:group'
  selected: null,        // the selected row key
  filter: '',
  stateFilter: '',
  logAbort: null,
  entries: [],          // the latest live journal entries, every kind
  connected: false,
};

// ---- the API ---------------------------------------------------------------

function takeToken() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    sessionStorage.setItem('tend-token', decodeURIComponent(match[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  view.token = sessionStorage.getItem('tend-token');
}

function headers(json) {
  const h = {};
  if (view.token) h.Authorization = 'Bearer ' + view.token;
  if (json) h['Content-Type'] = 'application/json';
  return h;
}

class Unauthorized extends Error {}

async function check(response) {
  if (response.status === 401) {
    askToken(view.token ? 'that token was refused' : '');
    throw new Unauthorized('the API token is needed');
  }
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new Error(body && body.error ? body.error.message : 'tend answered ' + response.status);
  }
  return response;
}

async function call(method, path, body) {
  const response = await check(await fetch(path, {
    method, headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  }));
  return response.json();
}

// Reads a streamed answer, handing each decoded chunk to `each`.
async function stream(path, each, signal) {
  const response = await check(await fetch(path, { headers: headers(false), signal }));
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    each(decoder.decode(value, { stream: true }));
  }
}

function askToken(why) {
  $('token-form').hidden = false;
  $('token-error').textContent = why;
  $('token').focus();
}

// ---- the live picture --------------------------------------------------------

async function watch() {
  for (;;) {
    let partial = '';
    try {
      await stream('/v1/watch?interval=1s', (chunk) => {
        partial += chunk;
        let end;
        while ((end = partial.indexOf('\n\n')) >= 0) {
          const block = partial.slice(0, end);
          partial = partial.slice(end + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('');
          if (data) take(JSON.parse(data));
        }
      });
    } catch (error) {
      if (error instanceof Unauthorized) return;
    }
    connected(false);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function connected(yes) {
  view.connected = yes;
  const badge = $('connection');
  badge.textContent = yes ? 'live' : 'disconnected: reconnecting…';
  badge.className = 'connection ' + (yes ? 'live' : 'down');
}

function trendOf(name) {
  let trend = view.trends.get(name);
  if (!trend) {
    trend = { restarts: new Array(BUCKETS).fill(0), bucketStart: Date.now(), cpu: [], memory: [], lastCpu: null, received: Date.now() };
    view.trends.set(name, trend);
  }
  return trend;
}

function advance(trend, now) {
  while (now - trend.bucketStart >= BUCKET_MS) {
    trend.restarts.shift();
    trend.restarts.push(0);
    trend.bucketStart += BUCKET_MS;
  }
}

function addRestarts(trend, n, at, now) {
  advance(trend, now);
  const back = at >= trend.bucketStart ? 0 : Math.ceil((trend.bucketStart - at) / BUCKET_MS);
  if (back < BUCKETS) trend.restarts[BUCKETS - 1 - back] += n;
}

function take(message) {
  const now = Date.now();
  if (message.kind === 'snapshot') {
    const first = view.daemon === null;
    view.daemon = message.daemon;
    view.snapshotAt = now;
    view.services = new Map(message.services.map((s) => [s.name, s]));
    view.order = message.services.map((s) => s.name);
    for (const name of view.trends.keys()) if (!view.services.has(name)) view.trends.delete(name);
    for (const s of message.services) trendOf(s.name).received = now;
    connected(true);
    // A new stream (tend restarted or upgraded): the log stream ended with
    // the old one, and events may have been missed meanwhile.
    $('log').dataset.name = '';
    rebuild();
    fillServiceChoices();
    if (first) backfill();
    loadEvents();
  } else if (message.kind === 'changed') {
    for (const name of message.removed || []) { view.services.delete(name); view.trends.delete(name); }
    let added = false;
    for (const s of message.services) {
      const before = view.services.get(s.name);
      const trend = trendOf(s.name);
      trend.received = now;
      if (before && s.restarts > before.restarts) addRestarts(trend, s.restarts - before.restarts, now, now);
      if (!before) added = true;
      view.services.set(s.name, s);
    }
    if (message.order) view.order = message.order;
    else if (added) view.order = view.order.concat(message.services.filter((s) => !view.order.includes(s.name)).map((s) => s.name));
    view.order = view.order.filter((n) => view.services.has(n));
    if (added || message.removed || message.order) { rebuild(); fillServiceChoices(); }
    else for (const s of message.services) updateRow(s);
    updateGroups();
    drawCounts();
    drawDetail();
  } else if (message.kind === 'entry') {
    liveEntry(message.entry);
  }
}

// Restarts before the page opened, from the journal.
async function backfill() {
  const now = Date.now();
  let text = '';
  try {
    await stream('/v1/events?since=' + (BUCKET_MS * BUCKETS / 1000) + 's', (chunk) => { text += chunk; });
  } catch (_) { return; }
  for (const line of text.split('\n')) {
    if (!line) continue;
    const entry = JSON.parse(line);
    if (entry.kind === 'restarting' && view.trends.has(entry.service)) {
      addRestarts(view.trends.get(entry.service), 1, Date.parse(entry.at), now);
    }
  }
  drawDetail();
  for (const s of view.services.values()) updateRow(s);
}

// Once a second: CPU and memory samples, uptimes, the restart buckets.
function sample() {
  const now = Date.now();
  for (const s of view.services.values()) {
    const trend = trendOf(s.name);
    advance(trend, now);
    let cpu = 0;
    if (s.pid && s.cpu_s != null && trend.lastCpu && now > trend.lastCpu[1]) {
      cpu = Math.max(0, s.cpu_s - trend.lastCpu[0]) / ((now - trend.lastCpu[1]) / 1000) * 100;
    }
    trend.lastCpu = s.cpu_s != null ? [s.cpu_s, now] : null;
    trend.cpu.push(cpu);
    trend.memory.push(s.pid ? (s.memory_bytes || 0) : 0);
    if (trend.cpu.length > SAMPLES) trend.cpu.shift();
    if (trend.memory.length > SAMPLES) trend.memory.shift();
  }
  for (const tr of view.inView) {
    const s = view.services.get(tr.dataset.key.slice(2));
    if (s) updateRow(s, true);
  }
  drawDaemon();
  drawDetail();
}

// ---- the tree ----------------------------------------------------------------

function matches(s) {
  if (view.stateFilter && s.state !== view.stateFilter) return false;
  const f = view.filter.toLowerCase();
  return !f || s.name.toLowerCase().includes(f) || (s.group || '').toLowerCase().includes(f) || s.state.includes(f);
}

// Lays the rows out again (after a snapshot, a reload, or a filter).
function rebuild() {
  const body = $('services').tBodies[0];
  const rows = [];
  view.visible = [];
  view.rows = new Map();
  view.groupRows = new Map();
  const groups = new Map();
  const top = [];
  for (const name of view.order) {
    const s = view.services.get(name);
    if (!s || !matches(s)) continue;
    if (s.group) {
      if (!groups.has(s.group)) { groups.set(s.group, []); top.push({ group: s.group }); }
      groups.get(s.group).push(s);
    } else top.push({ s });
  }
  for (const item of top) {
    if (item.group) {
      const tr = document.createElement('tr');
      tr.className = 'group';
      tr.tabIndex = -1;
      tr.dataset.key = 'g:' + item.group;
      tr.innerHTML = '<td colspan="10"></td>';
      view.groupRows.set(item.group, tr);
      rows.push(tr);
      view.visible.push(tr.dataset.key);
      for (const s of groups.get(item.group)) { rows.push(instanceRow(s, true)); view.visible.push('i:' + s.name); }
    } else {
      rows.push(instanceRow(item.s, false));
      view.visible.push('i:' + item.s.name);
    }
  }
  body.replaceChildren(...rows);
  // A thousand rows tick every second; only those on screen are redrawn
  // (a row scrolled into view is brought up to date as it appears).
  view.inView.clear();
  rowsSeen.disconnect();
  for (const tr of view.rows.values()) rowsSeen.observe(tr);
  if (!view.visible.includes(view.selected)) view.selected = view.visible[0] || null;
  markSelected(false);
  followLogs();
  updateGroups();
  drawCounts();
  drawDaemon();
  drawDetail();
}

const rowsSeen = new IntersectionObserver((seen) => {
  for (const e of seen) {
    if (e.isIntersecting) {
      view.inView.add(e.target);
      const s = view.services.get(e.target.dataset.key.slice(2));
      if (s) updateRow(s, true);
    } else view.inView.delete(e.target);
  }
});

function instanceRow(s, member) {
  const tr = document.createElement('tr');
  tr.className = 'instance' + (member ? ' member' : '');
  tr.tabIndex = -1;
  tr.dataset.key = 'i:' + s.name;
  tr.innerHTML = '<td class="name"></td><td class="state"></td><td class="opt pid"></td><td class="opt uptime"></td>' +
    '<td class="restarts"></td><td class="opt spark"></td><td class="opt cpu"></td><td class="opt memory"></td>' +
    '<td class="opt ready"></td><td class="opt wide exit"></td>';
  view.rows.set(s.name, tr);
  updateRow(s);
  return tr;
}

function cell(tr, cls, text) {
  const td = tr.querySelector('.' + cls);
  if (td.textContent !== text) td.textContent = text;
}

function updateRow(s, tick) {
  const tr = view.rows.get(s.name);
  if (!tr) return;
  const trend = view.trends.get(s.name);
  if (!tick) {
    cell(tr, 'name', s.name);
    const state = tr.querySelector('.state');
    state.className = 'state s-' + s.state;
    cell(tr, 'state', s.state);
    cell(tr, 'pid', s.pid ? String(s.pid) : '-');
    cell(tr, 'restarts', String(s.restarts));
    cell(tr, 'ready', s.pid ? (s.ready ? 'yes' : 'no') : '-');
    cell(tr, 'exit', lastExit(s));
  }
  cell(tr, 'uptime', s.state === 'running' ? duration(uptime(s)) : '-');
  if (trend) sparkline(tr.querySelector('.spark'), trend.restarts.slice(-12));
  const cpu = trend && trend.cpu.length ? trend.cpu[trend.cpu.length - 1] : null;
  cell(tr, 'cpu', s.pid && cpu !== null ? cpu.toFixed(1) + '%' : '-');
  cell(tr, 'memory', s.pid && s.memory_bytes ? bytes(s.memory_bytes) : '-');
}

function updateGroups() {
  for (const [group, tr] of view.groupRows) {
    const members = view.order.map((n) => view.services.get(n)).filter((s) => s && s.group === group);
    const running = members.filter((s) => s.state === 'running').length;
    const text = '▾ ' + group + '   ' + running + '/' + members.length + ' running';
    if (tr.firstChild.textContent !== text) tr.firstChild.textContent = text;
  }
}

function lastExit(s) {
  if (s.waiting_for && s.waiting_for.length) {
    return 'waiting for ' + s.waiting_for.map((w) => w.service + ' (' + w.condition + ')').join(' and ');
  }
  if (!s.last_exit) return '-';
  const e = s.last_exit;
  let text = e.kind + (e.signal ? ' (killed by ' + e.signal + ')' : e.code != null ? ' (exit code ' + e.code + ')' : '');
  if (e.reason) text += ': ' + e.reason;
  if (s.failed_because) text = s.failed_because + ': ' + text;
  return text;
}

function uptime(s) {
  const trend = view.trends.get(s.name);
  return s.uptime_s + (trend ? (Date.now() - trend.received) / 1000 : 0);
}

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
  return Math.floor(s / 86400) + 'd' + Math.floor((s % 86400) / 3600) + 'h';
}

function bytes(n) {
  if (n >= 1e9) return (n / 1073741824).toFixed(1) + 'G';
  if (n >= 1e6) return (n / 1048576).toFixed(1) + 'M';
  return Math.round(n / 1024) + 'K';
}

// Restarts per bucket as small bars in a table cell (redrawn only when
// they changed: a thousand rows tick every second).
function sparkline(td, values) {
  const key = values.join(',');
  if (td.dataset.values === key) return;
  td.dataset.values = key;
  const top = Math.max(1, ...values);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 48 12');
  svg.setAttribute('class', 'spark');
  const total = values.reduce((a, b) => a + b, 0);
  svg.setAttribute('aria-label', total + ' restarts in the last two minutes');
  svg.setAttribute('role', 'img');
  values.forEach((v, i) => {
    const r = document.createElementNS(SVG, 'rect');
    const h = v === 0 ? 1 : Math.max(2, (12 * v) / top);
    r.setAttribute('x', String(i * 4));
    r.setAttribute('y', String(12 - h));
    r.setAttribute('width', '3');
    r.setAttribute('height', String(h));
    if (v === 0) r.setAttribute('class', 'none');
    svg.appendChild(r);
  });
  td.replaceChildren(svg);
}

function drawCounts() {
  const counts = new Map();
  for (const s of view.services.values()) counts.set(s.state, (counts.get(s.state) || 0) + 1);
  const nav = $('counts');
  const buttons = [];
  for (const [state, n] of [...counts].sort()) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 's-' + state;
    b.textContent = n + ' ' + state;
    b.setAttribute('aria-pressed', String(view.stateFilter === state));
    b.title = 'show only ' + state;
    b.addEventListener('click', () => { view.stateFilter = view.stateFilter === state ? '' : state; rebuild(); });
    buttons.push(b);
  }
  nav.replaceChildren(...buttons);
}

function drawDaemon() {
  const d = view.daemon;
  if (!d) return;
  const up = d.uptime_s + (Date.now() - view.snapshotAt) / 1000;
  $('daemon').textContent = d.config + ' · pid ' + d.pid + ' · tend ' + d.version + ' · up ' + duration(up) + ' · ' + view.services.size + ' instances';
}

// ---- selection and keys --------------------------------------------------------

function select(key, focus) {
  if (!key) return;
  view.selected = key;
  markSelected(focus);
  drawDetail();
  followLogs();
}

function markSelected(focus) {
  for (const tr of $('services').tBodies[0].rows) {
    const on = tr.dataset.key === view.selected;
    if ((tr.getAttribute('aria-selected') === 'true') !== on) tr.setAttribute('aria-selected', String(on));
    tr.tabIndex = on ? 0 : -1;
    if (on && focus) { tr.focus(); tr.scrollIntoView({ block: 'nearest' }); }
  }
}

// The selected row's target: an instance's name or a group's.
function target() {
  return view.selected ? view.selected.slice(2) : null;
}

// The instance whose facts, plots and log are shown: the selected one, or a
// selected group's first.
function shownInstance() {
  if (!view.selected) return null;
  if (view.selected.startsWith('i:')) return view.services.get(target()) || null;
  return view.order.map((n) => view.services.get(n)).find((s) => s && s.group === target()) || null;
}

function onKey(event) {
  if (event.target.closest('input, select, dialog, textarea')) {
    if (event.target.id === 'filter' && (event.key === 'Escape' || event.key === 'Enter')) {
      if (event.key === 'Escape') { event.target.value = ''; view.filter = ''; rebuild(); }
      select(view.selected || view.visible[0], true);
    }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const at = view.visible.indexOf(view.selected);
  const keys = {
    ArrowDown: () => select(view.visible[Math.min(view.visible.length - 1, at + 1)], true),
    ArrowUp: () => select(view.visible[Math.max(0, at - 1)], true),
    j: () => select(view.visible[Math.min(view.visible.length - 1, at + 1)], true),
    k: () => select(view.visible[Math.max(0, at - 1)], true),
    K: () => confirmAction('kill'),
    Home: () => select(view.visible[0], true),
    End: () => select(view.visible[view.visible.length - 1], true),
    '/': () => $('filter').focus(),
    r: () => confirmAction('restart'),
    s: () => confirmAction('stop'),
    S: () => confirmAction('start'),
    x: () => confirmAction('signal'),
  };
  const act = keys[event.key];
  if (act && (view.selected !== null || event.key === '/')) {
    event.preventDefault();
    act();
  }
}

// ---- actions -------------------------------------------------------------------

let pending = null;

function confirmAction(action) {
  const name = target();
  if (!name) return;
  pending = { action, name };
  const what = view.selected.startsWith('g:') ? 'every service of group ' + name : name;
  $('confirm-text').textContent = action === 'signal'
    ? 'Send a signal to ' + what + '?'
    : action.charAt(0).toUpperCase() + action.slice(1) + ' ' + what + '?';
  $('signal-field').hidden = action !== 'signal';
  $('confirm-ok').textContent = action === 'signal' ? 'Send' : action.charAt(0).toUpperCase() + action.slice(1);
  $('confirm').showModal();
  (action === 'signal' ? $('signal') : $('confirm-cancel')).focus();
}

async function confirmed() {
  $('confirm').close();
  if (!pending) return;
  const { action, name } = pending;
  pending = null;
  const path = '/v1/services/' + encodeURIComponent(name) + '/' + action;
  try {
    if (action === 'signal') {
      const signal = $('signal').value.trim() || 'TERM';
      const acted = await call('POST', path, { signal });
      toast(signal + ' sent to ' + acted.services.join(', '));
    } else {
      const acted = await call('POST', path);
      toast(action + ': ' + acted.services.join(', '));
    }
  } catch (error) {
    toast(action + ' ' + name + ' failed: ' + error.message);
  }
  const row = $('services').querySelector('tr[aria-selected="true"]');
  if (row) row.focus();
}

function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.classList.add('shown');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('shown'), 4000);
}

// ---- the selected instance: facts, plots, log ------------------------------------

function drawDetail() {
  const s = shownInstance();
  const name = target();
  $('actions').hidden = !name;
  if (!s) {
    $('detail-name').textContent = name ? 'group ' + name : 'select a service';
    return;
  }
  const group = view.selected.startsWith('g:');
  $('detail-name').textContent = group ? 'group ' + name + ' (showing ' + s.name + ')' : s.name;
  const facts = [s.state, s.pid ? 'pid ' + s.pid : null, 'started ' + s.starts + '×', s.restarts + ' restarts',
    s.failures + ' failures', s.status_text ? '“' + s.status_text + '”' : null].filter(Boolean);
  $('detail-facts').textContent = facts.join(' · ');
  const trend = view.trends.get(s.name);
  if (!trend) return;
  const cpu = trend.cpu.length ? trend.cpu[trend.cpu.length - 1] : 0;
  $('cpu-now').textContent = cpu.toFixed(1) + '%';
  $('memory-now').textContent = s.pid && s.memory_bytes ? bytes(s.memory_bytes) : '-';
  $('restarts-now').textContent = trend.restarts.reduce((a, b) => a + b, 0) + ' in 5 min';
  line($('cpu-plot'), trend.cpu, Math.max(5, ...trend.cpu), 'cpu-line');
  line($('memory-plot'), trend.memory, Math.max(1, ...trend.memory) * 1.1, 'memory-line');
  bars($('restart-plot'), trend.restarts);
}

const SVG = 'http://www.w3.org/2000/svg';
function line(svg, values, top, cls) {
  const points = values.map((v, i) => ((240 * (i + SAMPLES - values.length)) / (SAMPLES - 1)).toFixed(1) + ',' + (48 - (46 * v) / top).toFixed(1)).join(' ');
  let poly = svg.firstChild;
  if (!poly) { poly = document.createElementNS(SVG, 'polyline'); poly.setAttribute('class', cls); svg.appendChild(poly); }
  poly.setAttribute('points', points);
}

function bars(svg, values) {
  const top = Math.max(1, ...values);
  const width = 240 / values.length;
  const rects = values.map((v, i) => {
    const r = document.createElementNS(SVG, 'rect');
    const h = (48 * v) / top;
    r.setAttribute('class', 'restart-bar');
    r.setAttribute('x', (i * width).toFixed(1));
    r.setAttribute('y', (50 - h).toFixed(1));
    r.setAttribute('width', (width - 1).toFixed(1));
    r.setAttribute('height', h.toFixed(1));
    return r;
  });
  svg.replaceChildren(...rects);
}

function followLogs() {
  const s = shownInstance();
  const name = s ? s.name : null;
  if ($('log').dataset.name === name) return;
  if (view.logAbort) view.logAbort.abort();
  $('log').textContent = '';
  $('log').dataset.name = name || '';
  $('log-name').textContent = name ? 'of ' + name + ' (following)' : '';
  if (!name) return;
  const abort = new AbortController();
  view.logAbort = abort;
  const lines = [];
  stream('/v1/services/' + encodeURIComponent(name) + '/logs?lines=200&follow=true', (chunk) => {
    lines.push(...chunk.split('\n').filter((l, i, all) => l || i < all.length - 1));
    if (lines.length > LOG_LINES) lines.splice(0, lines.length - LOG_LINES);
    const log = $('log');
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent = lines.join('\n');
    if (atEnd) log.scrollTop = log.scrollHeight;
  }, abort.signal).catch(() => {});
}

// ---- events ---------------------------------------------------------------------

function fillServiceChoices() {
  const select = $('events-service');
  const chosen = select.value;
  const options = [new Option('every service', '')];
  for (const name of view.order) options.push(new Option(name, name));
  select.replaceChildren(...options);
  select.value = view.services.has(chosen) ? chosen : '';
}

function wanted(entry) {
  const service = $('events-service').value;
  const kind = $('events-kind').value;
  if (service && entry.service !== service) return false;
  if (kind === 'problems') return PROBLEMS.has(entry.kind) && !(entry.kind === 'exited' && entry.exit && entry.exit.class !== 'abnormal');
  return !kind || entry.kind === kind;
}

let eventsAsked = 0;
async function loadEvents() {
  const asked = ++eventsAsked;
  const service = $('events-service').value;
  const since = $('events-since').value;
  let text = '';
  try {
    await stream('/v1/events?since=' + since + (service ? '&services=' + encodeURIComponent(service) : ''), (chunk) => { text += chunk; });
  } catch (_) { return; }
  // A later change of the filters asked again: its answer counts.
  if (asked !== eventsAsked) return;
  const history = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  // Live entries written after the history was read are not in it.
  const last = history.length ? history[history.length - 1].id : 0;
  const entries = history.concat(view.entries.filter((e) => e.id > last)).filter(wanted).slice(-EVENTS_SHOWN);
  $('events').replaceChildren(...entries.slice().reverse().map(eventItem));
}

function liveEntry(entry) {
  view.entries.push(entry);
  if (view.entries.length > EVENTS_SHOWN) view.entries.shift();
  if (!wanted(entry)) return;
  const list = $('events');
  list.insertBefore(eventItem(entry), list.firstChild);
  while (list.children.length > EVENTS_SHOWN) list.lastChild.remove();
}

function eventItem(entry) {
  const li = document.createElement('li');
  const time = document.createElement('time');
  time.dateTime = entry.at;
  time.textContent = new Date(entry.at).toLocaleTimeString();
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = entry.service || entry.supervisor;
  const what = document.createElement('span');
  what.textContent = describe(entry);
  if (PROBLEMS.has(entry.kind) && !(entry.kind === 'exited' && entry.exit && entry.exit.class !== 'abnormal')) what.className = 'problem';
  li.append(time, who, what);
  return li;
}

function amount(resource, n) {
  return resource === 'memory' ? bytes(n) : String(n);
}

function describe(e) {
  const exit = (x) => x.kind + (x.signal ? ' (killed by ' + x.signal + ')' : x.code != null ? ' (exit code ' + x.code + ')' : '') + (x.reason ? ': ' + x.reason : '');
  switch (e.kind) {
    case 'started': return 'started' + (e.pid ? ' (pid ' + e.pid + ')' : '');
    case 'exited': return 'exited: ' + exit(e.exit);
    case 'start_failed': return 'failed to start: ' + exit(e.exit);
    case 'restarting': return 'restarting in ' + e.delay_ms + ' ms';
    case 'crash_loop': return 'crash loop: next try in ' + Math.round(e.delay_ms / 1000) + ' s';
    case 'failed': return 'failed: ' + e.reason;
    case 'gave_up': return 'supervisor gave up (' + e.reason + ') after ' + e.service;
    case 'command': return 'command: ' + e.command + (e.services && e.services.length ? ' ' + e.services.join(', ') : '') + (e.outcome ? ' (' + e.outcome + ')' : '');
    case 'ready': return 'ready';
    case 'resource_warning': return 'uses ' + amount(e.resource, e.used) + ' of its ' + amount(e.resource, e.limit) + ' ' + e.resource + ' limit';
    case 'resource_exceeded': return 'stopped: ' + e.resource + ' limit reached (' + amount(e.resource, e.used) + ' of ' + amount(e.resource, e.limit) + ')';
    case 'terminated': return 'stopped on request';
    case 'upgraded': return 'tend upgraded';
    case 'not_ready': return 'not ready: ' + e.reason;
    default: return e.kind.replace(/_/g, ' ');
  }
}

// ---- start ------------------------------------------------------------------------

function start() {
  takeToken();
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    view.token = $('token').value.trim();
    sessionStorage.setItem('tend-token', view.token);
    $('token-form').hidden = true;
    watch();
  });
  $('filter').addEventListener('input', () => { view.filter = $('filter').value; rebuild(); });
  $('services').addEventListener('click', (event) => {
    const tr = event.target.closest('tr[data-key]');
    if (tr) select(tr.dataset.key, true);
  });
  $('services').addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      const tr = event.target.closest('tr[data-key]');
      if (tr) select(tr.dataset.key, true);
    }
  });
  for (const b of $('actions').querySelectorAll('button')) b.addEventListener('click', () => confirmAction(b.dataset.action));
  $('confirm-ok').addEventListener('click', confirmed);
  $('confirm-cancel').addEventListener('click', () => { pending = null; $('confirm').close(); toast('cancelled'); });
  $('signal').addEventListener('keydown', (event) => { if (event.key === 'Enter') { event.preventDefault(); confirmed(); } });
  for (const id of ['events-service', 'events-kind', 'events-since']) $(id).addEventListener('change', loadEvents);
  document.addEventListener('keydown', onKey);
  setInterval(sample, 1000);
  watch();
}

start();
