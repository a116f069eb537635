// authsplit — the JS half of the browser client. Plain I/O and state around the Rust/wasm
// protocol core (crates/authsplit-wasm): options, `fetch` to the backend (the
// authsplit_core::wire JSON protocol), the `sessionStorage` record of a pending sign-in, the
// check of the authorization URL the backend built, the address bar, the in-memory access
// token. Every protocol decision — PKCE verifier + S256 challenge, state / nonce, the storage
// key, the callback checks (syntax, duplicates, tokens in the URL, state in constant time, iss,
// errors), the returnTo guard — is a call into `core` (the wasm module's exports, set by
// index.js after init()).
//
// This module imports nothing, so the wasm tests (crates/authsplit-wasm/tests/web.rs) load this
// very file in Chromium and drive it with the crate's functions.

/**
 * The wasm core's functions (index.js `init()` sets them from ./loader.js), under short keys
 * (they survive minification): `v` generateRandomCodeVerifier, `c` calculatePKCECodeChallenge,
 * `r` randomState, `k` storageKey, `s` isSafeReturnTo, `f` verifyCallback (crates/authsplit-wasm
 * ops 0–5).
 * @type {Record<'v'|'c'|'r'|'k'|'s'|'f', Function> | null}
 */
let core = null;

/** Sets the protocol core (the wasm module's exports, keyed as above). */
export function setCore(c) {
  core = c;
}

/** Whether the protocol core is loaded. */
export const hasCore = () => core !== null;

/**
 * Every failure of authsplit: `code` is a stable machine-readable string (`state_mismatch`,
 * `access_denied`, `transaction_expired`, `invalid_grant`, `backend_unreachable`, …); `error`
 * and `errorDescription` carry what the provider said (RFC 6749 §4.1.2.1, §5.2), as plain
 * text — never render them as HTML.
 */
export class AuthsplitError extends Error {
  constructor(code, message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'AuthsplitError';
    this.code = code;
    if (details.error != null) this.error = details.error;
    if (details.errorDescription != null) this.errorDescription = details.errorDescription;
  }
}

const fail = (code, message, details) => {
  throw new AuthsplitError(code, message, details);
};
const config = (message) => fail('configuration', message);
const internal = (message) => fail('internal', message);
const storageError = () => fail('storage_unavailable', 'sessionStorage is unavailable or full');

/**
 * Calls the wasm core. Its string results are `"o"` + the value, or `"e"` + code, message,
 * provider error and description separated by NULs (crates/authsplit-wasm `encode`),
 * thrown here as an AuthsplitError.
 */
function call(name, ...args) {
  if (!core) config('authsplit: call `await init()` first');
  const r = core[name](...args);
  if (typeof r != 'string' || r[0] == 'o') return typeof r == 'string' ? r.slice(1) : r;
  const [code, message, error, errorDescription] = r.slice(1).split('\0');
  fail(code, message, { error: error || undefined, errorDescription: errorDescription || undefined });
}

const isObj = (v) => typeof v == 'object' && v !== null && !Array.isArray(v);
const isStr = (v) => typeof v == 'string';
const strOr = (v, d) => (isStr(v) ? v : d);

// ------------------------------------------------------------------ PKCE (RFC 7636 §4.1–§4.2)

/** A new PKCE code verifier: 32 CSPRNG bytes, base64url, 43 characters (RFC 7636 §4.1, §7.1). */
export const generateRandomCodeVerifier = () => call('v');

/** The S256 code challenge of `verifier` (RFC 7636 §4.2); `invalid_verifier` outside §4.1. */
export const calculatePKCECodeChallenge = (verifier) =>
  call('c', isStr(verifier) ? verifier : '');

// ------------------------------------------------------------------ the pending transaction
// One sessionStorage entry per sign-in, under `authsplit.tx.<128 bits of SHA-256(state), hex>`
// (core `storageKey`): single use (removed before it is looked at), 10-minute TTL, nothing but
// the pending transaction (tokens never go to storage; docs/SECURITY.md B10).

