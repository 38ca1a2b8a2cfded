// The agent-sessions dashboard: sign-in, then one page at a time by the URL's hash
// (#/ sessions, #/session/ID, #/tasks, #/usage), all kept live by the server's event feed.
// Served by `agent-sessions serve` at /; every file is embedded in the binary, nothing loads
// from elsewhere. After sign-in only the HttpOnly cookie proves who we are: the token is
// never kept in a URL, in localStorage or in sessionStorage.

import { api, post, onUnauthorized } from './js/api.js';
import * as store from './js/store.js';
import { h } from './js/util.js';
import * as sessionsPage from './js/sessions.js';
import * as sessionPage from './js/session.js';
import * as tasksPage from './js/tasks.js';
import * as usagePage from './js/usage.js';

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

function route() {
  if (!signedIn) return;
  const hash = location.hash || '#/';
  const [path] = hash.slice(1).split('?');
  const parts = path.split('/').filter(Boolean);
  let current = 'sessions';
  if (parts[0] === 'session' && parts[1]) {
    current = 'session';
    const id = decodeURIComponent(parts[1]);
    showPage((root) => sessionPage.mount(root, { id, setTitle }));
  } else if (parts[0] === 'tasks') {
    current = 'tasks';
    showPage((root) => tasksPage.mount(root, { setTitle }));
  } else if (parts[0] === 'usage') {
    current = 'usage';
    showPage((root) => usagePage.mount(root, { setTitle }));
  } else {
    showPage((root) => sessionsPage.mount(root, { setTitle }));
  }
  for (const a of nav.querySelectorAll('a')) {
    const on = a.dataset.page === current || (current === 'session' && a.dataset.page === 'sessions');
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  // Move focus to the new page's heading for keyboard and screen-reader users.
  const h1 = main.querySelector('h1');
  if (h1 && document.activeElement && document.activeElement !== document.body
      && !main.contains(document.activeElement)) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: true });
  }
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
  // Feed first, then the list: nothing that happens in between is missed.
  store.connect(() => showSignIn('You were signed out (the server restarted?). Sign in again.'));
  store.load().catch(() => {});
  route();
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
    await api('/auth/me');
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
