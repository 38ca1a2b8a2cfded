// Every session's record, kept live from the server's event feed (`GET /events` as SSE).
//
// An event updates what it can at once (a state change's new state) and asks for the
// session's record again (`GET /sessions/{id}`), coalesced per session and at most a few
// requests at a time; an event of a session not seen yet fetches and adds it. Changes are
// handed to the pages once per animation frame, in one batch, whose script time is kept on
// `window.__dashStats` (lastBatchMs, maxBatchMs, batches).

import { api, seg } from './api.js';

/** Event kinds the feed sends (EventSource needs a listener per named event). */
export const KINDS = ['state', 'phase', 'input', 'stop', 'pause', 'continue', 'suspend',
  'resume', 'output_lost', 'pending', 'decision'];
/** Kinds after which the record is read again (input events come per keystroke: no). */
const REFETCH = new Set(['state', 'phase', 'stop', 'pause', 'continue', 'suspend', 'resume',
  'pending', 'decision']);
/** Requests for records in flight at once. */
const MAX_INFLIGHT = 6;
/** Sessions handed to the pages in one frame at most; the rest go in the next frames, so
 * a burst (every session changing at once) never makes one long frame. */
const MAX_PER_BATCH = 100;

export const stats = {
  lastBatchMs: 0, maxBatchMs: 0, batches: 0, lastBatchSize: 0, events: 0, refetches: 0,
  /** The script time of the last batches (at most 5000), for medians and percentiles. */
  batchMs: [],
  /** performance.now() when the sessions table first had rows, and when it had them all. */
  firstRowsAt: null,
  allRowsAt: null,
};
window.__dashStats = stats;

export const sessions = new Map();
let loaded = null;
/** The feed's newest event id when the list was first read (its `X-Feed-Head`): the feed
 * opened after the list starts there, so nothing that happened in between is missed. */
let feedHead = null;
let loadGen = 0;
/** Records read one by one while a load of the list was under way (newer than the list). */
const fresh = new Map();
const listeners = new Set(); // fn(changedIds: Set<string>, all: boolean)
const eventListeners = new Set(); // fn(feedEvent)
const statusListeners = new Set(); // fn('live' | 'connecting' | 'down', message)

let dirty = new Set();
let dirtyAll = false;
let frame = 0;

function schedule() {
  if (!frame) frame = requestAnimationFrame(flush);
}

function flush() {
  frame = 0;
  const t0 = performance.now();
  let ids = dirty;
  const all = dirtyAll;
  dirtyAll = false;
  if (!all && ids.size > MAX_PER_BATCH) {
    const now = new Set();
    for (const id of ids) {
      if (now.size >= MAX_PER_BATCH) break;
      now.add(id);
    }
    for (const id of now) ids.delete(id);
    dirty = ids;
    ids = now;
    schedule();
  } else {
    dirty = new Set();
  }
  for (const fn of listeners) {
    try { fn(ids, all); } catch (e) { console.error(e); }
  }
  const ms = performance.now() - t0;
  stats.lastBatchMs = ms;
  stats.maxBatchMs = Math.max(stats.maxBatchMs, ms);
  if (stats.batchMs.length >= 5000) stats.batchMs.shift();
  stats.batchMs.push(ms);
  stats.batches += 1;
  stats.lastBatchSize = all ? sessions.size : ids.size;

}

export function changed(id) {
  dirty.add(id);
  schedule();
}

/** Subscribes to batches of changed sessions; returns the unsubscribe function. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Subscribes to every feed event (after the store applied it). */
export function onEvent(fn) {
  eventListeners.add(fn);
  return () => eventListeners.delete(fn);
}

export function onStatus(fn) {
  statusListeners.add(fn);
  return () => statusListeners.delete(fn);
}

function setStatus(s, msg) {
  for (const fn of statusListeners) fn(s, msg);
}

export const isLoaded = () => loadedOnce;
let loadedOnce = false;

