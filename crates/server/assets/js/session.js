// One session: its live terminal, the actions (send, interrupt, stop, pause/continue,
// suspend/resume, approve/deny), its figures and charts, its event timeline and its
// conversation, page by page.

import { api, post, seg } from './api.js';
import * as store from './store.js';
import { openTerminal } from './terminal.js';
import { timeChart, chartBox } from './charts.js';
import {
  h, setText, needsYou, figures, fmtPct, fmtBytes, fmtTokens, fmtInt, fmtCost, fmtDuration,
  fmtTime, fmtClock, since, stateBadge, ENDED,
} from './util.js';

const POLL_MS = 5000;
const TIMELINE_KEEP = 400;
const HISTORY_PAGE = 20;

export function mount(root, { id, setTitle }) {
  let rec = store.sessions.get(id) || null;
  let pending = null;
  let term = null;
  let destroyed = false;
  const cleanups = [];

  const title = h('h1', { id: 'page-title' }, rec ? rec.name || id : id);
  const meta = h('p', { class: 'meta' });
  const stateLine = h('div', { class: 'state-line', 'aria-live': 'polite' });
  const actionStatus = h('p', { class: 'action-status', role: 'status' });

  // Terminal.
  const termBox = h('div', { class: 'term', id: 'terminal' });
  const termStatus = h('p', { class: 'term-status', role: 'status' });
  const takeBtn = h('button', { type: 'button', id: 'take-control' }, 'Take control');
  const fitBtn = h('button', { type: 'button', id: 'fit-terminal', hidden: true,
    title: 'Resize the session’s terminal to this box (for every viewer)' }, 'Fit to window');
  const modeLabel = h('span', { class: 'mode', id: 'term-mode' }, 'Read-only');

  // Actions.
  const sendText = h('input', { id: 'send-text', type: 'text', autocomplete: 'off' });
  const sendEnter = h('input', { id: 'send-enter', type: 'checkbox', checked: true });
  const sendBtn = h('button', { type: 'submit', id: 'send' }, 'Send');
  const sendForm = h('form', { class: 'send-form', id: 'send-form' },
    h('label', { for: 'send-text' }, 'Send text'), sendText,
    h('label', { class: 'check' }, sendEnter, ' then Enter'), sendBtn);
  const btn = (bid, label, fn, cls) => h('button', { type: 'button', id: bid, class: cls || '', onclick: () => act(label, fn) }, label);
  const buttons = {
    interrupt: btn('interrupt', 'Interrupt', () => post(`/sessions/${seg(id)}/interrupt`)),
    stop: btn('stop', 'Stop', () => post(`/sessions/${seg(id)}/stop`, {}), 'danger'),
    pause: btn('pause', 'Pause', () => post(`/sessions/${seg(id)}/pause`)),
    cont: btn('continue', 'Continue', () => post(`/sessions/${seg(id)}/continue`)),
    suspend: btn('suspend', 'Suspend', () => post(`/sessions/${seg(id)}/suspend`, {})),
    resume: btn('resume', 'Resume', () => post(`/sessions/${seg(id)}/resume`, {})),
  };
  const denyMessage = h('input', { id: 'deny-message', type: 'text', autocomplete: 'off' });
  const pendingBox = h('div', { class: 'pending-box', id: 'pending', hidden: true, role: 'region', 'aria-label': 'What the session waits for' });

  // Figures and charts.
  const figs = h('dl', { class: 'figures', id: 'figures' });
  const cpuChart = chartBox('chart-cpu', 'CPU use over time');
  const memChart = chartBox('chart-mem', 'Memory (RSS) over time');
  const tokChart = chartBox('chart-tokens', 'Tokens and cost over time');
  const chartNote = h('p', { class: 'note' });
  cpuChart.hidden = true;
  memChart.hidden = true;
  tokChart.hidden = true;

  // Timeline and conversation.
  const timeline = h('ol', { class: 'timeline', id: 'timeline', 'aria-label': 'Events, newest first' });
  const history = h('div', { class: 'history', id: 'history' });
  const histPrev = h('button', { type: 'button', id: 'history-prev', disabled: true }, 'Previous page');
  const histNext = h('button', { type: 'button', id: 'history-next', disabled: true }, 'Next page');
  const histInfo = h('span', { class: 'note', 'aria-live': 'polite' });

  root.append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, '← Sessions')),
    h('div', { class: 'page-head' }, title, stateLine),
    meta,
    h('div', { class: 'session-grid' },
      h('div', { class: 'col' },
        h('section', { class: 'panel term-panel', 'aria-labelledby': 'term-h' },
          h('div', { class: 'panel-head' }, h('h2', { id: 'term-h' }, 'Terminal'), modeLabel, takeBtn, fitBtn),
          h('div', { class: 'term-scroll' }, termBox), termStatus),
        h('section', { class: 'panel charts', 'aria-labelledby': 'chart-h' },
          h('h2', { id: 'chart-h' }, 'CPU, memory and tokens'), cpuChart, memChart, tokChart, chartNote),
        h('section', { class: 'panel', 'aria-labelledby': 'hist-h' },
          h('div', { class: 'panel-head' }, h('h2', { id: 'hist-h' }, 'Conversation'),
            histPrev, histNext, histInfo), history)),
      h('div', { class: 'col' },
        h('section', { class: 'panel', 'aria-labelledby': 'act-h' },
          h('h2', { id: 'act-h' }, 'Actions'), sendForm,
          h('div', { class: 'buttons' }, Object.values(buttons)),
          pendingBox, actionStatus),
        h('section', { class: 'panel', 'aria-labelledby': 'fig-h' },
          h('h2', { id: 'fig-h' }, 'Resources and usage'), figs),
        h('section', { class: 'panel', 'aria-labelledby': 'tl-h' },
          h('h2', { id: 'tl-h' }, 'Timeline'), timeline)),
    ),
  );

  async function act(label, fn) {
    actionStatus.textContent = `${label}…`;
    for (const b of root.querySelectorAll('.buttons button, #send, .pending-box button')) b.disabled = true;
    try {
      await fn();
      actionStatus.textContent = `${label}: done.`;
    } catch (e) {
      actionStatus.textContent = `${label} failed: ${e.message}`;
    }
    store.refetch(id);
    refreshPending();
    render();
  }

  sendForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = sendText.value;
    const enter = sendEnter.checked;
    if (!text && !enter) return;
    act('Send', async () => {
      await post(`/sessions/${seg(id)}/send`, { text, enter });
      sendText.value = '';
    });
  });

  function renderPending() {
    const p = pending;
    const live = rec && rec.state === 'waiting_input';
    if (!p || !live || p.kind === 'other' || p.kind === 'prompt') {
      pendingBox.hidden = true;
      pendingBox.replaceChildren();
      return;
    }
    pendingBox.hidden = false;
    const parts = [h('h3', null, h('span', { class: 'attn' },
      h('span', { class: 'attn-icon', 'aria-hidden': 'true', text: '!' }), `Needs you: ${p.kind}`))];
    if (p.tool) parts.push(h('p', null, 'Tool: ', h('strong', null, p.tool)));
    if (p.input !== null && p.input !== undefined) {
      parts.push(h('pre', { class: 'input' }, typeof p.input === 'string' ? p.input : JSON.stringify(p.input, null, 2)));
    }
    if (p.kind === 'permission') {
      parts.push(h('div', { class: 'buttons' },
        h('button', { type: 'button', id: 'approve', class: 'primary', onclick: () => act('Approve', () => post(`/sessions/${seg(id)}/approve`, {})) }, 'Approve'),
        h('button', { type: 'button', id: 'approve-always', onclick: () => act('Approve always', () => post(`/sessions/${seg(id)}/approve`, { always: true })) }, 'Always approve'),
        h('button', { type: 'button', id: 'deny', class: 'danger', onclick: () => act('Deny', () => post(`/sessions/${seg(id)}/deny`, denyMessage.value ? { message: denyMessage.value } : {})) }, 'Deny')),
        h('div', { class: 'field' }, h('label', { for: 'deny-message' }, 'Reason given with Deny (optional)'), denyMessage));
    } else if (p.kind === 'question' && p.options && p.options.length) {
      parts.push(h('div', { class: 'buttons', role: 'group', 'aria-label': 'Answers' },
        p.options.map((o) => h('button', { type: 'button', onclick: () => act(`Answer ${o}`, () => post(`/sessions/${seg(id)}/answer`, { choices: [o] })) }, o))));
    } else if (p.options && p.options.length) {
      parts.push(h('p', null, `Options on screen: ${p.options.join(' · ')}`));
    }
    pendingBox.replaceChildren(...parts);
  }

  async function refreshPending() {
    if (!rec || rec.state !== 'waiting_input') { pending = null; renderPending(); return; }
    try { pending = await api(`/sessions/${seg(id)}/pending`); } catch (_) { pending = null; }
    if (!destroyed) renderPending();
  }

  function render() {
    if (!rec) return;
    setTitle(`${rec.name || id} – Session`);
    setText(title, rec.name || id);
    stateLine.replaceChildren(stateBadge(rec),
      rec.state_source ? h('span', { class: 'source', text: `by ${rec.state_source}` }) : '');
    meta.replaceChildren(
      h('span', null, h('span', { class: 'k' }, 'id '), h('code', null, id)),
      h('span', null, h('span', { class: 'k' }, 'agent '), rec.agent_type),
      rec.task_id ? h('span', null, h('span', { class: 'k' }, 'task '), h('a', { href: `#/tasks?task=${encodeURIComponent(rec.task_id)}` }, rec.task_id)) : '',
      h('span', null, h('span', { class: 'k' }, 'started '), fmtTime(rec.started_at || rec.created_at)),
      rec.ended_at ? h('span', null, h('span', { class: 'k' }, 'ended '), fmtTime(rec.ended_at)) : '',
      rec.workspace_path ? h('span', null, h('span', { class: 'k' }, 'folder '), h('code', null, rec.workspace_path)) : '',
    );
    const s = rec.state;
    const live = !ENDED.has(s);
    const set = (b, show, enabled = true) => { b.hidden = !show; b.disabled = !enabled; };
    sendBtn.disabled = !live || s === 'paused' || s === 'stopping';
    sendText.disabled = !live;
    set(buttons.interrupt, live, s !== 'paused' && s !== 'stopping');
    set(buttons.stop, live, s !== 'stopping');
    set(buttons.pause, live && s !== 'paused', s === 'running' || s === 'waiting_input');
    set(buttons.cont, s === 'paused');
    set(buttons.suspend, live, s !== 'stopping');
    set(buttons.resume, !live && (s === 'suspended' || !!rec.resumable));
    takeBtn.hidden = !live || (term && term.ended);
    renderFigures();
    renderPending();
  }

  function renderFigures() {
    const t = rec.telemetry || {};
    const f = figures(rec);
    const s = t.last_sample || {};
    const rows = [
      ['CPU now', fmtPct(f.cpu)],
      ['Average CPU', fmtPct(t.avg_cpu_percent)],
      ['CPU time', fmtDuration(t.cpu_time_ms)],
      ['Memory (RSS) now', fmtBytes(f.mem)],
      ['Peak memory', fmtBytes(t.peak_memory_rss_bytes)],
      ['Processes', fmtInt(s.process_count)],
      ['Disk read / written', `${fmtBytes(t.io_read_bytes)} / ${fmtBytes(t.io_write_bytes)}`],
      ['Workspace', fmtBytes(t.workspace_bytes_used)],
      ['Run time', fmtDuration(t.duration_ms ?? since(rec.started_at, rec.ended_at))],
      ['Tokens in / out', `${fmtInt(t.tokens_input)} / ${fmtInt(t.tokens_output)}`],
      ['Cache read / write', `${fmtInt(t.tokens_cache_read)} / ${fmtInt(t.tokens_cache_write)}`],
      ['Total tokens', fmtInt(f.tokens)],
      ['Cost', `${fmtCost(f.cost, f.costEstimated)}${f.costEstimated ? ' (estimated)' : ''}`],
      ['Usage source', t.usage_source ? `${t.usage_source}${t.usage_exact ? ' (exact)' : ' (lower bound)'}` : '–'],
    ];
    figs.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
  }

  // --- Timeline -------------------------------------------------------------------
  let lastSeq = 0;
  function summary(ev) {
    const d = ev.data || {};
    switch (ev.kind) {
      case 'state': return `${d.from || '∅'} → ${d.to}${d.cause ? ` (${d.cause})` : ''}`;
      case 'phase': return `${d.from || '∅'} → ${d.to}`;
      case 'input': {
        const t = d.text !== undefined ? JSON.stringify(d.text) : d.bytes !== undefined ? `keys ${JSON.stringify(d.bytes)}` : '';
        return `${t.length > 120 ? `${t.slice(0, 117)}…` : t}${d.enter ? ' + Enter' : ''}${d.client ? ` from ${d.client}` : ''}`;
      }
      case 'pending': return `${d.kind}${d.tool ? `: ${d.tool}` : ''}`;
      case 'decision': return `${d.decision || ''}${d.rule ? ` by rule ${JSON.stringify(d.rule)}` : ''}${d.tool ? ` for ${d.tool}` : ''}`;
      case 'stop': return d.force ? 'forced' : '';
      default: {
        const s = JSON.stringify(d);
        return s === '{}' ? '' : s.slice(0, 160);
      }
    }
  }
  function addEvents(evs, atTop) {
    const items = [];
    for (const ev of evs) {
      if (ev.seq <= lastSeq) continue;
      lastSeq = ev.seq;
      items.push(h('li', { class: `ev ev-${ev.kind}` },
        h('time', { datetime: ev.at, title: ev.at }, fmtClock(ev.at)),
        h('span', { class: 'ev-kind', text: ev.kind }),
        h('span', { class: 'ev-source', text: ev.source }),
        h('span', { class: 'ev-text', text: summary(ev) })));
    }
    if (!items.length) return;
    items.reverse();
    if (atTop) timeline.prepend(...items); else timeline.append(...items);
    while (timeline.children.length > TIMELINE_KEEP) timeline.lastElementChild.remove();
  }
  async function loadTimeline() {
    const page = 2000;
    let all = [];
    for (let i = 0; i < 20; i++) {
      const evs = await api(`/sessions/${seg(id)}/events?since=${all.length ? all[all.length - 1].seq : 0}&limit=${page}`);
      all = all.concat(evs).slice(-TIMELINE_KEEP);
      if (evs.length < page || destroyed) break;
    }
    addEvents(all, true);
  }

  // --- Charts ---------------------------------------------------------------------
  const samples = { x: [], cpu: [], mem: [] };
  let lastSampleMs = 0;
  const tokens = { x: [], tok: [], cost: [] };
  let charts = null;
  let samplesMissing = false;
  async function loadSamples() {
    if (samplesMissing) return;
    for (let i = 0; i < 5; i++) {
      let rows;
      try {
        rows = await api(`/sessions/${seg(id)}/samples?since_ms=${lastSampleMs ? lastSampleMs + 1 : 0}&limit=5000`);
      } catch (e) {
        if (e.status === 404 && e.kind !== 'session_not_found') {
          samplesMissing = true;
          chartNote.textContent = 'This server keeps no samples to chart.';
        }
        return;
      }
      for (const r of rows) {
        samples.x.push(r.at_ms / 1000);
        samples.cpu.push(r.cpu_percent ?? null);
        samples.mem.push(r.memory_rss_bytes ?? null);
        lastSampleMs = Math.max(lastSampleMs, r.at_ms);
      }
      if (rows.length < 5000) break;
    }
    const keep = 3000;
    for (const k of ['x', 'cpu', 'mem']) if (samples[k].length > keep) samples[k].splice(0, samples[k].length - keep);
    drawSamples();
  }
  function drawSamples() {
    if (!charts) return;
    const enough = samples.x.length >= 2;
    cpuChart.hidden = !enough;
    memChart.hidden = !enough;
    if (enough) {
      charts.cpu.set(samples.x, samples.cpu);
      charts.mem.set(samples.x, samples.mem);
    }
    if (!samplesMissing) {
      chartNote.textContent = enough ? ''
        : 'Collecting samples: the charts appear once there are two (an idle agent is sampled less often).';
    }
  }
  function drawTokens() {
    if (!charts) return;
    tokChart.hidden = tokens.x.length < 2;
    if (!tokChart.hidden) charts.tok.set(tokens.x, tokens.tok, tokens.cost);
  }
  // The totals the session's host stored at each change (each turn's end), then the live
  // points noted while the page is open, after the last stored one.
  async function loadUsageSeries() {
    let points;
    try {
      points = await api(`/sessions/${seg(id)}/usage/series?limit=5000`);
    } catch (_) {
      return; // an older server: the chart starts with this page
    }
    if (destroyed || !points.length) return;
    const x = [], tok = [], cost = [];
    for (const p of points) {
      x.push(p.at_ms / 1000);
      tok.push(p.total_tokens ?? null);
      cost.push(p.cost_usd ?? null);
    }
    const last = x[x.length - 1];
    for (let i = 0; i < tokens.x.length; i++) {
      if (tokens.x[i] <= last) continue;
      x.push(tokens.x[i]); tok.push(tokens.tok[i]); cost.push(tokens.cost[i]);
    }
    tokens.x = x; tokens.tok = tok; tokens.cost = cost;
    drawTokens();
  }
  function noteTokens() {
    const f = figures(rec);
    if (f.tokens === null && f.cost === null) return;
    const n = tokens.x.length;
    if (n && tokens.tok[n - 1] === f.tokens && tokens.cost[n - 1] === f.cost) return;
    // When the server computed the figures (its clock, as the stored points), in order.
    const at = (rec.telemetry && rec.telemetry.usage_at_ms) || Date.now();
    tokens.x.push(Math.max(at / 1000, n ? tokens.x[n - 1] : 0));
    tokens.tok.push(f.tokens);
    tokens.cost.push(f.cost);
    drawTokens();
  }
  async function makeCharts() {
    const css = getComputedStyle(document.documentElement);
    const c = (name, fb) => css.getPropertyValue(name).trim() || fb;
    const [cpu, mem, tok] = await Promise.all([
      timeChart(cpuChart.querySelector('.chart-canvas'), { title: 'CPU', series: [{ label: 'CPU', color: c('--c1', '#2f6fde'), fmt: fmtPct }] }),
      timeChart(memChart.querySelector('.chart-canvas'), { title: 'Memory (RSS)', series: [{ label: 'RSS', color: c('--c2', '#9b4dca'), fmt: fmtBytes }] }),
      timeChart(tokChart.querySelector('.chart-canvas'), {
        title: 'Tokens and cost',
        series: [{ label: 'Tokens', color: c('--c3', '#1f9d6b'), fmt: fmtTokens },
          { label: 'Cost', color: c('--c4', '#d9822b'), fmt: (v) => fmtCost(v), scale: 'usd' }],
      }),
    ]);
    if (destroyed) { cpu.destroy(); mem.destroy(); tok.destroy(); return; }
    charts = { cpu, mem, tok };
    cleanups.push(() => { cpu.destroy(); mem.destroy(); tok.destroy(); });
    drawSamples();
    drawTokens();
  }

  // --- Conversation ---------------------------------------------------------------
  let histOffset = 0;
  const histStack = [];
  async function loadHistory(offset) {
    histInfo.textContent = 'Loading…';
    let page;
    try {
      page = await api(`/sessions/${seg(id)}/history?offset=${offset}&limit=${HISTORY_PAGE}`);
    } catch (e) {
      histInfo.textContent = `The conversation could not be read: ${e.message}`;
      return;
    }
    histOffset = offset;
    const msgs = page.messages || [];
    history.replaceChildren(...(msgs.length ? msgs.map((m) => h('article', { class: `msg role-${m.role}` },
      h('header', null, h('span', { class: 'role', text: m.role }), m.at ? h('time', { datetime: m.at }, fmtTime(m.at)) : ''),
      m.text.length > 4000
        ? h('details', null, h('summary', null, `${m.text.slice(0, 300)}… (${fmtInt(m.text.length)} characters)`), h('pre', null, m.text))
        : h('pre', null, m.text))) : [h('p', { class: 'note' }, offset ? 'No more messages.' : 'No conversation recorded yet.')]));
    histNext.disabled = page.next_offset === null || page.next_offset === undefined;
    histNext.onclick = () => { histStack.push(histOffset); loadHistory(page.next_offset); };
    histPrev.disabled = histStack.length === 0;
    histInfo.textContent = msgs.length
      ? `Messages ${offset + 1}–${offset + msgs.length} (from ${page.source})`
      : '';
  }
  histPrev.addEventListener('click', () => { if (histStack.length) loadHistory(histStack.pop()); });

  // --- Terminal -------------------------------------------------------------------
  takeBtn.addEventListener('click', () => {
    if (!term) return;
    if (term.readOnly) term.control(); else term.release();
  });
  fitBtn.addEventListener('click', () => term && term.fitToBox());
  async function startTerminal() {
    try {
      term = await openTerminal(termBox, termStatus, rec, {
        onModeChange(ro) {
          modeLabel.textContent = ro ? 'Read-only' : 'In control';
          modeLabel.classList.toggle('on', !ro);
          takeBtn.textContent = ro ? 'Take control' : 'Release control';
          takeBtn.setAttribute('aria-pressed', String(!ro));
          fitBtn.hidden = ro;
        },
        onExit() { takeBtn.hidden = true; fitBtn.hidden = true; store.refetch(id); },
      });
      if (destroyed) { term.destroy(); return; }
      cleanups.push(() => term.destroy());
      takeBtn.hidden = term.ended || ENDED.has(rec.state);
    } catch (e) {
      termStatus.textContent = `The terminal could not start: ${e.message}`;
    }
  }

  // --- Wiring ---------------------------------------------------------------------
  cleanups.push(store.subscribe((ids, all) => {
    if (!all && !ids.has(id)) return;
    const r = store.sessions.get(id);
    if (!r) return;
    const wasWaiting = rec && rec.state === 'waiting_input';
    rec = r;
    render();
    noteTokens();
    if (rec.state === 'waiting_input' && !wasWaiting) refreshPending();
  }));
  cleanups.push(store.onEvent((ev) => {
    if (ev.session_id !== id) return;
    addEvents([ev], true);
    if (ev.kind === 'pending') { pending = ev.data; renderPending(); }
  }));

  let timer = 0;
  async function poll() {
    if (destroyed) return;
    if (rec && !ENDED.has(rec.state)) {
      try { store.patch(id, { telemetry: await api(`/sessions/${seg(id)}/telemetry`) }); } catch (_) { /* shown stale */ }
      await loadSamples();
    }
    if (!destroyed) timer = setTimeout(poll, POLL_MS);
  }
  cleanups.push(() => clearTimeout(timer));

  (async () => {
    try {
      rec = await api(`/sessions/${seg(id)}`);
    } catch (e) {
      root.replaceChildren(h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, '← Sessions')),
        h('h1', { id: 'page-title' }, 'No such session'), h('p', { role: 'alert' }, e.message));
      return;
    }
    if (destroyed) return;
    if (store.sessions.has(id)) store.sessions.set(id, rec);
    render();
    noteTokens();
    startTerminal();
    refreshPending();
    loadTimeline().catch((e) => timeline.append(h('li', null, `Events could not be read: ${e.message}`)));
    loadHistory(0);
    await makeCharts().catch((e) => { chartNote.textContent = `Charts unavailable: ${e.message}`; });
    await Promise.all([loadSamples(), loadUsageSeries()]);
    timer = setTimeout(poll, POLL_MS);
  })();

  return {
    destroy() {
      destroyed = true;
      for (const fn of cleanups) fn();
    },
  };
}