const PREFIX = 'authsplit.tx.';
/** Transaction lifetime (authsplit_core::wire::TRANSACTION_TTL_SECS = 600 s), in ms. */
export const TTL_MS = 600_000;
/** Tolerated clock step backwards: a `createdAt` further in the future is refused. */
const FUTURE_SKEW_MS = 60_000;

function storage() {
  try {
    const s = window.sessionStorage;
    if (s) return s;
  } catch {}
  return storageError();
}

const ourKeys = (s) => Object.keys(s).filter((k) => k.startsWith(PREFIX));

/** Whether a stored record (parsed) is past its TTL at `now`, or not a transaction at all. */
const readTx = (raw) => {
  try {
    const t = JSON.parse(raw);
    if (isObj(t) && isStr(t.verifier) && isStr(t.state) && isStr(t.provider) && isStr(t.returnTo) && typeof t.createdAt == 'number') return t;
  } catch {}
  return null;
};
export const isExpired = (t, now) =>
  !Number.isFinite(t.createdAt) || now - t.createdAt > TTL_MS || t.createdAt - now > FUTURE_SKEW_MS;

/** Stores `tx` under the key derived from its state. */
export function saveTx(s, tx) {
  try {
    s.setItem(call('k', tx.state), JSON.stringify(tx));
  } catch (e) {
    if (e instanceof AuthsplitError) throw e;
    storageError();
  }
}

/** Removes every pending transaction of this tab; returns how many there were. */
export function clearTx(s) {
  const keys = ourKeys(s);
  for (const k of keys) s.removeItem(k);
  return keys.length;
}

/** Removes the expired or unreadable pending transactions; returns how many. */
export function purgeTx(s, now) {
  let n = 0;
  for (const k of ourKeys(s)) {
    const t = readTx(s.getItem(k));
    if (!t || isExpired(t, now)) {
      s.removeItem(k);
      n++;
    }
  }
  return n;
}

/** Number of pending transactions in this tab. */
export const pendingTx = (s) => ourKeys(s).length;

/**
 * The parameters of a callback given as a URL, a path or a query string — the query the wasm
 * core reads (its `query_part`: the fragment dropped; a full URL or a path when ':' or '/'
 * comes before the first '?', '&' or '='). Used to find the transaction (`state`) and, once the
 * core accepted the callback (one `iss` at most, valid UTF-8), to read its `iss`.
 */
function callbackParams(input) {
  const s = input.split('#')[0];
  const q = s[0] == '?' ? s.slice(1) : /[:/]/.test(s.split(/[?&=]/)[0]) ? s.slice(s.indexOf('?') + 1 || s.length) : s;
  return new URLSearchParams(q);
}

/** What {@link takeTx} found (the `stored` argument of core `verifyCallback`). */
export const MISSING = 0, MISSING_OTHERS = 1, UNREADABLE = 2, EXPIRED = 3, FOUND = 4;

/**
 * Takes the transaction for `state` out of storage — single use: the entry is removed before
 * it is looked at, whatever happens next. With none, every pending transaction of this tab is
 * dropped. Returns `[status, tx]`: `MISSING` (`MISSING_OTHERS` when this tab was waiting for
 * another sign-in), `UNREADABLE`, `EXPIRED` (past the TTL or dated in the future) or `FOUND`.
 */
export function takeTx(s, state, now) {
  try {
    if (state !== null) {
      const key = call('k', state);
      const raw = s.getItem(key);
      if (raw !== null) {
        s.removeItem(key);
        const tx = readTx(raw);
        return [!tx ? UNREADABLE : isExpired(tx, now) ? EXPIRED : FOUND, tx];
      }
    }
    return [clearTx(s) > 0 ? MISSING_OTHERS : MISSING, null];
  } catch (e) {
    if (e instanceof AuthsplitError) throw e;
    storageError();
  }
}

/**
 * Reads a callback against this tab's stored transactions (RFC 6749 §4.1.2, §10.12; RFC 9207
 * §2.4; docs/SECURITY.md B3–B6, B10): {@link takeTx} for the callback's `state`, then core
 * `verifyCallback` decides (syntax errors first, then the storage outcome, then state in
 * constant time, iss, provider errors). Returns `{ tx, code, iss }`.
 */
