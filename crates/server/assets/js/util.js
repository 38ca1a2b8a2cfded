// Small helpers shared by the pages: element building, number and time formats, loading
// the vendored libraries on demand.

/** An element: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child, ...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k in el && typeof v !== 'string') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Sets an element's text only when it changed (cheap repeated updates). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export const ENDED = new Set(['stopped', 'failed', 'unknown', 'suspended']);
export const LIVE = new Set(['starting', 'running', 'waiting_input', 'stopping', 'paused']);
/** Waiting reasons that need a person (a prompt or plain silence does not). */
export const NEEDS_PERSON = new Set(['permission', 'question', 'trust', 'login']);

/** Is this session waiting for a person's decision? */
export function needsYou(rec) {
  return rec.state === 'waiting_input' && NEEDS_PERSON.has(rec.state_reason);
}

/** A session's CPU, memory and token figures from its telemetry (record or route). */
export function figures(rec) {
  const t = rec.telemetry || {};
  const s = t.last_sample || null;
  const toks = [t.tokens_input, t.tokens_output, t.tokens_cache_read, t.tokens_cache_write];
  const known = toks.filter((v) => typeof v === 'number');
  return {
    cpu: s && typeof s.cpu_percent === 'number' && !ENDED.has(rec.state) ? s.cpu_percent : null,
    mem: s && typeof s.memory_rss_bytes === 'number' && !ENDED.has(rec.state) ? s.memory_rss_bytes : null,
    tokens: typeof t.total_tokens === 'number' ? t.total_tokens
      : known.length ? known.reduce((a, b) => a + b, 0) : null,
    cost: typeof t.cost_usd === 'number' ? t.cost_usd : null,
    costEstimated: !!t.cost_estimated,
  };
}

const DASH = '–';

export function fmtBytes(n) {
  if (typeof n !== 'number') return DASH;
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n < 10 && i ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

export function fmtPct(n) {
  return typeof n === 'number' ? `${n < 10 ? n.toFixed(1) : Math.round(n)}%` : DASH;
}

export function fmtInt(n) {
  return typeof n === 'number' ? Math.round(n).toLocaleString('en-US') : DASH;
}

export function fmtTokens(n) {
  if (typeof n !== 'number') return DASH;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  return fmtInt(n);
}

export function fmtCost(n, estimated) {
  if (typeof n !== 'number') return DASH;
  if (n === 0) return `$0.00${estimated ? '*' : ''}`;
  const s = n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toFixed(4);
  return `$${s}${estimated ? '*' : ''}`;
}

export function fmtDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return DASH;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr}h ${m % 60}m`;
  return `${Math.floor(hr / 24)}d ${hr % 24}h`;
}

/** Milliseconds since an ISO time (or until `end` when given). */
export function since(iso, end) {
  if (!iso) return null;
  const a = Date.parse(iso);
  const b = end ? Date.parse(end) : Date.now();
  return Number.isFinite(a) && Number.isFinite(b) ? b - a : null;
}

export function fmtTime(iso) {
  if (!iso) return DASH;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { hour12: false });
}

export function fmtClock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleTimeString(undefined, { hour12: false });
}

export function stateLabel(state) {
  return String(state || 'unknown').replace('_', ' ');
}

/** The state cell's content: a colored badge, the reason, the mark for a person. */
export function stateBadge(rec) {
  const wrap = h('span', { class: 'state-wrap' });
  wrap.append(h('span', { class: `badge st-${rec.state}`, text: stateLabel(rec.state) }));
  if (needsYou(rec)) {
    wrap.append(h('span', { class: 'attn', title: 'This session waits for a person' },
      h('span', { class: 'attn-icon', 'aria-hidden': 'true', text: '!' }),
      `Needs you: ${rec.state_reason}`));
  } else if (rec.state_reason) {
    wrap.append(h('span', { class: 'reason', text: rec.state_reason }));
  }
  return wrap;
}

const loaded = new Map();

/** Loads a classic script once (the vendored UMD builds set a global). */
export function loadScript(src) {
  if (!loaded.has(src)) {
    loaded.set(src, new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = () => resolve();
      s.onerror = () => { loaded.delete(src); reject(new Error(`could not load ${src}`)); };
      document.head.append(s);
    }));
  }
  return loaded.get(src);
}

/** Loads a stylesheet once. */
export function loadCss(href) {
  if (!loaded.has(href)) {
    loaded.set(href, new Promise((resolve, reject) => {
      const l = document.createElement('link');
      l.rel = 'stylesheet';
      l.href = href;
      l.onload = () => resolve();
      l.onerror = () => { loaded.delete(href); reject(new Error(`could not load ${href}`)); };
      document.head.append(l);
    }));
  }
  return loaded.get(href);
}

export const VENDOR = '/assets/vendor';

/** uPlot, loaded on first use. */
export async function uplot() {
  await Promise.all([loadScript(`${VENDOR}/uplot/dist/uPlot.iife.min.js`),
    loadCss(`${VENDOR}/uplot/dist/uPlot.min.css`)]);
  return window.uPlot;
}

/** xterm.js and its fit addon, loaded on first use. */
export async function xterm() {
  await Promise.all([loadScript(`${VENDOR}/xterm/lib/xterm.js`),
    loadCss(`${VENDOR}/xterm/css/xterm.css`)]);
  await loadScript(`${VENDOR}/addon-fit/lib/addon-fit.js`);
  return { Terminal: window.Terminal, FitAddon: window.FitAddon && window.FitAddon.FitAddon };
}

/** Runs `fn` over `items` with at most `limit` at once. */
export async function pool(items, limit, fn) {
  const queue = [...items];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    while (queue.length) {
      const item = queue.shift();
      try { await fn(item); } catch (_) { /* each item reports its own failure */ }
    }
  });
  await Promise.all(workers);
}

/** Saves `text` as a file named `name` (a download the browser offers). */
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
