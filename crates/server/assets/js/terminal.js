// A session's terminal: xterm.js over the WebSocket `/sessions/{id}/terminal`. Read-only by
// default; `control()` reconnects without `read_only` so keys go to the agent. The server
// replays the screen first, then streams output (binary messages); it says `exit` or
// `error` in text messages.

import { api, seg } from './api.js';
import { xterm } from './util.js';

export async function openTerminal(box, status, rec, { onModeChange, onExit } = {}) {
  const { Terminal, FitAddon } = await xterm();
  const id = rec.session_id;
  const term = new Terminal({
    cols: rec.cols || 120,
    rows: rec.rows || 35,
    scrollback: 5000,
    convertEol: false,
    disableStdin: true,
    cursorBlink: false,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
    fontSize: 13,
    theme: { background: '#111318', foreground: '#e6e6e6' },
  });
  const fit = FitAddon ? new FitAddon() : null;
  if (fit) term.loadAddon(fit);
  term.open(box);
  const textarea = box.querySelector('textarea');
  if (textarea) textarea.setAttribute('aria-label', `Terminal input of ${rec.name || id}`);

  let ws = null;
  let readOnly = true;
  let ended = false;
  let closedOnPurpose = false;
  const enc = new TextEncoder();

  const say = (text) => { status.textContent = text; };

  // Shift+Esc leaves the terminal (every other key goes to the agent in control mode).
  term.attachCustomKeyEventHandler((e) => {
    if (e.type === 'keydown' && e.key === 'Escape' && e.shiftKey) {
      textarea?.blur();
      box.closest('section')?.querySelector('button')?.focus();
      return false;
    }
    return !readOnly;
  });
  term.onData((data) => {
    if (!readOnly && ws && ws.readyState === WebSocket.OPEN) ws.send(enc.encode(data));
  });
  term.onBinary((data) => {
    if (readOnly || !ws || ws.readyState !== WebSocket.OPEN) return;
    const bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 255;
    ws.send(bytes);
  });

  async function showLastScreen() {
    try {
      const s = await api(`/sessions/${seg(id)}/screen`);
      term.reset();
      term.write(String(s.text || '').replace(/\r?\n/g, '\r\n'));
    } catch (_) { /* nothing to show */ }
  }

  function connect() {
    closedOnPurpose = false;
    if (ws) { closedOnPurpose = true; ws.close(); }
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const q = readOnly ? '?read_only=true' : '';
    const sock = new WebSocket(`${proto}://${location.host}/sessions/${seg(id)}/terminal${q}`);
    sock.binaryType = 'arraybuffer';
    ws = sock;
    closedOnPurpose = false;
    let opened = false;
    say('Connecting…');
    sock.onopen = () => {
      opened = true;
      term.reset();
      say(readOnly ? 'Watching (read-only).' : 'In control: keys go to the agent. Shift+Esc leaves the terminal.');
    };
    sock.onmessage = (m) => {
      if (typeof m.data === 'string') {
        let msg = {};
        try { msg = JSON.parse(m.data); } catch (_) { return; }
        if (msg.type === 'exit') {
          ended = true;
          say(`The session ended${msg.state ? ` (${msg.state})` : ''}.`);
          onExit?.(msg.state);
        } else if (msg.type === 'error') {
          say(`The terminal said: ${msg.message}`);
        }
        return;
      }
      term.write(new Uint8Array(m.data));
    };
    sock.onclose = () => {
      if (sock !== ws || closedOnPurpose) return;
      ws = null;
      if (ended) return;
      if (!opened) {
        // The upgrade was refused: the session has ended (or is gone); show what it left.
        ended = true;
        say('The session is not running; its last screen:');
        showLastScreen();
        onExit?.(null);
      } else {
        say('Disconnected from the terminal.');
      }
    };
  }

  function setMode(ro) {
    readOnly = ro;
    term.options.disableStdin = ro;
    term.options.cursorBlink = !ro;
    onModeChange?.(ro);
    if (!ended) connect();
    if (!ro) term.focus();
  }

  if (rec.state && ['stopped', 'failed', 'unknown', 'suspended'].includes(rec.state)) {
    ended = true;
    say('The session is not running; its last screen:');
    await showLastScreen();
  } else {
    connect();
  }

  return {
    term,
    get readOnly() { return readOnly; },
    get ended() { return ended; },
    control() { setMode(false); },
    release() { setMode(true); },
    reconnect() { ended = false; connect(); },
    /** Resizes the session's terminal to fit the box (changes it for every viewer). */
    fitToBox() {
      if (!fit || readOnly || !ws) return;
      const d = fit.proposeDimensions();
      if (!d || !d.cols || !d.rows) return;
      term.resize(d.cols, d.rows);
      ws.send(JSON.stringify({ type: 'resize', cols: d.cols, rows: d.rows }));
    },
    destroy() {
      closedOnPurpose = true;
      if (ws) ws.close();
      ws = null;
      term.dispose();
    },
  };
}
