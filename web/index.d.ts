/**
 * authsplit — sign-in with OAuth 2.0 authorization code + PKCE (RFC 6749 §4.1, RFC 7636),
 * the browser half in WebAssembly, the client secret on your authsplit backend.
 *
 * ```ts
 * import { init, AuthClient, AuthsplitError } from 'authsplit';
 * await init();
 * const client = new AuthClient({ backendUrl: '/auth', provider: 'github' });
 * await client.login({ returnTo: '/account' });          // on a "Sign in" click
 * const { user, returnTo } = await client.handleCallback(); // on the redirect URI page
 * const res = await client.fetch('/api/hello');            // Authorization: Bearer …
 * ```
 * The `state` and OIDC `nonce` that `login()` makes are 64 hex characters (256 bits from the
 * CSPRNG, RFC 6749 §10.12): alphanumeric, so providers that accept only `[A-Za-z0-9]`
 * (WeChat, WeCom) take them.
 * @packageDocumentation
 */

// The public types are declared here (not imported from ./pkg or ./client.js): index.js
// re-exports the client of ./client.js (plain JS) around the wasm protocol core in ./pkg.
// They need the `dom` lib (`Response`, `RequestInfo`, `BufferSource`); tests/e2e/bundlers.test.mjs
// type-checks a consumer with `lib: ["es2022", "dom"]` under each moduleResolution.

/** What {@link init} accepts: where to get the WebAssembly module. */
export type InitInput =
  | RequestInfo
  | URL
  | Response
  | BufferSource
  | WebAssembly.Module;

/** Options of `new AuthClient(…)`. */
export interface AuthClientOptions {
  /**
   * The authsplit backend mount point, absolute or relative to the page, e.g. `"/auth"`; `https`
   * (plain `http` on loopback hosts only), else a `configuration` error.
   */
  backendUrl: string;
  /** The provider id, one of `GET {backendUrl}/config`'s `providers[].id`. */
  provider: string;
  /**
   * Provider aliases picked from the browser the page runs in: `login({ provider: 'wechat' })`
   * with `aliases: { wechat: { wechat: 'wechat_mp', otherwise: 'wechat_open' } }` signs in with
   * `wechat_mp` inside WeChat's in-app browser (`MicroMessenger` in the user agent) and with
   * `wechat_open` (QR code) elsewhere. An alias may also be the client's `provider`.
   */
  aliases?: Record<string, ProviderAlias>;
  /**
   * Provider ids that refuse sign-in from in-app browsers (Google's `disallowed_useragent`;
   * default `['google']`): inside such a browser (Facebook, Instagram, LINE, WeChat, Android
   * WebView) `login()` rejects with `embedded_browser_refused` before any request.
   */
  refusesEmbedded?: string[];
  /**
   * If set, must equal the backend's registered redirect URI byte for byte (RFC 6749 §3.1.2);
   * a mismatch is a `configuration` error.
   */
  redirectUri?: string;
  /**
   * Space-separated scopes replacing the backend's defaults (RFC 6749 §3.3); sent to the
   * backend, which builds the authorization URL. A scope token outside RFC 6749 §3.3 is an
   * `invalid_request` error from `login()`.
   */
  scope?: string;
  /**
   * Extra authorization request parameters (e.g. `{ login_hint: "…" }`), sent to the backend,
   * which appends them after the provider's own; a clash with a protocol parameter, a secret or
   * one of the provider's extras is an `invalid_request` error from `login()`.
   */
  extraParams?: Record<string, string>;
  /**
   * Origins besides this page's and the backend's to which `client.fetch` may send the token;
   * `https` (plain `http` on loopback hosts only), else a `configuration` error.
   */
  apiOrigins?: string[];
  /**
   * Deadline of one call to the backend, in milliseconds (default 20000); when it passes the
   * call fails with `backend_unreachable`. Keep it above the backend's `request_timeout_ms`
   * (10000 by default) so a slow provider is reported by the backend as `provider_timeout`
   * (docs/SECURITY.md S15).
   */
  timeoutMs?: number;
}

/** Options of `client.login(…)`. */
export interface LoginOptions {
  /** The provider id for this sign-in (default: the client's `provider`). */
  provider?: string;
  /**
   * Same-origin path to return to after sign-in (`/` by default); anything else is refused with
   * `invalid_return_to`.
   */
  returnTo?: string;
}

/** The provider an alias stands for, by the browser the page runs in. */
export interface ProviderAlias {
  /** The provider id inside WeChat's in-app browser (e.g. `wechat_mp`). */
  wechat: string;
  /** The provider id everywhere else (e.g. `wechat_open`). */
  otherwise: string;
}