/** Reads every record (once; `reload` reads again). */
export function load(reload = false) {
  if (!loaded || reload) {
    const gen = ++loadGen;
    // (The page preloads this very request: `<link rel="preload">` in index.html.)
    const onResponse = (r) => {
      const head = Number(r.headers.get('x-feed-head'));
      if (feedHead === null && Number.isSafeInteger(head) && head >= 0) feedHead = head;
    };
    loaded = api('/sessions', { onResponse }).then((list) => {
      const seen = new Set();
      for (const rec of list) {
        seen.add(rec.session_id);
        if (fresh.get(rec.session_id) !== gen) sessions.set(rec.session_id, rec);
      }
      for (const id of [...sessions.keys()]) {
        if (!seen.has(id) && fresh.get(id) !== gen) { sessions.delete(id); dirty.add(id); }
      }
      fresh.clear();
      loadedOnce = true;
      // Every session in the next batches, a few hundred a frame (see MAX_PER_BATCH).
      for (const id of seen) dirty.add(id);
      schedule();
      return sessions;
    }).catch((e) => { loaded = null; throw e; });
  }
  return loaded;
}

/** Merges fields into a record (telemetry read separately, a state seen in an event). */
export function patch(id, fields) {
  const rec = sessions.get(id);
  if (!rec) return;
  Object.assign(rec, fields);
  changed(id);
}

const inflight = new Set();
const again = new Set();
const waiting = [];

/** Reads one record again (coalesced per session, a few at a time). */
export function refetch(id) {
  if (inflight.has(id)) { again.add(id); return; }
  if (waiting.includes(id)) return;
  waiting.push(id);
  pump();
}

function pump() {
  while (inflight.size < MAX_INFLIGHT && waiting.length) {
    const id = waiting.shift();
    inflight.add(id);
    stats.refetches += 1;
    api(`/sessions/${seg(id)}`).then((rec) => {
      sessions.set(id, rec);
      fresh.set(id, loadGen);
      changed(id);
    }, (e) => {
      if (e.status === 404) { sessions.delete(id); changed(id); }
    }).finally(() => {
      inflight.delete(id);
      if (again.delete(id)) waiting.push(id);
      pump();
    });
  }
}

function apply(ev) {
  stats.events += 1;
  const id = ev.session_id;
  const rec = sessions.get(id);
  if (!rec) {
    refetch(id);
  } else {
    if (ev.kind === 'state' && ev.data) {
      rec.state = ev.data.to;
      rec.state_source = ev.source;
      rec.state_reason = null; // the record read next says
      rec.updated_at = ev.at;
    } else if (ev.kind === 'pending' && ev.data) {
      rec.pending = ev.data;
      if (rec.state === 'waiting_input') rec.state_reason = ev.data.kind;
    } else if (ev.kind === 'input') {
      rec.last_input_at = ev.at;
    }
    changed(id);
    if (REFETCH.has(ev.kind)) refetch(id);
  }
  for (const fn of eventListeners) {
    try { fn(ev); } catch (e) { console.error(e); }
  }
}

let source = null;
let lastId = null;
let retry = 0;
let retryTimer = 0;

/** Opens the live feed: after the last event seen when it reconnects, else after the list's
 * head (see `feedHead`), else from now. */
export function connect(onSignedOut) {
  disconnect();
  const after = lastId ?? feedHead;
  const url = after === null ? '/events' : `/events?since=${after}`;
  setStatus('connecting');
  const es = new EventSource(url);
  source = es;
  es.onopen = () => {
    retry = 0;
    setStatus('live');
  };
  for (const kind of KINDS) {
    es.addEventListener(kind, (m) => {
      if (m.lastEventId) lastId = Number(m.lastEventId);
      let ev;
      try { ev = JSON.parse(m.data); } catch (_) { return; }
      apply(ev);
    });
  }
  es.addEventListener('error', (m) => {
    if (source !== es) return;
    if (m.data) setStatus('down', 'the server could not read the event store');
    if (es.readyState === EventSource.CLOSED || m.data) {
      // Refused (signed out?) or ended: find out why, then open again.
      es.close();
      source = null;
      setStatus('down', 'reconnecting…');
      fetch('/auth/me', { credentials: 'same-origin' }).then((r) => {
        if (r.status === 401) { onSignedOut(); return; }
        retryTimer = setTimeout(() => { load(true).catch(() => {}); connect(onSignedOut); },
          Math.min(10_000, 500 * 2 ** retry++));
      }, () => {
        retryTimer = setTimeout(() => connect(onSignedOut), Math.min(10_000, 500 * 2 ** retry++));
      });
    } else {
      setStatus('connecting', 'reconnecting…');
    }
  });
}

export function disconnect() {
  clearTimeout(retryTimer);
  if (source) source.close();
  source = null;
}

/** Forgets everything (signed out). */
export function reset() {
  disconnect();
  sessions.clear();
  loaded = null;
  lastId = null;
  feedHead = null;
}