export function prepareCallback(url, s, now) {
  const params = callbackParams(url);
  const [stored, tx] = takeTx(s, params.get('state'), now);
  const code = call(
    'f',
    url,
    stored,
    tx ? tx.state : '',
    tx && isStr(tx.issuer) ? tx.issuer : undefined,
    !!(tx && tx.requireIss === true),
    strOr(tx && tx.codeParam, 'code'),
  );
  return { tx, code, iss: params.get('iss') };
}

// ------------------------------------------------------------------ URLs

/** Parameters removed from the address bar after a callback was read (docs/SECURITY.md B7). */
const CALLBACK_PARAMS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri', 'session_state'];

/** `href` without the callback parameters (and `extra`), or `undefined` when it had none. */
export function stripCallbackParams(href, extra) {
  try {
    const u = new URL(href);
    const p = u.searchParams;
    let changed = false;
    for (const n of CALLBACK_PARAMS.concat(extra ?? [])) {
      if (p.has(n)) {
        p.delete(n);
        changed = true;
      }
    }
    if (changed) {
      u.search = p.toString();
      return u.href;
    }
  } catch {}
}

/**
 * Takes the callback parameters (and the `extra` names) out of the address bar; returns the URL
 * they were in, or `undefined` when it had none.
 */
function takeAddressBar(extra) {
  const href = location.href;
  const clean = stripCallbackParams(href, extra);
  if (clean) {
    history.replaceState(null, '', clean);
    return href;
  }
}

/**
 * The callback URL this page was opened with, once it left the address bar (`pageCallback`),
 * and the address it left behind (`pageCleaned`, which `handleCallback(location.href)` then
 * names): taken when this module runs, on the redirect URI page of a sign-in pending in this
 * tab (see the end of this file), or else by the first {@link AuthClient#handleCallback}.
 */
let pageCallback, pageCleaned;

/** {@link takeAddressBar}, remembering what it took. */
function takePageCallback(extra) {
  const taken = takeAddressBar(extra);
  if (taken) {
    pageCallback = taken;
    pageCleaned = location.href;
  }
}

/**
 * On the redirect URI of a sign-in pending in this tab, takes the callback out of the address
 * bar at once — before `init()` fetches the wasm module and before the app's first request — so
 * that no request's `Referer` and no later script sees the code (RFC 9700 §4.2). Needs no wasm:
 * the pending records name their redirect URI and their code parameter.
 */
function takeCallbackEarly() {
  try {
    const here = new URL(location.href);
    const s = window.sessionStorage;
    const extra = [];
    for (const k of ourKeys(s)) {
      const t = readTx(s.getItem(k));
      const r = t && isStr(t.redirectUri) && new URL(t.redirectUri);
      if (r && r.origin == here.origin && r.pathname == here.pathname) extra.push(strOr(t.codeParam, 'code'));
    }
    if (extra.length) takePageCallback(extra);
  } catch {}
}