/** The signed-in user as the backend normalized it (keyed by `provider` + `subject`). */
export interface User {
  /** `"<provider>:<subject>"`. */
  id: string;
  provider: string;
  /** The provider's stable subject. */
  subject: string;
  name: string | null;
  email: string | null;
  emailVerified: boolean | null;
  avatarUrl: string | null;
  /** The provider's raw profile. */
  raw: unknown;
}

/** What `handleCallback` resolves to. */
export interface CallbackResult {
  /** The user, when the backend fetched one (userinfo). */
  user: User | null;
  /** The checked same-origin path given to `login({ returnTo })`. */
  returnTo: string;
  /** When the access token expires, in ms since the epoch (like `Date.now()`), if known. */
  expiresAt: number | null;
}

/** What `session` resolves to: the backend's session, signed in or out. */
export interface SessionInfo {
  /** Whether the backend holds a live session for this browser. */
  authenticated: boolean;
  /** The signed-in user, when the backend has one. */
  user: User | null;
  /** When the session's access token expires, in ms since the epoch, if known. */
  expiresAt: number | null;
}

/**
 * Why an {@link AuthClient.onChange} listener was called:
 * - `'signed_out'`: a logout in this tab or another tab of the same backend (they share the
 *   session cookie), or a refresh here that found no session (`not_authenticated`,
 *   `invalid_grant`);
 * - `'session_ended'`: the backend answered `session_ended` — the session was ended on the
 *   server (back-channel logout from the provider, a logout elsewhere, a second sign-in) —
 *   to a call in this tab or another;
 * - `'signed_in'`: a sign-in completed in another tab; its session replaced this one, so call
 *   {@link AuthClient.session} (and `getAccessToken`) to learn who is signed in now.
 */
export type AuthChange = 'signed_out' | 'session_ended' | 'signed_in';

/** What `logout` resolves to. */
export interface LogoutResult {
  /** Whether the provider confirmed revocation of the refresh token (RFC 7009 §2.2). */
  revoked: boolean;
  /** The provider's end-session URL (OIDC RP-Initiated Logout), to navigate to if wanted. */
  endSessionUrl: string | null;
}

/**
 * Loads and instantiates the WebAssembly module; call (and await) it once before creating an
 * {@link AuthClient}. Memoized: later calls return the same promise. Nothing happens at import
 * time.
 *
 * @param input where to get the module: a URL or string, a `Response` (or a promise of one),
 *   a `WebAssembly.Module`, or its bytes. Default: the `.wasm` file shipped next to this module
 *   (bundlers such as Vite pick it up through `new URL(…, import.meta.url)`), or with
 *   `authsplit/inline` the module inlined in the package.
 * @throws {AuthsplitError} `wasm_load_failed` when the module does not load: the message says
 *   what came back (`HTTP 404`, an HTML page) and the fix (README "Bundlers").
 */
export function init(input?: InitInput | Promise<InitInput>): Promise<void>;

/** Whether {@link init} has completed. */
export function isInitialized(): boolean;

/**
 * A new PKCE code verifier (RFC 7636 §4.1): 32 bytes from the browser's CSPRNG
 * (`crypto.getRandomValues`), base64url-encoded without padding — 43 characters of
 * `[A-Za-z0-9-_]`, 256 bits of entropy (RFC 7636 §7.1). Synchronous; computed in WebAssembly.
 *
 * `login()` makes its own verifier; this export is for apps that run PKCE themselves and for
 * benchmarks (it mirrors oauth4webapi's `generateRandomCodeVerifier`).
 * @throws {AuthsplitError} `configuration` before {@link init} has completed;
 *   `random_unavailable` when the platform CSPRNG fails.
 */
export function generateRandomCodeVerifier(): string;

/**
 * The S256 code challenge of `verifier` (RFC 7636 §4.2):
 * `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`, 43 characters. Synchronous; SHA-256 runs
 * in WebAssembly (RustCrypto `sha2`). Only S256 — never `plain` (RFC 7636 §7.2).
 * @param verifier a code verifier: 43–128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
 * @throws {AuthsplitError} `invalid_verifier` for anything else (the value is never echoed);
 *   `configuration` before {@link init} has completed.
 */
export function calculatePKCECodeChallenge(verifier: string): string;

/**
 * Every `code` an {@link AuthsplitError} can have: authsplit-core's `ErrorCode` list, closed
 * (a test in `crates/authsplit-core/tests/web_error_codes.rs` checks this union against
 * `ALL_CODES`), so a `switch` over it can be exhaustive. The package and the backend come
 * from one release; a backend of another release may send a code this union does not list.
 */
