// The tasks page: sessions grouped by task, with each task's totals (`GET /tasks`), read
// again a moment after the feed says something changed.

import { api } from './api.js';
import * as store from './store.js';
import { h, fmtTokens, fmtCost, fmtDuration, fmtTime, stateLabel } from './util.js';

export function mount(root, { setTitle }) {
  setTitle('Tasks');
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const focus = params.get('task');
  const status = h('p', { class: 'loading', role: 'status' }, 'Loading tasks…');
  const tbodyHost = h('table', { class: 'grid tasks', id: 'tasks-table' },
    h('caption', { class: 'sr-only' }, 'Tasks with their sessions and totals'),
    h('thead', null, h('tr', null,
      ['Task', 'Sessions', 'States', 'Live', 'Tokens', 'Cost', 'CPU time', 'Last activity']
        .map((l, i) => h('th', { scope: 'col', class: i >= 3 && i <= 6 ? 'num' : '' }, l)))));
  root.append(
    h('div', { class: 'page-head' }, h('h1', { id: 'page-title' }, 'Tasks')),
    status,
    h('div', { class: 'table-wrap' }, tbodyHost));

  let destroyed = false;
  let timer = 0;
  let soon = 0;

  function render(tasks) {
    for (const b of [...tbodyHost.tBodies]) b.remove();
    if (!tasks.length) {
      status.textContent = 'No tasks yet: start a session with --task ID.';
      return;
    }
    status.textContent = `${tasks.length} ${tasks.length === 1 ? 'task' : 'tasks'}`;
    for (const t of tasks) {
      const states = Object.entries(t.states || {}).map(([s, n]) => `${n} ${stateLabel(s)}`).join(', ');
      const head = h('tr', { class: 'task-row' },
        h('th', { scope: 'row' }, t.task_id || '(no task)'),
        h('td', null, String(t.session_count)),
        h('td', null, states),
        h('td', { class: 'num' }, String(t.live)),
        h('td', { class: 'num' }, fmtTokens(t.total_tokens)),
        h('td', { class: 'num' }, fmtCost(t.cost_usd)),
        h('td', { class: 'num' }, fmtDuration(t.cpu_time_ms)),
        h('td', null, fmtTime(t.last_updated_at)));
      const list = h('ul', { class: 'chips', 'aria-label': `Sessions of task ${t.task_id || '(no task)'}` },
        (t.sessions || []).map((s) => {
          const rec = store.sessions.get(s.session_id);
          const label = (rec && rec.name) || s.session_id;
          return h('li', null, h('a', { href: `#/session/${encodeURIComponent(s.session_id)}`, class: 'chip' },
            h('span', { class: `badge st-${s.state}`, text: stateLabel(s.state) }), ` ${s.agent_type} · ${label}`));
        }));
      const focused = !!focus && focus === t.task_id;
      const body = h('tbody', { class: focused ? 'focused' : '' }, head,
        h('tr', { class: 'task-sessions' }, h('td', { colspan: '8' }, list)));
      tbodyHost.append(body);
      if (focused) requestAnimationFrame(() => body.scrollIntoView({ block: 'center' }));
    }
  }

  async function load() {
    try {
      const tasks = await api('/tasks');
      if (!destroyed) render(tasks);
    } catch (e) {
      status.textContent = `The tasks could not be read: ${e.message}`;
    }
    if (!destroyed) { clearTimeout(timer); timer = setTimeout(load, 10_000); }
  }
  const off = store.onEvent((ev) => {
    if (ev.kind === 'input' || soon) return;
    soon = setTimeout(() => { soon = 0; if (!destroyed) load(); }, 1500);
  });
  store.load().catch(() => {});
  load();
  return {
    destroy() { destroyed = true; clearTimeout(timer); clearTimeout(soon); off(); },
  };
}
