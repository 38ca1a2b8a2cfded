// The sessions page: one live table of every session, filterable and sortable, with a mark
// on each session that waits for a person. Rows are built once and then only the cells
// whose text changed are touched; CPU, memory, tokens and cost of the rows on screen are
// read again every few seconds (`GET /sessions/{id}/telemetry`, a few at a time).

import { api, seg } from './api.js';
import * as store from './store.js';
import {
  h, setText, needsYou, figures, fmtPct, fmtBytes, fmtTokens, fmtCost, fmtDuration,
  stateLabel, ENDED, pool,
} from './util.js';

const TELEMETRY_EVERY_MS = 5000;
/** Script time a batch of rows may take before the rest waits for the next frame. */
const FRAME_BUDGET_MS = 25;

const COLUMNS = [
  { key: 'name', label: 'Session', value: (r) => (r.name || r.session_id).toLowerCase() },
  { key: 'agent', label: 'Agent', value: (r) => r.agent_type || '' },
  { key: 'task', label: 'Task', value: (r) => r.task_id || '' },
  { key: 'state', label: 'State', value: (r) => `${needsYou(r) ? 0 : 1}${r.state}` },
  { key: 'cpu', label: 'CPU', num: true, value: (r) => figures(r).cpu ?? -1 },
  { key: 'mem', label: 'Memory', num: true, value: (r) => figures(r).mem ?? -1 },
  { key: 'tokens', label: 'Tokens', num: true, value: (r) => figures(r).tokens ?? -1 },
  { key: 'cost', label: 'Cost', num: true, value: (r) => figures(r).cost ?? -1 },
  { key: 'age', label: 'Age', num: true, value: (r) => -(Date.parse(r.created_at) || 0) },
];