export type AuthsplitErrorCode =
  | 'state_mismatch'
  | 'state_missing'
  | 'iss_mismatch'
  | 'iss_missing'
  | 'access_denied'
  | 'authorization_error'
  | 'duplicate_parameter'
  | 'token_in_callback'
  | 'code_missing'
  | 'malformed_callback'
  | 'transaction_missing'
  | 'transaction_expired'
  | 'transaction_used'
  | 'invalid_return_to'
  | 'invalid_request'
  | 'invalid_verifier'
  | 'pkce_mismatch'
  | 'csrf_header_missing'
  | 'origin_rejected'
  | 'unknown_provider'
  | 'body_too_large'
  | 'unsupported_media_type'
  | 'not_authenticated'
  | 'session_ended'
  | 'invalid_grant'
  | 'invalid_client'
  | 'provider_error'
  | 'provider_bad_response'
  | 'provider_unreachable'
  | 'provider_timeout'
  | 'provider_unavailable'
  | 'invalid_id_token'
  | 'discovery_failed'
  | 'random_unavailable'
  | 'store_unavailable'
  | 'configuration'
  | 'storage_unavailable'
  | 'backend_unreachable'
  | 'wasm_load_failed'
  | 'embedded_browser_refused'
  | 'internal';

/**
 * Every failure of authsplit. `code` is stable and machine-readable; `message` is for humans;
 * `error` / `errorDescription` carry the provider's RFC 6749 §4.1.2.1 / §5.2 `error` and
 * `error_description` when it sent them — plain text: render with `textContent`, never as HTML.
 */
export class AuthsplitError extends Error {
  constructor(
    code: AuthsplitErrorCode,
    message: string,
    details?: { error?: string; errorDescription?: string; cause?: unknown },
  );
  readonly name: 'AuthsplitError';
  /** Stable machine-readable code. */
  readonly code: AuthsplitErrorCode;
  /** The provider's `error` (RFC 6749 §4.1.2.1, §5.2), if any. */
  readonly error?: string;
  /** The provider's `error_description`, if any (plain text). */
  readonly errorDescription?: string;
}

/**
 * The authsplit browser client: authorization code flow with PKCE through the authsplit
 * backend (RFC 6749 §4.1, RFC 7636, RFC 10017 §6.2 token-mediating backend). The access token
 * lives in memory only; the refresh token never reaches the browser.
 */
export class AuthClient {
  /**
   * A client for one provider of an authsplit backend. The redirect URI is the one registered
   * on the backend (RFC 6749 §3.1.2); `redirectUri`, if given, is only checked against it.
   * @throws {AuthsplitError} `configuration` when an option is malformed or {@link init} has
   *   not completed.
   */
  constructor(options: AuthClientOptions);

  /**
   * Starts a sign-in: PKCE verifier + S256 challenge (RFC 7636 §4.1–§4.2), `state`
   * (RFC 6749 §10.12), OIDC `nonce`; registers state + challenge + nonce, `scope` and
   * `extraParams` with the backend (`POST /transactions` — never the verifier), which answers
   * with the authorization URL (RFC 6749 §4.1.1); checks that the URL is `https:` (`http:` on
   * loopback only) and carries this sign-in's `state`, `code_challenge` and `nonce`; keeps the
   * transaction in `sessionStorage` (single use, 10 min); navigates there.
   * @throws {AuthsplitError} `invalid_return_to` (not a same-origin path), `embedded_browser_refused` (see `refusesEmbedded`), `backend_unreachable`,
   *   `unknown_provider`, `invalid_request` (a bad `scope` or `extraParams`),
   *   `storage_unavailable`, `configuration`, `internal` (the URL does not carry this sign-in's
   *   values), …
   */
  login(options?: LoginOptions): Promise<void>;

  /**
   * Completes a sign-in on the redirect URI page (RFC 6749 §4.1.2): parses the callback
   * (default `location.href`), takes its transaction out of storage (single use on every
   * outcome, 10 min TTL), checks `state` (RFC 6749 §10.12) and `iss` (RFC 9207 §2.4), strips
   * `code`/`state` from the address bar, and redeems the code through `POST /token`. On the
   * redirect URI of a sign-in pending in this tab the callback already left the address bar
   * when the package loaded (before any request; RFC 9700 §4.2): recognise the callback route by
   * its path, not by `code` in `location.search` (calling this with the stripped
   * `location.href` still reads the original callback). Idempotent for one callback
   * URL: repeated or concurrent calls — also from another `AuthClient` on the page, as React
   * StrictMode makes — share one `POST /token` and resolve (or reject) alike.
   * @throws {AuthsplitError} `access_denied`, `authorization_error`, `state_mismatch`,
   *   `state_missing`, `iss_mismatch`, `iss_missing`, `duplicate_parameter`, `token_in_callback`,
   *   `code_missing`, `transaction_missing`, `transaction_expired`, `invalid_grant`, …
   */
  handleCallback(url?: string): Promise<CallbackResult>;

