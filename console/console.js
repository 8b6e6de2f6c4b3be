/* hookd console: one page, no framework, no build step. Data from senders is
 * only ever put in the page with textContent (or as an attribute value).
 *
 * Hooks for tests (stable ids and classes):
 *   body[data-view]   overview | events | event | dead | refusals | signin
 *   body[data-ready="1"]  once the first view (or the sign-in form) rendered
 *   #status           status line (class "error" for errors, "ok" for notes)
 *   form#signin, input#token, button#signin-go, button#signout
 *   #overview: svg#chart (rect.bar, 60, oldest first, data-count),
 *     #counts div[data-k=received|refused|pending|retrying|dead|oldest] > dd.v,
 *     table#refused tr.refused[data-check], table#plugins tr.plugin[data-name]
 *   #events: form#events-filter (#f-source #f-type #f-status #f-since),
 *     table#events-list tr.event[data-id] (a link to #/events/{id}), button#events-more
 *   #event-detail: #ed-id, table#ed-headers tr.header[data-name], pre#ed-body,
 *     pre#ed-enrichment, button#replay-event, #ed-deliveries .delivery[data-id]
 *     (button.replay-delivery, tr.attempt[data-n])
 *   #dead: form#dead-filter (#d-plugin #d-source #d-type), table#dead-list
 *     tr.dead-row[data-delivery] with input.dead[data-delivery], input#dead-all,
 *     button#replay-selected, button#replay-all, button#dead-more
 *   #refusals: table#refusals-list tr.refusal
 */
