// The server's JSON API, same origin, signed in by the HttpOnly cookie (never a token in a
// URL or in storage). Errors come back as {"error": {"kind", "message"}}.

export class ApiError extends Error {
  constructor(status, kind, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.kind = kind || 'http';
  }
}

let unauthorized = () => {};

/** Called when an API request is refused for want of sign-in (the cookie expired). */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

/**
 * A request: `api('/sessions')`, `api('/sessions/ID/send', {method: 'POST', body: {...}})`.
 * Resolves to the parsed JSON (or text); rejects with an ApiError. `onResponse(r)` sees a
 * successful response's headers first.
 */
export async function api(path, { method = 'GET', body, signal, onResponse } = {}) {
  const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin', signal };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, opts);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'the server cannot be reached');
  }
  if (!r.ok) {
    let kind;
    let message = `${r.status} ${r.statusText}`;
    try {
      const j = await r.json();
      if (j && j.error) ({ kind, message } = j.error);
    } catch (_) { /* not JSON */ }
    if (r.status === 401 && !path.startsWith('/auth/')) unauthorized();
    throw new ApiError(r.status, kind, message);
  }
  if (onResponse) onResponse(r);
  const type = r.headers.get('content-type') || '';
  return type.includes('json') ? r.json() : r.text();
}

export const post = (path, body = {}) => api(path, { method: 'POST', body });

/** A path segment, escaped. */
export const seg = (s) => encodeURIComponent(s);
