// The agent-sessions dashboard: sign-in, then one page at a time by the URL's hash
// (#/ sessions, #/session/ID, #/tasks, #/usage), all kept live by the server's event feed.
// Served by `agent-sessions serve` at /; every file is embedded in the binary, nothing loads
// from elsewhere. After sign-in only the HttpOnly cookie proves who we are: the token is
// never kept in a URL, in localStorage or in sessionStorage.

import { post, onUnauthorized } from './js/api.js';
import * as store from './js/store.js';
import { h } from './js/util.js';
import * as sessionsPage from './js/sessions.js';

// The other pages load on first use (and in the background once the first page is drawn):
// the sessions page, the one most opened first, waits for none of their files.
const PAGES = {
  session: () => import('./js/session.js'),
  tasks: () => import('./js/tasks.js'),
  usage: () => import('./js/usage.js'),
};
// A page opened at one of those (a shared link to a session) starts loading it at once,
// alongside the sign-in check.
const firstPage = location.hash.slice(2).split(/[/?]/)[0];
if (PAGES[firstPage]) PAGES[firstPage]().catch(() => {});

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const live = document.getElementById('live');
const signOut = document.getElementById('sign-out');
let page = null;
let signedIn = false;

function setTitle(t) {
  document.title = `${t} · agent-sessions`;
}

function showPage(build) {
  if (page && page.destroy) page.destroy();
  page = null;
  main.replaceChildren();
  page = build(main);
}

let routeGen = 0;

function route() {
  if (!signedIn) return;
  const hash = location.hash || '#/';
  const [path] = hash.slice(1).split('?');
  const parts = path.split('/').filter(Boolean);
  let current = 'sessions';
  let mount = (mod, root) => mod.mount(root, { setTitle });
  if (parts[0] === 'session' && parts[1]) {
    current = 'session';
    const id = decodeURIComponent(parts[1]);
    mount = (mod, root) => mod.mount(root, { id, setTitle });
  } else if (parts[0] === 'tasks' || parts[0] === 'usage') {
    current = parts[0];
  }
  for (const a of nav.querySelectorAll('a')) {
    const on = a.dataset.page === current || (current === 'session' && a.dataset.page === 'sessions');
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const gen = ++routeGen;
  const show = (mod) => {
    if (gen !== routeGen || !signedIn) return; // another route came first, or signed out
    showPage((root) => mount(mod, root));
    focusHeading();
  };
  if (current === 'sessions') {
    show(sessionsPage);
  } else {
    PAGES[current]().then(show, (e) => {
      if (gen !== routeGen) return;
      if (page && page.destroy) page.destroy();
      page = null;
      main.replaceChildren(h('div', { class: 'signin' }, h('h1', null, 'This page could not be loaded'),
        h('p', { role: 'alert' }, String(e && e.message ? e.message : e)),
        h('button', { type: 'button', onclick: route }, 'Try again')));
    });
  }
}

/** Moves focus to the new page's heading for keyboard and screen-reader users. */
function focusHeading() {
  const h1 = main.querySelector('h1');
  if (h1 && document.activeElement && document.activeElement !== document.body
      && !main.contains(document.activeElement)) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: true });
  }
}

/** Loads the other pages' files when the browser has nothing else to do. */
function warmPages() {
  const idle = window.requestIdleCallback || ((fn) => setTimeout(fn, 500));
  idle(() => { for (const load of Object.values(PAGES)) load().catch(() => {}); }, { timeout: 3000 });
}

function showSignIn(message) {
  signedIn = false;
  store.reset();
  if (page && page.destroy) page.destroy();
  page = null;
  nav.hidden = true;
  signOut.hidden = true;
  live.hidden = true;
  setTitle('Sign in');
  const token = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, 'aria-describedby': 'token-help',
  });
  const error = h('p', { id: 'signin-error', class: 'error', role: 'alert' }, message || '');
  const submit = h('button', { type: 'submit', class: 'primary', id: 'sign-in' }, 'Sign in');
  const form = h('form', { id: 'signin', class: 'signin', 'aria-labelledby': 'signin-h' },
    h('h1', { id: 'signin-h' }, 'Sign in'),
    h('p', { id: 'token-help' }, 'Paste this server’s token (the file ', h('code', null, '<home>/server.token'),
      '), or open the one-time sign-in link that ', h('code', null, 'agent-sessions serve'), ' printed.'),
    h('label', { for: 'token' }, 'Server token'), token, submit, error);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = token.value.trim();
    token.value = ''; // nothing keeps it once sent
    if (!value) return;
    submit.disabled = true;
    error.textContent = '';
    try {
      await post('/auth/login', { token: value });
      start();
    } catch (err) {
      error.textContent = err.status === 401
        ? 'That token is not this server’s token: nothing was signed in.'
        : `Sign-in failed: ${err.message}`;
      submit.disabled = false;
      token.focus();
    }
  });
  main.replaceChildren(form);
  token.focus();
}

function start() {
  signedIn = true;
  nav.hidden = false;
  signOut.hidden = false;
  live.hidden = false;
  // The list first, then the feed from the list's head (see store.connect): nothing that
  // happens in between is missed. At boot the list is read already (it is the sign-in check).
  const signedOut = () => {
    if (signedIn) showSignIn('You were signed out (the server restarted?). Sign in again.');
  };
  if (store.isLoaded()) store.connect(signedOut);
  else store.load().catch(() => {}).finally(() => { if (signedIn) store.connect(signedOut); });
  route();
  warmPages();
}

store.onStatus((s, msg) => {
  live.dataset.status = s;
  live.textContent = s === 'live' ? 'Live' : s === 'connecting' ? 'Connecting…' : `Offline${msg ? `: ${msg}` : ''}`;
});

onUnauthorized(() => {
  if (signedIn) showSignIn('You were signed out (the server restarted?). Sign in again.');
});

signOut.addEventListener('click', async () => {
  try { await post('/auth/logout'); } catch (_) { /* signed out all the same */ }
  showSignIn('Signed out.');
});

window.addEventListener('hashchange', route);
// The skip link moves focus without touching the hash (the hash is the route).
document.querySelector('.skip')?.addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});

async function boot() {
  try {
    // The sessions list (preloaded by index.html while the scripts load) is also the sign-in
    // check: one round trip less before the first rows.
    await store.load();
    start();
  } catch (e) {
    if (e.status === 401) showSignIn();
    else {
      main.replaceChildren(h('div', { class: 'signin' }, h('h1', null, 'Cannot reach the server'),
        h('p', { role: 'alert' }, e.message), h('button', { type: 'button', onclick: boot }, 'Try again')));
    }
  }
}

boot();