const isLoopback = (host) => host == 'localhost' || host == '[::1]' || /^127(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(host);

/**
 * Checks the authorization URL the backend built (the `authorization_url` of a
 * `POST /transactions` reply, RFC 6749 §4.1.1) before the browser goes there: an absolute
 * `https:` URL (`http:` on loopback only) without userinfo, carrying exactly once this
 * sign-in's `state`, its S256 `code_challenge` when it carries one (providers without PKCE get
 * none) and its `nonce` when it carries one. Returns the URL unchanged; `configuration` for the
 * scheme, `internal` when the URL does not carry this sign-in's values.
 */
export function checkAuthorizationUrl(href, state, challenge, nonce) {
  let u;
  try {
    u = isStr(href) && new URL(href);
  } catch {}
  if (!u) internal("the backend's authorization_url is not an absolute URL");
  if (!(u.protocol == 'https:' || (u.protocol == 'http:' && isLoopback(u.hostname))) || u.username || u.password) {
    config('the authorization endpoint must be an https URL without userinfo (http is allowed on loopback only)');
  }
  const p = u.searchParams;
  const only = (name, want, optional) => {
    const v = p.getAll(name);
    if (!(optional && !v.length) && (v.length != 1 || v[0] !== want)) {
      internal(`the backend's authorization URL does not carry this sign-in's ${name}`);
    }
  };
  only('state', state);
  only('code_challenge', challenge, true);
  if (p.has('code_challenge')) only('code_challenge_method', 'S256');
  else only('code_challenge_method', '', true);
  only('nonce', nonce, true);
  return href;
}

// ------------------------------------------------------------------ the backend (wire protocol)

/**
 * `POST {backend}{path}` with a JSON body, credentials (the backend's HttpOnly cookies) and
 * the CSRF header `x-authsplit: 1` (RFC 10017 §6.1.3.3). Resolves to the reply's JSON object;
 * a non-2xx reply rejects with the backend's `ErrorBody` code, anything else with
 * `backend_unreachable`.
 */
/**
 * Default deadline of one backend call. Longer than the backend's own outbound deadline
 * (`request_timeout_ms`, 10 s by default) so a slow provider is reported by the backend as the
 * typed `provider_timeout` before the browser gives up (docs/SECURITY.md S15).
 */
const BACKEND_TIMEOUT_MS = 20_000;

async function post(o, path, body) {
  const unreachable = (m) => fail('backend_unreachable', m);
  const signal = AbortSignal.timeout(o.timeoutMs);
  const late = () => signal.aborted && unreachable(`the authsplit backend did not answer within ${o.timeoutMs} ms`);
  let r, j = null;
  try {
    // No body: a GET, with no custom header (no CORS preflight).
    r = await fetch(
      o.backend + path,
      body ? { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json', 'x-authsplit': '1' }, body: JSON.stringify(body), signal } : { credentials: 'include', signal },
    );
  } catch {
    late();
    unreachable('the authsplit backend could not be reached');
  }
  try {
    j = await r.json();
  } catch {
    late();
  }
  if (r.ok) return isObj(j) ? j : unreachable("the backend's reply is not authsplit JSON (check backendUrl)");
  if (isObj(j) && isStr(j.error) && j.error) {
    fail(j.error, strOr(j.error_description, ''), { error: strOr(j.provider_error), errorDescription: strOr(j.provider_error_description) });
  }
  unreachable('the backend answered with an unexpected error (check backendUrl)');
}

/** The wire `User` (snake_case) as the `User` of index.d.ts. */
function userOf(u) {
  if (!isObj(u)) return null;
  const o = {};
  for (const [from, to] of [['id'], ['provider'], ['subject'], ['name'], ['email'], ['email_verified', 'emailVerified'], ['avatar_url', 'avatarUrl'], ['raw']]) {
    o[to ?? from] = u[from] === undefined ? null : u[from];
  }
  return o;
}

/**
 * The code exchange of each callback URL, shared: every {@link AuthClient#handleCallback} call
 * for the same callback — repeated (React StrictMode runs effects twice), concurrent, or from
 * another `AuthClient` on the page — gets the same outcome from one `POST /token`. Resolves to
 * `{ tx, reply }`; emptied at logout, so a signed-out page cannot take the reply again.
 */
const exchanges = new Map();

/** Reads `href` as a callback against this tab's storage and redeems its code (`POST /token`). */
async function exchange(o, href) {
  const { tx, code, iss } = prepareCallback(href, storage(), Date.now());
  if (tx.codeParam != 'code') takeAddressBar([tx.codeParam]);
  const reply = await post(o, '/token', {
    provider: tx.provider,
    code,
    state: tx.state,
    code_verifier: tx.verifier,
    iss,
  });
  return { tx, reply };
}

/**
 * In-app browsers (embedded WebViews) that Google refuses to sign in from with
 * `403 disallowed_useragent`: Google's OAuth 2.0 policy "Use secure browsers" and the error's
 * description in https://developers.google.com/identity/protocols/oauth2/web-server#authorization-errors-disallowed-useragent
 * (see also RFC 8252 §8.12). Android WebViews mark themselves `; wv)`; the Facebook
 * (`FBAN`/`FBAV`/`FB_IAB`), Instagram, LINE (`Line/`) and WeChat (`MicroMessenger`) in-app
 * browsers name themselves in the user agent.
 */
const EMBEDDED_UA = /\bFBAN\/|\bFBAV\/|\bFB_IAB\/|\bInstagram\b|\bLine\/|\bMicroMessenger\/|; wv\)/;
/** WeChat's in-app browser announces itself with `MicroMessenger/<version>`. */
const WECHAT_UA = /\bMicroMessenger\//;

/**
 * The provider id a `login()` names, after aliases: an alias `{ wechat, otherwise }` picks
 * `wechat` inside WeChat's in-app browser and `otherwise` elsewhere (e.g. `wechat_mp` in WeChat,
 * `wechat_open`'s QR code on the desktop). Fails early, before any request, with
 * `embedded_browser_refused` when the chosen provider is one of `o.refusesEmbedded` (Google by
 * default) and the page runs in an in-app browser that refuses it.
 */
function pickProvider(o, id, ua) {
  const a = o.aliases[id];
  const p = a ? (WECHAT_UA.test(ua) ? a.wechat : a.otherwise) : id;
  if (o.refusesEmbedded.includes(p) && EMBEDDED_UA.test(ua)) {
    fail('embedded_browser_refused', `${p} refuses sign-in inside this in-app browser (disallowed_useragent): ask the user to open this page in the system browser (Chrome, Safari, …)`);
  }
  return p;
}

/** Access tokens are refreshed this long before they expire (at most a quarter of their life). */
const REFRESH_SKEW_MS = 30_000;

/** Checks and normalizes `new AuthClient(options)` (`configuration` errors). */
function readOptions(o) {
  const page = location.href;
  const http = (s) => {
    try {
      const u = new URL(s, page);
      if (u.protocol == 'https:' || u.protocol == 'http:') return u;
    } catch {}
  };
  // RFC 6750 §5.3: the token goes over TLS only; plain http for loopback development.
  const secure = (u) => u.protocol == 'https:' || isLoopback(u.hostname);
  if (!isObj(o)) config('AuthClient options must be an object');
  const { backendUrl: b, provider: p, extraParams: x, apiOrigins: a } = o;
  if (!isStr(b) || !b) config('backendUrl (string) is required');
  const u = http(b) || config('backendUrl must be an http(s) URL or a path');
  if (!secure(u)) config('backendUrl must be https (http is allowed on loopback hosts only)');
  if (u.search || u.hash) config('backendUrl must not have a query or fragment');
  if (!isStr(p) || !p) config('provider (string) is required');
  const opt = (v, m) => (v == null ? undefined : isStr(v) ? v : config(m));
  const redirectUri = opt(o.redirectUri, 'redirectUri must be a string');
  const scope = opt(o.scope, 'scope must be a space-separated string');
  const extras = [];
  if (isObj(x)) {
    for (const [k, v] of Object.entries(x)) extras.push([k, isStr(v) ? v : config('extraParams values must be strings')]);
  } else if (x != null) config('extraParams must be an object of strings');
  if (a != null && (!Array.isArray(a) || !a.every(isStr))) config('apiOrigins must be an array of origins');
  const aliases = {};
  if (isObj(o.aliases)) {
    for (const [k, v] of Object.entries(o.aliases)) {
      if (!isObj(v) || !isStr(v.wechat) || !v.wechat || !isStr(v.otherwise) || !v.otherwise) {
        config('aliases values must be { wechat: string, otherwise: string }');
      }
      aliases[k] = { wechat: v.wechat, otherwise: v.otherwise };
    }
  } else if (o.aliases != null) config('aliases must be an object');
  const r = o.refusesEmbedded ?? ['google'];
  if (!Array.isArray(r) || !r.every(isStr)) config('refusesEmbedded must be an array of provider ids');
  const t = o.timeoutMs ?? BACKEND_TIMEOUT_MS;
  if (!Number.isInteger(t) || t < 1) config('timeoutMs must be a positive integer (milliseconds)');
  return {
    timeoutMs: t,
    backend: u.href.replace(/\/+$/, ''),
    backendOrigin: u.origin,
    provider: p,
    aliases,
    refusesEmbedded: [...r],
    redirectUri,
    scope,
    extras,
    apiOrigins: (a || []).map((s) => {
      const api = http(s) || config('apiOrigins must be an array of http(s) origins');
      return secure(api) ? api.origin : config('apiOrigins must be https origins (http is allowed on loopback hosts only)');
    }),
  };
}

/**
 * The sessionStorage entry holding the `state` of this tab's RP-initiated logout, checked when
 * the provider sends the browser back (OIDC RP-Initiated Logout 1.0 §3).
 */
const LOGOUT_KEY = 'authsplit.logout';

/**
 * What {@link AuthClient#onChange} listeners hear, and what the tabs of one backend tell each
 * other on their `BroadcastChannel`: `signed_out` (a logout; or, locally only, a refresh that
 * found no session), `session_ended` (the backend answered `session_ended`) and `signed_in` (a
 * sign-in completed in another tab: its cookie replaced this tab's session).
 */
const CHANGES = ['signed_out', 'session_ended', 'signed_in'];

/**
 * This page, in the messages of its clients: a `signed_in` from a client of the same page is
 * not a replaced session (the page's clients share one code exchange, see `exchanges`).
 */
const PAGE = Math.random();

/** A backend in BFF mode keeps the access token (docs/ARCHITECTURE.md "Two modes"). */
const bffError = () => new AuthsplitError('configuration', 'the backend runs as a BFF: no access token reaches the browser; client.fetch calls APIs through it');

/**
 * The authsplit browser client (TSDoc in index.d.ts): authorization code flow with PKCE
 * through the authsplit backend (RFC 6749 §4.1, RFC 7636, RFC 10017 §6.2). The access token
 * lives in this object only (never in storage or a URL); the refresh token never reaches the
 * browser.
 */
export class AuthClient {
  #o;
  #session = null; // { token, refreshAt }
  #user = null;
  #info = null; // the memoized GET /session
  #refreshing = null;
  #epoch = 0;
  #subs = new Set();
  #bc;

  constructor(options) {
    if (!core) config('authsplit: call `await init()` before `new AuthClient(…)`');
    this.#o = readOptions(options);
    // The page's other tabs (and other clients) of this backend share its session cookie: they
    // hear this client's sign-in and sign-out, and it hears theirs. Without BroadcastChannel
    // each tab learns on its next call (`session_ended`, `not_authenticated`).
    try {
      this.#bc = new BroadcastChannel('authsplit ' + this.#o.backend);
      this.#bc.onmessage = ({ data: d }) => Array.isArray(d) && CHANGES.includes(d[0]) && !(d[1] == PAGE && d[0] == CHANGES[2]) && this.#forget(d[0]);
    } catch {}
  }

  /**
   * Drops the session held in memory and tells the listeners why (`change`, one of CHANGES);
   * `tell`: also the other tabs.
   */
  #forget(change, tell) {
    exchanges.clear();
    this.#epoch++;
    this.#session = this.#user = this.#refreshing = this.#info = null;
    if (tell) this.#bc?.postMessage([change, PAGE]);
    for (const f of this.#subs) queueMicrotask(() => f(change));
  }

  onChange(listener) {
    this.#subs.add(listener);
    return () => void this.#subs.delete(listener);
  }

  /** Keeps the access token of a `TokenReply` in memory; returns `expiresAt` in ms. */
  #accept(reply, epoch) {
    // `token_type: "none"`: the provider issues no user access token (WeCom identifies the
    // member with the app's corp token); the sign-in holds a user but nothing for `fetch`.
    const none = reply.token_type === 'none';
    const token = none ? null : reply.access_token;
    // '' is a BFF backend's answer (docs/ARCHITECTURE.md "Two modes"): it keeps the token.
    if (!none && !isStr(token)) internal("the backend's token reply has no access_token");
    if (this.#epoch != epoch) fail('not_authenticated', 'signed out while the request was in flight');
    const now = Date.now();
    const expiresAt = typeof reply.expires_at == 'number' ? reply.expires_at * 1000 : null;
    const refreshAt = expiresAt === null ? null : expiresAt - Math.min(REFRESH_SKEW_MS, Math.max((expiresAt - now) / 4, 0));
    this.#session = { token, refreshAt };
    return expiresAt;
  }

  async login(options) {
    const o = this.#o;
    let returnTo = options?.returnTo;
    if (returnTo == null) returnTo = '/';
    else if (!isStr(returnTo) || !call('s', returnTo)) {
      fail('invalid_return_to', 'returnTo must be a same-origin path such as /account');
    }
    let provider = options?.provider;
    if (provider == null) provider = o.provider;
    else if (!isStr(provider) || !provider) config('provider must be a non-empty string');
    provider = pickProvider(o, provider, navigator.userAgent);
    const s = storage();
    try {
      purgeTx(s, Date.now());
    } catch {
      storageError();
    }
    // RFC 7636 §4.1–§4.2, RFC 6749 §10.12, OIDC Core §3.1.2.1.
    const verifier = generateRandomCodeVerifier();
    const challenge = calculatePKCECodeChallenge(verifier);
    const state = call('r');
    const nonce = call('r');
    // The backend builds the URL (it puts the nonce in only for an OpenID request).
    const reply = await post(o, '/transactions', {
      provider,
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      nonce,
      scope: o.scope,
      extra_params: o.extras,
    });
    const url = checkAuthorizationUrl(reply.authorization_url, state, challenge, nonce);
    const redirectUri = new URL(url).searchParams.get('redirect_uri');
    if (o.redirectUri !== undefined && o.redirectUri !== redirectUri) {
      config('redirectUri differs from the redirect URI registered on the backend (RFC 6749 §3.1.2)');
    }
    saveTx(s, {
      verifier,
      state,
      nonce,
      provider,
      returnTo,
      redirectUri,
      createdAt: Date.now(),
      issuer: strOr(reply.issuer, null),
      requireIss: reply.require_iss === true,
      codeParam: strOr(reply.code_param, 'code'),
    });
    location.assign(url);
  }

  async handleCallback(url) {
    // The callback leaves the address bar before anything can fail or be requested
    // (RFC 9700 §4.2; docs/SECURITY.md B7), unless it already left when this module loaded.
    takePageCallback();
    let href = url == null ? (pageCallback ?? location.href) : String(url);
    if (href === pageCleaned) href = pageCallback;
    let p = exchanges.get(href);
    const first = !p;
    if (first) exchanges.set(href, (p = exchange(this.#o, href)));
    const epoch = this.#epoch;
    const { tx, reply } = await p;
    const expiresAt = this.#accept(reply, epoch);
    const user = (this.#user = userOf(reply.user));
    this.#info = Promise.resolve({ authenticated: true, user, expiresAt });
    // One sign-in, one message: a repeated call for the same callback (StrictMode) tells no one.
    if (first) this.#bc?.postMessage([CHANGES[2], PAGE]);
    // Re-checked: storage is writable by any script of the origin (docs/SECURITY.md B9).
    return { user, returnTo: call('s', tx.returnTo) ? tx.returnTo : '/', expiresAt };
  }

  getAccessToken() {
    const s = this.#session;
    if (s && s.token === null) {
      return Promise.reject(new AuthsplitError('configuration', 'this provider issues no user access token (e.g. WeCom); the signed-in user is in user()'));
    }
    if (s && s.token === '') return Promise.reject(bffError());
    if (s && (s.refreshAt === null || Date.now() < s.refreshAt)) return Promise.resolve(s.token);
    if (this.#refreshing) return this.#refreshing;
    const epoch = this.#epoch;
    const p = post(this.#o, '/refresh', {}).then(
      (reply) => {
        if (this.#epoch == epoch) this.#refreshing = null;
        this.#accept(reply, epoch);
        if (isObj(reply.user)) this.#user = userOf(reply.user);
        return this.#session.token || Promise.reject(bffError());
      },
      (e) => {
        if (this.#epoch == epoch) {
          this.#refreshing = null;
          // Only `session_ended` is told to the other tabs: a `not_authenticated` may race a
          // sign-in in another tab.
          const ended = e.code == CHANGES[1];
          if (ended || e.code == 'not_authenticated' || e.code == 'invalid_grant') this.#forget(CHANGES[ended ? 1 : 0], ended);
        }
        throw e;
      },
    );
    return (this.#refreshing = p);
  }

  async fetch(input, init) {
    const epoch = this.#epoch;
    // '' from a BFF backend: no token in the page, the request goes through the backend.
    const token = await this.getAccessToken().catch((e) => {
      if (this.#session?.token === '') return '';
      throw e;
    });
    const req = new Request(input, init ?? undefined);
    // Only to this page, the backend and configured API origins (RFC 6750 §5.3); from a BFF
    // backend's page, only to this page and the backend, with the session cookie and the CSRF
    // header instead of a token.
    const target = new URL(req.url).origin;
    const o = this.#o;
    if (target != location.origin && target != o.backendOrigin && (!token || !o.apiOrigins.includes(target))) {
      config("client.fetch sends the access token only to this page's origin, the backend's origin and apiOrigins");
    }
    if (token) req.headers.set('authorization', 'Bearer ' + token);
    else req.headers.set('x-authsplit', '1');
    // RFC 6750 §5.3: a redirect is not followed with the token (it would carry it wherever the
    // API points), nor with the session cookie; the caller gets a typed error instead.
    const res = await fetch(req, { redirect: 'manual', ...(!token && { credentials: 'include' }) });
    if (res.type == 'opaqueredirect') config(`client.fetch does not follow redirects (${target} answered a redirect)`);
    // The backend's routes (the proxy, [upstream], the host app's AuthUser routes) answer a
    // session ended on the server with 401 `session_ended`: signed out here and in every tab
    // (unless this client signed out or in meanwhile). Only the page's and the backend's
    // origins speak for the session; another API's 401 is the caller's to read.
    if (res.status == 401 && (target == location.origin || target == o.backendOrigin)) {
      const j = await res.clone().json().catch(() => 0);
      if (j?.error == CHANGES[1]) {
        if (this.#epoch == epoch) this.#forget(CHANGES[1], 1);
        fail(CHANGES[1], j.error_description);
      }
    }
    return res;
  }

  isAuthenticated() {
    return this.#session !== null;
  }

  user() {
    return this.#user;
  }

  session() {
    const epoch = this.#epoch;
    return (this.#info ??= post(this.#o, '/session').then(
      (r) => {
        const info = { authenticated: r.authenticated === true, user: userOf(r.user), expiresAt: typeof r.expiresAt == 'number' ? r.expiresAt : null };
        if (this.#epoch == epoch && info.authenticated) this.#user ??= info.user;
        return info;
      },
      (e) => {
        if (this.#epoch == epoch) this.#info = null;
        throw e;
      },
    ));
  }

  async logout() {
    this.#forget(CHANGES[0], 1);
    try {
      clearTx(window.sessionStorage);
    } catch {}
    try {
      const r = await post(this.#o, '/logout', {});
      const endSessionUrl = strOr(r.end_session_url, null);
      // The state the provider must hand back to the post-logout redirect URI (§3); a logout
      // without one leaves no older state behind.
      try {
        storage().removeItem(LOGOUT_KEY);
        const state = new URL(endSessionUrl).searchParams.get('state');
        if (state) storage().setItem(LOGOUT_KEY, state);
      } catch {}
      return { revoked: r.revoked === true, endSessionUrl };
    } catch (e) {
      if (e.code == 'not_authenticated' || e.code == CHANGES[1]) return { revoked: false, endSessionUrl: null };
      throw e;
    }
  }

  async handleLogoutCallback(url) {
    const s = storage();
    const sent = s.getItem(LOGOUT_KEY);
    s.removeItem(LOGOUT_KEY);
    const taken = takeAddressBar();
    const got = callbackParams(url == null ? (taken ?? location.href) : String(url)).getAll('state');
    // One message; the code says what is wrong. Compared as SHA-256 digests (core storageKey):
    // no timing of the state itself.
    const bad = (code) => fail(code, "the post-logout redirect does not carry the state of this tab's logout");
    if (!sent) bad('transaction_missing');
    if (!got.length) bad('state_missing');
    if (got.length > 1 || call('k', got[0]) != call('k', sent)) bad('state_mismatch');
  }

  /** Closes the channel to the page's other tabs; the client holds no WebAssembly memory. */
  free() {
    this.#bc?.close();
  }
}

takeCallbackEarly();