export function mount(root, { setTitle }) {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  let sort = { key: null, dir: 1 };
  let filterText = params.get('q') || '';
  let onlyLive = false;
  let onlyAttn = false;

  const filter = h('input', {
    id: 'filter', type: 'search', value: filterText, placeholder: 'agent, name, task, state or id',
    autocomplete: 'off',
  });
  const liveBox = h('input', { id: 'only-live', type: 'checkbox' });
  const attnBox = h('input', { id: 'only-attn', type: 'checkbox' });
  const counts = h('p', { id: 'counts', class: 'counts', 'aria-live': 'polite' });
  // Says so when a session starts waiting for a person (not for those already waiting).
  const announcer = h('p', { class: 'sr-only', 'aria-live': 'assertive', id: 'announce' });
  const attnButton = h('button', { type: 'button', class: 'attn-summary', hidden: true });
  const tbody = h('tbody');
  const heads = COLUMNS.map((c) => {
    const b = h('button', { type: 'button', class: 'sort', dataset: { key: c.key } }, c.label,
      h('span', { class: 'sort-mark', 'aria-hidden': 'true' }));
    return h('th', { scope: 'col', class: `c-${c.key}${c.num ? ' num' : ''}`, 'aria-sort': 'none' }, b);
  });
  const table = h('table', { class: 'grid sessions', id: 'sessions-table' },
    h('caption', { class: 'sr-only' }, 'Sessions. Column headers sort the table.'),
    h('thead', null, h('tr', null, heads)), tbody);
  const empty = h('div', { class: 'empty', hidden: true },
    h('p', null, 'No sessions yet.'),
    h('p', null, 'Start one: ', h('code', null, 'agent-sessions start custom -- bash --norc')));
  const loading = h('p', { class: 'loading', role: 'status' }, 'Loading sessions…');

  root.append(
    h('div', { class: 'page-head' },
      h('h1', { id: 'page-title' }, 'Sessions'),
      attnButton),
    h('div', { class: 'toolbar', role: 'search' },
      h('label', { for: 'filter' }, 'Filter'), filter,
      h('label', { class: 'check' }, liveBox, ' Live only'),
      h('label', { class: 'check' }, attnBox, ' Needs you only'),
      counts),
    loading, announcer,
    h('div', { class: 'table-wrap' }, table),
    empty,
  );

  /** id → {tr, cells, key (filter text), visible} */
  const rows = new Map();
  const visible = new Set();
  const observer = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const id = e.target.dataset.id;
      if (e.isIntersecting) visible.add(id); else visible.delete(id);
    }
  });
  let order = [];
  /** Every session known at the start is drawn: from now on, changes are news. */
  let initialDone = false;

  // One row made once and cloned for each session (much cheaper than building each).
  const proto = h('tr', null,
    h('td', { class: 'name' }, h('a', { class: 'session-link' }), h('span', { class: 'sid' })),
    h('td'), h('td'),
    h('td', { class: 'state' },
      h('span', { class: 'badge' }),
      h('span', { class: 'attn', title: 'Waits for a person', hidden: true },
        h('span', { class: 'attn-icon', 'aria-hidden': 'true', text: '!' }), ''),
      h('span', { class: 'reason' }), h('span', { class: 'source' })),
    ['cpu', 'mem', 'tokens', 'cost', 'age'].map(() => h('td', { class: 'num' })));
  proto.querySelector('.attn').append(document.createTextNode(''));

  function buildRow(rec) {
    const id = rec.session_id;
    const tr = proto.cloneNode(true);
    tr.dataset.id = id;
    const c = tr.children;
    const cells = {
      name: c[0], agent: c[1], task: c[2], state: c[3], cpu: c[4], mem: c[5], tokens: c[6],
      cost: c[7], age: c[8],
    };
    const link = c[0].firstChild;
    link.href = `#/session/${encodeURIComponent(id)}`;
    const sc = c[3].children;
    const st = { badge: sc[0], attn: sc[1], attnText: sc[1].lastChild, reason: sc[2], source: sc[3] };
    const row = { tr, cells, link, idLine: c[0].lastChild, st, stateKey: '', filterKey: '', shown: true, tel: undefined };
    rows.set(id, row);
    observer.observe(tr);
    return row;
  }

  function fillRow(row, rec) {
    setText(row.link, rec.name || rec.session_id);
    setText(row.idLine, rec.name ? rec.session_id : '');
    setText(row.cells.agent, rec.agent_type || '');
    setText(row.cells.task, rec.task_id || '');
    const attn = needsYou(rec);
    const stateKey = `${rec.state}|${rec.state_reason}|${rec.state_source}|${attn}`;
    if (row.stateKey !== stateKey) {
      const st = row.st;
      st.badge.className = `badge st-${rec.state}`;
      st.badge.textContent = stateLabel(rec.state);
      st.attn.hidden = !attn;
      if (attn) st.attnText.textContent = `Needs you: ${rec.state_reason}`;
      st.reason.hidden = attn || !rec.state_reason;
      st.reason.textContent = attn ? '' : rec.state_reason || '';
      st.source.hidden = !rec.state_source;
      st.source.textContent = rec.state_source ? `by ${rec.state_source}` : '';
      if (attn && initialDone && !row.tr.classList.contains('needs-you')) {
        announcer.textContent = `${rec.name || rec.session_id} needs you: ${rec.state_reason}`;
      }
      row.tr.classList.toggle('needs-you', attn);
      row.tr.classList.toggle('ended', ENDED.has(rec.state));
      row.stateKey = stateKey;
    }
    const telKey = `${rec.state}`;
    if (row.tel !== rec.telemetry || row.telKey !== telKey) {
      row.tel = rec.telemetry;
      row.telKey = telKey;
      const f = figures(rec);
      setText(row.cells.cpu, fmtPct(f.cpu));
      setText(row.cells.mem, fmtBytes(f.mem));
      setText(row.cells.tokens, fmtTokens(f.tokens));
      setText(row.cells.cost, fmtCost(f.cost, f.costEstimated));
    }
    if (row.createdIso !== rec.created_at) { row.createdIso = rec.created_at; row.created = Date.parse(rec.created_at); }
    setText(row.cells.age, fmtDuration(Date.now() - row.created));
    row.filterKey = [rec.session_id, rec.name, rec.agent_type, rec.task_id, rec.state,
      rec.state_reason, attn ? 'needs you' : ''].join(' ').toLowerCase();
  }

  function matches(row, rec) {
    if (onlyLive && ENDED.has(rec.state)) return false;
    if (onlyAttn && !needsYou(rec)) return false;
    if (!filterText) return true;
    return filterText.toLowerCase().split(/\s+/).every((w) => row.filterKey.includes(w));
  }

  /** The rows' order: the sort column (if any), then those needing a person, then newest. */
  function reorder() {
    const col = sort.key ? COLUMNS.find((c) => c.key === sort.key) : null;
    const items = [];
    for (const rec of store.sessions.values()) {
      if (!rows.has(rec.session_id)) continue;
      items.push({
        id: rec.session_id, attn: needsYou(rec) ? 0 : 1, created: rec.created_at || '',
        v: col ? col.value(rec) : 0,
      });
    }
    const dir = sort.dir;
    items.sort((a, b) => {
      if (col) {
        const c = col.num ? a.v - b.v : (a.v < b.v ? -1 : a.v > b.v ? 1 : 0);
        if (c) return c * dir;
      }
      return a.attn - b.attn || (a.created < b.created ? 1 : a.created > b.created ? -1 : 0);
    });
    let same = items.length === order.length;
    for (let i = 0; same && i < items.length; i++) same = items[i].id === order[i];
    if (same) return;
    order = items.map((x) => x.id);
    // Moves only the rows out of place (a new row, a changed sort key), not all of them.
    let cur = tbody.firstChild;
    for (const id of order) {
      const tr = rows.get(id).tr;
      if (tr === cur) cur = cur.nextSibling;
      else tbody.insertBefore(tr, cur);
    }
  }

  function refreshCounts() {
    let shown = 0;
    let attn = 0;
    let live = 0;
    for (const [id, row] of rows) {
      const rec = store.sessions.get(id);
      if (!rec) continue;
      if (row.shown) shown++;
      if (needsYou(rec)) attn++;
      if (!ENDED.has(rec.state)) live++;
    }
    const total = rows.size;
    setText(counts, `${shown === total ? total : `${shown} of ${total}`} sessions, ${live} live`);
    attnButton.hidden = attn === 0;
    setText(attnButton, `${attn} ${attn === 1 ? 'session needs' : 'sessions need'} you`);
    empty.hidden = total > 0;
    setTitle(attn ? `(${attn}) Sessions` : 'Sessions');
  }

  /** One batch from the store: the changed rows (or all of them). Rows past the frame's
   * budget go to the next frame (a slow or busy machine builds fewer rows a frame, so no
   * frame is long however many sessions come at once). */
  function update(ids, all) {
    const todo = all ? [...store.sessions.keys(), ...[...rows.keys()].filter((id) => !store.sessions.has(id))] : ids;
    const t0 = performance.now();
    for (const id of todo) {
      if (performance.now() - t0 > FRAME_BUDGET_MS) {
        store.changed(id); // the next frame's
        continue;
      }
      const rec = store.sessions.get(id);
      let row = rows.get(id);
      if (!rec) {
        if (row) {
          observer.unobserve(row.tr);
          row.tr.remove();
          rows.delete(id);
          visible.delete(id);
          order = order.filter((x) => x !== id);
        }
        continue;
      }
      if (!row) row = buildRow(rec);
      fillRow(row, rec);
      const show = matches(row, rec);
      if (show !== row.shown) { row.shown = show; row.tr.hidden = !show; }
    }
    reorder();
    refreshCounts();
    const st = store.stats;
    if (rows.size && st.firstRowsAt === null) st.firstRowsAt = performance.now();
    if (!initialDone && store.isLoaded() && rows.size >= store.sessions.size) {
      initialDone = true;
      if (st.allRowsAt === null) st.allRowsAt = performance.now();
    }
  }

  function refilter() {
    filterText = filter.value.trim();
    for (const [id, row] of rows) {
      const rec = store.sessions.get(id);
      const show = rec ? matches(row, rec) : false;
      if (show !== row.shown) { row.shown = show; row.tr.hidden = !show; }
    }
    refreshCounts();
  }

  filter.addEventListener('input', refilter);
  liveBox.addEventListener('change', () => { onlyLive = liveBox.checked; refilter(); });
  attnBox.addEventListener('change', () => { onlyAttn = attnBox.checked; refilter(); });
  attnButton.addEventListener('click', () => { attnBox.checked = true; onlyAttn = true; refilter(); });
  table.querySelector('thead').addEventListener('click', (e) => {
    const b = e.target.closest('button.sort');
    if (!b) return;
    const key = b.dataset.key;
    if (sort.key === key) {
      if (sort.dir === 1) sort.dir = -1; else sort = { key: null, dir: 1 };
    } else {
      sort = { key, dir: 1 };
    }
    heads.forEach((th, i) => {
      const on = COLUMNS[i].key === sort.key;
      th.setAttribute('aria-sort', on ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none');
      th.querySelector('.sort-mark').textContent = on ? (sort.dir === 1 ? ' ▲' : ' ▼') : '';
    });
    order = [];
    reorder();
  });

  const unsubscribe = store.subscribe(update);
  store.load().then(() => {
    loading.remove(); // the rows come in the store's next batches
    update(new Set(), false); // counts, and the note when there is no session at all
  }, (e) => {
    loading.textContent = `The sessions could not be read: ${e.message}`;
  });
  // Sessions known already (back from another page): drawn in the next batches.
  for (const id of store.sessions.keys()) store.changed(id);

  // CPU, memory, tokens and cost of the live rows on screen, every few seconds.
  let stopped = false;
  let timer = 0;
  async function tick() {
    if (stopped) return;
    const ids = [...visible].filter((id) => {
      const rec = store.sessions.get(id);
      return rec && !ENDED.has(rec.state);
    }).slice(0, 200);
    await pool(ids, 4, async (id) => {
      const t = await api(`/sessions/${seg(id)}/telemetry`);
      if (!stopped) store.patch(id, { telemetry: t });
    });
    if (!stopped) timer = setTimeout(tick, TELEMETRY_EVERY_MS);
  }
  timer = setTimeout(tick, TELEMETRY_EVERY_MS);
  // Ages move on even when nothing else does (the rows on screen, each second).
  const ages = setInterval(() => {
    for (const id of visible) {
      const rec = store.sessions.get(id);
      const row = rows.get(id);
      if (rec && row) setText(row.cells.age, fmtDuration(Date.now() - row.created));
    }
  }, 1000);

  return {
    destroy() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(ages);
      unsubscribe();
      observer.disconnect();
    },
  };
}