'use strict';
(() => {
  const REFRESH_MS = 5000;
  const TOKEN_KEY = 'hookd.token';
  const $ = (id) => document.getElementById(id);
  const body = document.body;

  /* ---- token: sessionStorage only (never a cookie) ---- */
  let memToken = null; // when storage is disabled, for this page's life only
  function getToken() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return memToken; }
  }
  function setToken(t) {
    memToken = t || null;
    try {
      if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage disabled: memToken holds it */ }
    $('signout').hidden = !t;
  }
  // #token=XYZ: keep it, then drop it from the address bar and the history entry at once.
  function takeToken() {
    if (!location.hash.startsWith('#token=')) return;
    let t = location.hash.slice(7);
    try { t = decodeURIComponent(t); } catch (e) { /* keep it as typed */ }
    history.replaceState(null, '', location.pathname + location.search + '#/');
    if (t) setToken(t);
  }
  takeToken();

  /* ---- the API ---- */
  const WHY = { 0: 'hookd unreachable', 401: 'token refused', 403: 'forbidden', 404: 'not found', 503: 'spool unreachable' };
  class ApiError extends Error {
    constructor(status, msg) { super(msg); this.status = status; }
  }
  async function api(path, post) {
    const headers = {};
    const t = getToken();
    if (t) headers.Authorization = 'Bearer ' + t;
    const opt = { cache: 'no-store', headers, credentials: 'omit', referrerPolicy: 'no-referrer' };
    // A stalled answer must not stop the refresh loop for good.
    if (typeof AbortSignal !== 'undefined' && AbortSignal.timeout) opt.signal = AbortSignal.timeout(15000);
    if (post !== undefined) {
      opt.method = 'POST';
      headers['Content-Type'] = 'application/json';
      opt.body = JSON.stringify(post);
    }
    let r;
    try { r = await fetch('/api/v1/' + path, opt); } catch (e) {
      throw new ApiError(0, e && e.name === 'TimeoutError' ? 'hookd did not answer in 15 s' : WHY[0]);
    }
    let j = null;
    try { j = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) {
      const m = j && typeof j.error === 'string' && j.error ? j.error : (WHY[r.status] || 'error');
      throw new ApiError(r.status, m);
    }
    if (!j || typeof j !== 'object') throw new ApiError(r.status, 'not a JSON answer');
    return j;
  }

  /* ---- DOM helpers: write only what changed, so a refresh keeps focus and selection ---- */
  function setText(el, s) {
    s = s == null ? '' : String(s);
    if (el.textContent !== s) el.textContent = s;
  }
  function setAttr(el, k, v) {
    v = String(v);
    if (el.getAttribute(k) !== v) el.setAttribute(k, v);
  }
  function h(tag, cls, text) {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text != null) el.textContent = text;
    return el;
  }
  // A table row with one cell per label; the label shows before the value in the card layout.
  function row(cls, labels) {
    const tr = h('tr', cls);
    for (const l of labels) {
      const td = h('td');
      td.dataset.label = l;
      tr.appendChild(td);
    }
    return tr;
  }
  // Keyed update of a container's children: new items are created, gone ones
  // removed, kept ones updated in place and moved only when out of order.
  function sync(box, items, key, make, update) {
    const old = new Map();
    for (const el of box.children) old.set(el.dataset.key, el);
    let prev = null;
    for (const it of items) {
      const k = key(it);
      let el = old.get(k);
      if (el) old.delete(k);
      else { el = make(it); el.dataset.key = k; }
      update(el, it);
      const want = prev ? prev.nextSibling : box.firstChild;
      if (el !== want) box.insertBefore(el, want);
      prev = el;
    }
    for (const el of old.values()) el.remove();
  }
  // The table's tbody plus its "nothing here" paragraph.
  function syncTable(table, items, key, make, update) {
    sync(table.tBodies[0], items, key, make, update);
    const empty = table.nextElementSibling;
    if (empty && empty.classList.contains('empty')) show(empty, !items.length);
  }
  function uniq(items, key) {
    const seen = new Set();
    return items.filter((it) => { const k = key(it); if (seen.has(k)) return false; seen.add(k); return true; });
  }
  // cls: the element's own class, kept (the state's colour is the s-* class).
  function badge(el, v, cls) {
    setText(el, v);
    setAttr(el, 'class', (cls ? cls + ' ' : '') + 'badge s-' + String(v).replace(/[^a-z]/g, ''));
  }
  function show(el, on) {
    if (el.hidden === !!on) el.hidden = !on;
  }
  function link(a, href, text) {
    setAttr(a, 'href', href);
    setText(a, text);
  }

  /* ---- formatting ---- */
  const pad = (n) => String(n).padStart(2, '0');
  function when(iso, full) {
    if (!iso) return '—';
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    const t = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    const day = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
    if (!full && d.toDateString() === new Date().toDateString()) return t;
    return day + ' ' + t;
  }
  function timeCell(td, iso, full) {
    setText(td, when(iso, full));
    if (iso) setAttr(td, 'title', iso);
  }
  function age(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + 's';
    const m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + (s % 60) + 's';
    const hr = Math.floor(m / 60);
    if (hr < 48) return hr + 'h ' + (m % 60) + 'm';
    return Math.floor(hr / 24) + 'd ' + (hr % 24) + 'h';
  }
  const num = (v) => (typeof v === 'number' ? v.toLocaleString('en') : '–');

  /* ---- status line ---- */
  const status = $('status');
  function say(msg, kind) {
    setText(status, msg);
    setAttr(status, 'class', kind || '');
    status.hidden = !msg;
  }
  function fail(e) {
    if (e.status === 401) { signin(true); return; }
    say(e.status ? e.message + ' (' + e.status + ')' : e.message, 'error');
  }

  /* ---- routing: every view lives in the fragment ---- */
  function parse() {
    let path = location.hash.replace(/^#\/?/, '');
    let q = '';
    const i = path.indexOf('?');
    if (i >= 0) { q = path.slice(i + 1); path = path.slice(0, i); }
    const p = new URLSearchParams(q);
    const parts = path.split('/').filter(Boolean);
    const one = parts.length === 1;
    if (!parts.length) return { view: 'overview', p };
    if (parts[0] === 'events' && one) return { view: 'events', p };
    if (parts[0] === 'events' && parts.length === 2) {
      let id = parts[1];
      try { id = decodeURIComponent(id); } catch (e) { /* as typed */ }
      return { view: 'event', id, p };
    }
    if (parts[0] === 'dead' && one) return { view: 'dead', p };
    if (parts[0] === 'refusals' && one) return { view: 'refusals', p };
    return { view: 'overview', p, unknown: true };
  }
  const SECTION = { overview: 'overview', events: 'events', event: 'event-detail', dead: 'dead', refusals: 'refusals' };
  const NAV = { event: 'events' };
  function query(p, keys) {
    const q = new URLSearchParams();
    for (const k of keys) { const v = p.get(k); if (v) q.set(k, v); }
    return q;
  }
  // One page of a list (events, dead letters) into st.rows: "more" appends the
  // next page; a refresh asks again for as many rows as are shown.
  async function loadPage(st, path, keys, list, id, g, more) {
    const q = query(route.p, keys);
    if (more) q.set('cursor', st.next);
    else q.set('limit', String(Math.min(500, Math.max(50, st.rows.length))));
    const j = await api(path + '?' + q);
    if (g !== gen) return false;
    const got = Array.isArray(j[list]) ? j[list] : [];
    st.rows = uniq(more ? st.rows.concat(got) : got, (x) => String(x[id]));
    st.next = j.next || null;
    return true;
  }
  function fillForm(map, p) {
    for (const k in map) {
      const el = $(map[k]);
      if (document.activeElement !== el) el.value = p.get(k) || '';
    }
  }
  function submitTo(form, base, map) {
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      for (const k in map) { const v = $(map[k]).value.trim(); if (v) q.set(k, v); }
      const s = q.toString();
      location.hash = base + (s ? '?' + s : '');
    });
  }

  /* ---- overview ---- */
  const chart = $('chart');
  const SVG = 'http://www.w3.org/2000/svg';
  function renderChart(pm) {
    const counts = pm && Array.isArray(pm.counts) ? pm.counts.map((c) => +c || 0) : [];
    const n = counts.length;
    while (chart.childNodes.length > n) chart.lastChild.remove();
    while (chart.childNodes.length < n) {
      const r = document.createElementNS(SVG, 'rect');
      r.setAttribute('class', 'bar');
      r.appendChild(document.createElementNS(SVG, 'title'));
      chart.appendChild(r);
    }
    const max = Math.max(1, ...counts);
    const start = pm && Date.parse(pm.start);
    const w = 600 / n;
    let total = 0;
    counts.forEach((c, i) => {
      total += c;
      const r = chart.childNodes[i];
      const ht = c ? Math.max(2, (c / max) * 116) : 0;
      setAttr(r, 'x', (i * w + w * 0.1).toFixed(2));
      setAttr(r, 'width', (w * 0.8).toFixed(2));
      setAttr(r, 'y', (120 - ht).toFixed(2));
      setAttr(r, 'height', ht.toFixed(2));
      setAttr(r, 'data-count', c);
      const t = isNaN(start) ? '' : when(new Date(start + i * 60000).toISOString()) + ': ';
      setText(r.firstChild, t + c + (c === 1 ? ' event' : ' events'));
    });
    setAttr(chart, 'aria-label', 'Events per minute over the last hour: ' + total + ' in all, at most ' + Math.max(0, ...counts) + ' in a minute');
    setText($('chart-start'), isNaN(start) ? '' : when(pm.start));
    setText($('chart-max'), 'peak ' + Math.max(0, ...counts) + '/min · ' + total + ' in the hour');
    setText($('chart-end'), 'now');
  }
  function count(k, v, warn) {
    const box = document.querySelector('#counts [data-k="' + k + '"]');
    setText(box.querySelector('.v'), v);
    box.classList.toggle('warn', !!warn);
  }
  async function loadOverview(g) {
    const s = await api('stats');
    if (g !== gen) return;
    const refused = s.refused && typeof s.refused === 'object' ? s.refused : {};
    const nref = Object.values(refused).reduce((a, b) => a + (+b || 0), 0);
    const now = Date.parse(s.now) || Date.now();
    const oldest = s.oldest_pending_at ? Date.parse(s.oldest_pending_at) : NaN;
    count('received', num(s.received));
    count('refused', num(nref), nref > 0);
    count('pending', num(s.pending));
    count('retrying', num(s.retrying), s.retrying > 0);
    count('dead', num(s.dead), s.dead > 0);
    count('oldest', isNaN(oldest) ? 'none' : age(now - oldest), !isNaN(oldest) && now - oldest > 300000);
    const up = Date.parse(s.started_at);
    setText($('node'), [s.node, s.driver, isNaN(up) ? '' : 'up ' + age(now - up)].filter(Boolean).join(' · '));
    renderChart(s.per_minute);
    const rows = Object.keys(refused).map((k) => [k, +refused[k] || 0]).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    syncTable($('refused'), rows, (r) => r[0], (r) => {
      const tr = row('refused', ['Check', 'Count']);
      tr.dataset.check = r[0];
      tr.cells[1].className = 'n';
      return tr;
    }, (tr, r) => { setText(tr.cells[0], r[0]); setText(tr.cells[1], num(r[1])); });
    const plugins = uniq(Array.isArray(s.plugins) ? s.plugins : [], (p) => String(p.name));
    syncTable($('plugins'), plugins, (p) => String(p.name), (p) => {
      const tr = row('plugin', ['Instance', 'Plugin', 'Delivered', 'Pending', 'Dead', 'OK 1h', 'Failed 1h']);
      tr.dataset.name = p.name;
      for (let i = 2; i < 7; i++) tr.cells[i].className = 'n';
      return tr;
    }, (tr, p) => {
      const c = tr.cells;
      setText(c[0], p.name); setText(c[1], p.plugin); setText(c[2], num(p.delivered));
      setText(c[3], num(p.pending)); setText(c[4], num(p.dead)); setText(c[5], num(p.ok_1h));
      setText(c[6], num(p.failed_1h));
      tr.classList.toggle('bad', p.failed_1h > 0 || p.dead > 0);
    });
  }

  /* ---- events ---- */
  const EV_FORM = { source: 'f-source', type: 'f-type', status: 'f-status', since: 'f-since' };
  const evs = { rows: [], next: null, key: null };
  let eventsHash = '#/events';
  function delivSummary(d) {
    if (!d || typeof d !== 'object') return '';
    const parts = [];
    for (const k of ['delivered', 'pending', 'dead']) if (d[k]) parts.push(d[k] + ' ' + k);
    return parts.join(', ') || 'none';
  }
  async function loadEvents(g, more) {
    if (!await loadPage(evs, 'events', Object.keys(EV_FORM), 'events', 'id', g, more)) return;
    syncTable($('events-list'), evs.rows, (e) => String(e.id), (e) => {
      const tr = row('event', ['Received', 'Event', 'Source', 'Type', 'Status', 'Deliveries']);
      tr.dataset.id = e.id;
      tr.cells[1].appendChild(h('a', 'mono'));
      tr.cells[4].appendChild(h('span'));
      return tr;
    }, (tr, e) => {
      const c = tr.cells;
      timeCell(c[0], e.received_at);
      link(c[1].firstChild, '#/events/' + encodeURIComponent(e.id), e.id);
      setText(c[2], e.source); setText(c[3], e.type);
      badge(c[4].firstChild, e.status || 'none');
      setText(c[5], delivSummary(e.deliveries));
    });
    show($('events-more'), evs.next);
    // For the browser test's number: navigation to the first rendered list.
    if (!performance.getEntriesByName('hookd-list').length) performance.mark('hookd-list');
  }
  // A tap anywhere on a row opens the event (the id link alone is a small target on a phone).
  $('events-list').tBodies[0].addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr.event');
    if (!tr || ev.target.closest('a, button, input') || String(getSelection()).length) return;
    location.hash = '#/events/' + encodeURIComponent(tr.dataset.id);
  });

  /* ---- one event ---- */
  let shownEvent = null;
  let lastEvent = null;
  function clearEvent(id) {
    shownEvent = id;
    lastEvent = null;
    setText($('ed-id'), id);
    for (const k of ['ed-source', 'ed-type', 'ed-received', 'ed-enrichment']) setText($(k), '');
    setText($('ed-body'), 'loading…');
    sync($('ed-headers').tBodies[0], [], String, null, null);
    sync($('ed-deliveries'), [], String, null, null);
  }
  function renderBody(e) {
    let text;
    if (typeof e.body === 'string') {
      text = e.body;
      if (!$('ed-raw').checked) {
        try {
          const v = JSON.parse(text);
          if (v && typeof v === 'object') text = JSON.stringify(v, null, 2);
        } catch (x) { /* not JSON: as received */ }
      }
    } else if (typeof e.body_base64 === 'string') {
      text = '(not UTF-8; base64)\n' + e.body_base64;
    } else text = '(no body)';
    setText($('ed-body'), text);
  }
  function renderDelivery(sec, d) {
    const q = (c) => sec.querySelector(c);
    setText(q('.plugin'), d.plugin);
    badge(q('.state'), d.state, 'state');
    const bits = [d.attempts + (d.attempts === 1 ? ' attempt' : ' attempts')];
    if (d.next_at) bits.push('next ' + when(d.next_at, true));
    if (d.updated_at) bits.push('updated ' + when(d.updated_at, true));
    setText(q('.info'), bits.join(' · '));
    setText(q('.reason'), d.reason || '');
    show(q('.reason'), d.reason);
    q('.replay-delivery').dataset.plugin = d.plugin;
    const hist = uniq(Array.isArray(d.history) ? d.history : [], (a) => String(a.n));
    syncTable(q('table'), hist, (a) => String(a.n), (a) => {
      const tr = row('attempt', ['#', 'Started', 'Duration', 'Result', 'Reason', 'Retry at']);
      tr.dataset.n = a.n;
      tr.cells[2].className = 'n';
      tr.cells[3].appendChild(h('span'));
      return tr;
    }, (tr, a) => {
      const c = tr.cells;
      setText(c[0], a.n);
      timeCell(c[1], a.started_at, true);
      setText(c[2], typeof a.duration_ms === 'number' ? a.duration_ms + ' ms' : '–');
      badge(c[3].firstChild, a.result);
      setText(c[4], a.reason || '');
      timeCell(c[5], a.retry_at, true);
    });
  }
  function makeDelivery(d) {
    const sec = h('section', 'delivery card');
    sec.dataset.id = d.id;
    const head = h('h3');
    head.append(h('span', 'plugin'), ' ', h('span', 'state'));
    const btn = h('button', 'replay-delivery', 'Replay');
    btn.type = 'button';
    const tbl = h('table', 'cards attempts');
    const tr = h('tr');
    for (const l of ['#', 'Started', 'Duration', 'Result', 'Reason', 'Retry at']) {
      const th = h('th', l === 'Duration' ? 'n' : '', l);
      th.scope = 'col';
      tr.appendChild(th);
    }
    tbl.createTHead().appendChild(tr);
    tbl.appendChild(h('tbody'));
    sec.append(head, h('p', 'info muted'), h('p', 'reason'), btn, tbl, h('p', 'empty', 'No attempt yet.'));
    return sec;
  }
  async function loadEvent(g) {
    const id = route.id;
    if (shownEvent !== id) clearEvent(id);
    let e;
    try { e = await api('events/' + encodeURIComponent(id)); } catch (x) {
      if (g === gen && !lastEvent) setText($('ed-body'), '');
      throw x;
    }
    if (g !== gen) return;
    lastEvent = e;
    setText($('ed-id'), e.id);
    setText($('ed-source'), e.source);
    setText($('ed-type'), e.type);
    timeCell($('ed-received'), e.received_at, true);
    const hd = e.headers && typeof e.headers === 'object' ? Object.keys(e.headers).map((k) => [k, e.headers[k]]) : [];
    syncTable($('ed-headers'), hd, (x) => x[0], (x) => {
      const tr = h('tr', 'header');
      tr.dataset.name = x[0];
      tr.append(h('th'), h('td', 'mono'));
      tr.firstChild.scope = 'row';
      return tr;
    }, (tr, x) => { setText(tr.cells[0], x[0]); setText(tr.cells[1], typeof x[1] === 'string' ? x[1] : JSON.stringify(x[1])); });
    renderBody(e);
    setText($('ed-enrichment'), e.enrichment == null ? '(none)' : JSON.stringify(e.enrichment, null, 2));
    const ds = uniq(Array.isArray(e.deliveries) ? e.deliveries : [], (d) => String(d.id));
    sync($('ed-deliveries'), ds, (d) => String(d.id), makeDelivery, renderDelivery);
    show($('ed-nodeliveries'), !ds.length);
  }
  $('ed-raw').addEventListener('change', () => { if (lastEvent) renderBody(lastEvent); });
  async function replayEvent(btn, post) {
    btn.disabled = true;
    try {
      const r = await api('events/' + encodeURIComponent(route.id) + '/replay', post);
      say('replayed ' + (r.replayed | 0) + ' ' + (r.replayed === 1 ? 'delivery' : 'deliveries'), 'ok');
      refresh(true);
    } catch (e) { fail(e); } finally { btn.disabled = false; }
  }
  $('replay-event').addEventListener('click', (ev) => replayEvent(ev.currentTarget, {}));
  $('ed-deliveries').addEventListener('click', (ev) => {
    const b = ev.target.closest('button.replay-delivery');
    if (b) replayEvent(b, { plugins: [b.dataset.plugin] });
  });

  /* ---- dead letters ---- */
  const DEAD_FORM = { plugin: 'd-plugin', source: 'd-source', type: 'd-type' };
  const dead = { rows: [], next: null, sel: new Set(), key: null };
  function deadButtons() {
    const n = dead.sel.size;
    $('replay-selected').disabled = n === 0;
    setText($('replay-selected'), n ? 'Replay selected (' + n + ')' : 'Replay selected');
    const all = $('dead-all');
    all.checked = n > 0 && n === dead.rows.length;
    all.indeterminate = n > 0 && n < dead.rows.length;
  }
  async function loadDead(g, more) {
    if (!await loadPage(dead, 'dead', Object.keys(DEAD_FORM), 'dead', 'delivery', g, more)) return;
    const keep = new Set(dead.rows.map((d) => String(d.delivery)));
    for (const k of dead.sel) if (!keep.has(k)) dead.sel.delete(k);
    syncTable($('dead-list'), dead.rows, (d) => String(d.delivery), (d) => {
      const tr = row('dead-row', ['', 'Dead since', 'Event', 'Source', 'Type', 'Plugin', 'Attempts', 'Reason']);
      tr.dataset.delivery = d.delivery;
      const cb = h('input', 'dead');
      cb.type = 'checkbox';
      cb.dataset.delivery = d.delivery;
      cb.setAttribute('aria-label', 'Select delivery ' + d.delivery);
      tr.cells[0].className = 'pick';
      tr.cells[0].appendChild(cb);
      tr.cells[2].appendChild(h('a', 'mono'));
      tr.cells[6].className = 'n';
      return tr;
    }, (tr, d) => {
      const c = tr.cells;
      const cb = c[0].firstChild;
      const on = dead.sel.has(String(d.delivery));
      if (cb.checked !== on) cb.checked = on;
      timeCell(c[1], d.at);
      link(c[2].firstChild, '#/events/' + encodeURIComponent(d.event), d.event);
      setText(c[3], d.source); setText(c[4], d.type); setText(c[5], d.plugin);
      setText(c[6], d.attempts); setText(c[7], d.reason);
    });
    show($('dead-more'), dead.next);
    deadButtons();
  }
  $('dead-list').addEventListener('change', (ev) => {
    const t = ev.target;
    if (t.id === 'dead-all') {
      for (const cb of $('dead-list').querySelectorAll('input.dead')) {
        cb.checked = t.checked;
        if (t.checked) dead.sel.add(cb.dataset.delivery); else dead.sel.delete(cb.dataset.delivery);
      }
    } else if (t.classList.contains('dead')) {
      if (t.checked) dead.sel.add(t.dataset.delivery); else dead.sel.delete(t.dataset.delivery);
    }
    deadButtons();
  });
  async function replayDead(btn, post) {
    btn.disabled = true;
    try {
      const r = await api('dead/replay', post);
      say('replayed ' + (r.replayed | 0) + ' dead ' + (r.replayed === 1 ? 'letter' : 'letters'), 'ok');
      dead.sel.clear();
      await refresh(true);
    } catch (e) { fail(e); } finally { btn.disabled = false; deadButtons(); }
  }
  $('replay-selected').addEventListener('click', (ev) => {
    const ids = [...dead.sel].map(Number).filter((n) => Number.isInteger(n));
    if (ids.length) replayDead(ev.currentTarget, { deliveries: ids });
  });
  $('replay-all').addEventListener('click', (ev) => {
    // The filter applied (the address), not what is typed but not yet submitted.
    const f = {};
    for (const k of Object.keys(DEAD_FORM)) { const v = route.p.get(k); if (v) f[k] = v; }
    const desc = Object.keys(f).map((k) => k + '=' + f[k]).join(', ');
    if (confirm(desc ? 'Replay every dead letter matching ' + desc + '?' : 'Replay every dead letter?')) replayDead(ev.currentTarget, f);
  });

  /* ---- refusals ---- */
  async function loadRefusals(g) {
    const j = await api('refusals?limit=200');
    if (g !== gen) return;
    const seen = new Map();
    const rows = (Array.isArray(j.refusals) ? j.refusals : []).map((r) => {
      const k = [r.at, r.peer, r.status, r.check, r.source, r.reason].join('|');
      const n = (seen.get(k) || 0) + 1;
      seen.set(k, n);
      return [k + '#' + n, r];
    });
    syncTable($('refusals-list'), rows, (x) => x[0], () => {
      const tr = row('refusal', ['When', 'Source', 'Peer', 'Status', 'Check', 'Reason']);
      tr.cells[3].className = 'n';
      return tr;
    }, (tr, x) => {
      const r = x[1];
      const c = tr.cells;
      timeCell(c[0], r.at);
      setText(c[1], r.source || '—'); setText(c[2], r.peer); setText(c[3], r.status);
      setText(c[4], r.check); setText(c[5], r.reason);
    });
  }

  /* ---- the loop ---- */
  const LOAD = { overview: loadOverview, events: loadEvents, event: loadEvent, dead: loadDead, refusals: loadRefusals };
  let route = parse();
  let gen = 0;
  let busy = 0;
  let signedOut = false;
  function ready() {
    if (body.dataset.ready !== '1') body.dataset.ready = '1';
  }
  const signinWhy = $('signin-why').textContent;
  function signin(refused) {
    signedOut = true;
    setText($('signin-why'), refused && getToken() ? 'The token was refused; enter the admin token.' : signinWhy);
    setToken(null);
    for (const v of Object.values(SECTION)) $(v).hidden = true;
    $('signin').hidden = false;
    body.dataset.view = 'signin';
    say('', '');
    $('token').focus();
    ready();
  }
  $('signin').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('token').value.trim();
    if (!t) return;
    setToken(t);
    $('token').value = '';
    go();
  });
  $('signout').addEventListener('click', () => { setToken(null); signin(false); });
  async function refresh(now, more) {
    if (signedOut || (busy && !now) || (document.hidden && !now)) return;
    const g = gen;
    busy = g;
    try {
      await LOAD[route.view](g, more);
      if (g === gen) {
        if (status.className === 'error') say('', '');
        setText($('updated'), 'updated ' + when(new Date().toISOString()));
      }
    } catch (e) {
      if (g === gen) fail(e);
    } finally {
      if (busy === g) busy = 0;
      if (g === gen && !signedOut) ready();
    }
  }
  function go() {
    takeToken();
    route = parse();
    gen++;
    signedOut = false;
    $('signin').hidden = true;
    const sec = SECTION[route.view];
    for (const v of Object.values(SECTION)) if ($(v).hidden !== (v !== sec)) $(v).hidden = v !== sec;
    body.dataset.view = route.view;
    const nav = NAV[route.view] || route.view;
    for (const a of document.querySelectorAll('nav a')) {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    say('', '');
    if (route.unknown) say('no such view: ' + location.hash, 'warn');
    if (route.view === 'events') {
      eventsHash = location.hash || '#/events';
      fillForm(EV_FORM, route.p);
      // Back from an event to the same filter keeps the pages loaded.
      if (evs.key !== route.p.toString()) { evs.rows = []; evs.next = null; evs.key = route.p.toString(); }
    } else if (route.view === 'event') {
      setAttr($('ed-back'), 'href', eventsHash);
    } else if (route.view === 'dead') {
      fillForm(DEAD_FORM, route.p);
      if (dead.key !== route.p.toString()) {
        dead.rows = []; dead.next = null; dead.sel.clear(); dead.key = route.p.toString();
      }
    }
    document.title = 'hookd · ' + (route.view === 'event' ? 'event ' + route.id : route.view);
    return refresh(true);
  }
  submitTo($('events-filter'), '#/events', EV_FORM);
  submitTo($('dead-filter'), '#/dead', DEAD_FORM);
  // Not while a refresh runs: it would put back the shorter list after the next page came.
  const more = () => { if (!busy) refresh(true, true); };
  $('events-more').addEventListener('click', more);
  $('dead-more').addEventListener('click', more);
  window.addEventListener('hashchange', go);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(false); });
  setInterval(() => refresh(false), REFRESH_MS);
  $('signout').hidden = !getToken();
  go();
})();
