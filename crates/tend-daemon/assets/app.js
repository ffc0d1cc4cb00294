// tend's dashboard. No framework and no build step: this file is served
// as it is, from inside the binary.
//
// Everything comes from the API: GET /v1/watch (server-sent events: a
// snapshot, then only what changed), GET /v1/events (the journal, filtered
// by the server, then followed live), the log stream of the selected
// instance, and the actions. Every word shown comes from the server as it
// is (a status's `text`, an entry's `text` and `problem`): this file
// renders no state, exit or event itself, and compares none.
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
  eventsAbort: null,
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

// What each message of the watch stream does, by its kind. Journal
// entries only make the picture come sooner: the event list follows its
// own, filtered, stream.
const TAKE = {
  snapshot: takeSnapshot,
  changed: takeChanges,
};

function take(message) {
  const taken = TAKE[message.kind];
  if (taken) taken(message, Date.now());
}

function takeSnapshot(message, now) {
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
  followEvents();
}

function takeChanges(message, now) {
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
}

// Restarts before the page opened, from the journal.
async function backfill() {
  const now = Date.now();
  let text = '';
  try {
    await stream('/v1/events?kinds=restarting&since=' + (BUCKET_MS * BUCKETS / 1000) + 's', (chunk) => { text += chunk; });
  } catch (_) { return; }
  for (const line of text.split('\n')) {
    if (!line) continue;
    const entry = JSON.parse(line);
    if (view.trends.has(entry.service)) {
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
  return !f || s.name.toLowerCase().includes(f) || (s.group || '').toLowerCase().includes(f) || s.text.state.includes(f);
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
    cell(tr, 'state', s.text.state);
    cell(tr, 'pid', s.pid ? String(s.pid) : '-');
    cell(tr, 'restarts', String(s.restarts));
    cell(tr, 'ready', s.pid ? (s.ready ? 'yes' : 'no') : '-');
    cell(tr, 'exit', (s.waiting_for ? s.text.status : s.text.last_exit) || '-');
  }
  // How long its process has run (none: nothing runs).
  cell(tr, 'uptime', s.pid ? duration(uptime(s)) : '-');
  if (trend) sparkline(tr.querySelector('.spark'), trend.restarts.slice(-12));
  const cpu = trend && trend.cpu.length ? trend.cpu[trend.cpu.length - 1] : null;
  cell(tr, 'cpu', s.pid && cpu !== null ? cpu.toFixed(1) + '%' : '-');
  cell(tr, 'memory', s.pid && s.memory_bytes ? bytes(s.memory_bytes) : '-');
}

// A group's row: how many of its members are in each state (3/3 running).
function updateGroups() {
  for (const [group, tr] of view.groupRows) {
    const members = view.order.map((n) => view.services.get(n)).filter((s) => s && s.group === group);
    const counts = new Map();
    for (const s of members) counts.set(s.state, (counts.get(s.state) || 0) + 1);
    const states = [...counts].map(([state, n]) => n + '/' + members.length + ' ' + state);
    const text = '▾ ' + group + '   ' + states.join(', ');
    if (tr.firstChild.textContent !== text) tr.firstChild.textContent = text;
  }
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
    x: () => confirmAction('signal', true),
  };
  const act = keys[event.key];
  if (act && (view.selected !== null || event.key === '/')) {
    event.preventDefault();
    act();
  }
}

// ---- actions -------------------------------------------------------------------

let pending = null;

// Asks before `action` (a word of the API's path); `withSignal`: it
// sends the signal typed into the dialog.
function confirmAction(action, withSignal) {
  const name = target();
  if (!name) return;
  pending = { action, name, withSignal };
  const what = view.selected.startsWith('g:') ? 'every service of group ' + name : name;
  const verb = action.charAt(0).toUpperCase() + action.slice(1);
  $('confirm-text').textContent = withSignal ? 'Send a signal to ' + what + '?' : verb + ' ' + what + '?';
  $('signal-field').hidden = !withSignal;
  $('confirm-ok').textContent = withSignal ? 'Send' : verb;
  $('confirm').showModal();
  (withSignal ? $('signal') : $('confirm-cancel')).focus();
}

async function confirmed() {
  $('confirm').close();
  if (!pending) return;
  const { action, name, withSignal } = pending;
  pending = null;
  const path = '/v1/services/' + encodeURIComponent(name) + '/' + action;
  try {
    if (withSignal) {
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
  const facts = [s.text.state, s.pid ? 'pid ' + s.pid : null, 'started ' + s.starts + '×', s.restarts + ' restarts',
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

// The event list: the journal as the server filters it (service, kind or
// problems only, how far back), newest first, then what it writes next.
// Asked again whenever a filter changes.
function followEvents() {
  if (view.eventsAbort) view.eventsAbort.abort();
  const abort = new AbortController();
  view.eventsAbort = abort;
  const service = $('events-service').value;
  const kind = $('events-kind').selectedOptions[0].dataset.query;
  let path = '/v1/events?follow=true&limit=' + EVENTS_SHOWN + '&since=' + $('events-since').value;
  if (service) path += '&services=' + encodeURIComponent(service);
  if (kind) path += '&' + kind;
  const list = $('events');
  list.replaceChildren();
  let partial = '';
  stream(path, (chunk) => {
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop();
    const items = lines.filter(Boolean).map((l) => eventItem(JSON.parse(l)));
    list.prepend(...items.reverse());
    while (list.children.length > EVENTS_SHOWN) list.lastChild.remove();
  }, abort.signal).catch(() => {});
}

function eventItem(entry) {
  const li = document.createElement('li');
  const time = document.createElement('time');
  time.dateTime = entry.at;
  time.textContent = new Date(entry.at).toLocaleTimeString();
  const what = document.createElement('span');
  what.textContent = entry.text;
  if (entry.problem) what.className = 'problem';
  li.append(time, what);
  return li;
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
  for (const b of $('actions').querySelectorAll('button')) b.addEventListener('click', () => confirmAction(b.dataset.action, 'signal' in b.dataset));
  $('confirm-ok').addEventListener('click', confirmed);
  $('confirm-cancel').addEventListener('click', () => { pending = null; $('confirm').close(); toast('cancelled'); });
  $('signal').addEventListener('keydown', (event) => { if (event.key === 'Enter') { event.preventDefault(); confirmed(); } });
  for (const id of ['events-service', 'events-kind', 'events-since']) $(id).addEventListener('change', followEvents);
  document.addEventListener('keydown', onKey);
  setInterval(sample, 1000);
  watch();
}

start();