  /**
   * The in-memory access token, renewed through the backend (`POST /refresh`, RFC 6749 §6)
   * shortly before it expires or when none is held (e.g. after a reload); concurrent callers
   * share one refresh.
   * @throws {AuthsplitError} `not_authenticated` (no session), `session_ended` (the session was
   *   ended on the server: this tab and the page's other tabs are signed out, see
   *   {@link AuthClient.onChange}), `invalid_grant`, `backend_unreachable`, …;
   *   `configuration` after a sign-in with a provider that issues no user access token
   *   (WeCom: the backend replies `token_type: "none"`; the user is in {@link AuthClient.user}),
   *   and with a backend in BFF mode (`[server] mode = "bff"`), which never hands out the token.
   */
  getAccessToken(): Promise<string>;

  /**
   * `fetch` with `Authorization: Bearer <token>` (RFC 6750 §2.1), sent only to this page's
   * origin, the backend's origin and `apiOrigins` (RFC 6750 §5.3). Redirects are not followed
   * with the token (`redirect: 'manual'`). With a backend in BFF mode (`[server] mode =
   * "bff"`) no token exists in the page: the request goes only to this page's origin or the
   * backend's, with the session cookie and `x-authsplit: 1`, and the backend calls the API
   * (its `/proxy/<provider>/…` or `[upstream]`) — the same call works in both modes.
   * Other answers resolve as `fetch` does, except a `401` whose JSON `error` is
   * `session_ended` (the backend's routes say the session was ended on the server): that
   * rejects, after signing out this tab and the page's other tabs.
   * @throws {AuthsplitError} as {@link AuthClient.getAccessToken}; `session_ended`;
   *   `configuration` for another origin or when the answer is a redirect. Network errors
   *   reject as `fetch` does.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;

  /** Whether an access token is held in memory. */
  isAuthenticated(): boolean;

  /** The signed-in user (OIDC Core §5.3 userinfo as normalized by the backend), or `null`. */
  user(): User | null;

  /**
   * Asks the backend who is signed in (`GET /session`: no token, no refresh, no side effect;
   * a signed-out answer is a 200, so a signed-out page load logs no failed request). Call it
   * after a reload: when signed in, {@link AuthClient.user} returns the user from then on.
   * Memoized: one request per client until `logout` or a failed refresh.
   * @throws {AuthsplitError} `backend_unreachable` (no answer, or not authsplit JSON),
   *   `store_unavailable`.
   */
  session(): Promise<SessionInfo>;

  /**
   * Signs out: forgets the token and user (the page's other tabs of this backend too, and the
   * listeners hear `'signed_out'`), asks the backend to revoke the refresh token (RFC 7009 §2)
   * and clear its cookies; resolves with the provider's end-session URL, if any. The `state` in
   * that URL is kept in this tab's `sessionStorage` for {@link AuthClient.handleLogoutCallback}.
   * @throws {AuthsplitError} `backend_unreachable`, … (local state is forgotten anyway).
   */
  logout(): Promise<LogoutResult>;

  /**
   * On the post-logout redirect URI, after the browser went to `endSessionUrl`: checks the
   * `state` the provider handed back (OIDC RP-Initiated Logout 1.0 §3) against the one this
   * tab's `logout()` got, once (the stored state is removed whatever the outcome), and takes
   * `state` out of the address bar. `url` defaults to `location.href`.
   * @throws {AuthsplitError} `state_mismatch` (another state, or several), `state_missing` (none
   *   came back), `transaction_missing` (no logout with a state is pending in this tab),
   *   `storage_unavailable`.
   */
  handleLogoutCallback(url?: string): Promise<void>;

  /**
   * Calls `listener` whenever this client drops its sign-in or another tab signed in (see
   * {@link AuthChange}): its own `logout()`, a refresh that found no session, `session_ended`
   * from the backend, and — through a `BroadcastChannel` per backend URL — a logout, a
   * `session_ended` or a sign-in in another tab of the page's origin. Called asynchronously
   * (a microtask), never for this tab's own `handleCallback`. Returns a function that removes
   * the listener.
   */
  onChange(listener: (change: AuthChange) => void): () => void;

  /** Closes the channel to the page's other tabs (the client holds no WebAssembly memory). */
  free(): void;
}
