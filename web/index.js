// authsplit — the browser half of authsplit (OAuth 2.0 authorization code + PKCE, with the
// client secret on your backend). Hand-written loader around the wasm-bindgen output in ./pkg:
// no top-level await, no work at import time; call `await init()` once, then use AuthClient.

import initWasm, { AuthClient as WasmAuthClient } from './pkg/authsplit_wasm.js';

let ready = null;
let loaded = false;

/**
 * Loads and instantiates the WebAssembly module. Memoized: every call returns the same
 * promise (a failed load may be retried). `input` is optional: a URL or string, a `Response`
 * (or a promise of one), a `WebAssembly.Module`, or the bytes; by default the `.wasm` file
 * next to this module is fetched.
 */
export function init(input) {
  if (!ready) {
    ready = initWasm(input === undefined ? undefined : { module_or_path: input }).then(
      () => {
        loaded = true;
      },
      (e) => {
        ready = null;
        throw e;
      },
    );
  }
  return ready;
}

/** Whether `init()` has completed. */
export function isInitialized() {
  return loaded;
}

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
    if (details.error !== undefined) this.error = details.error;
    if (details.errorDescription !== undefined) this.errorDescription = details.errorDescription;
  }
}

function wrap(e) {
  if (e instanceof AuthsplitError || !e || e.name !== 'AuthsplitError') return e;
  return new AuthsplitError(e.code, e.message, {
    error: e.error,
    errorDescription: e.errorDescription,
  });
}

const rethrow = (e) => {
  throw wrap(e);
};

/**
 * The authsplit browser client (see the TSDoc in index.d.ts): `login`, `handleCallback`,
 * `getAccessToken`, `fetch`, `isAuthenticated`, `user`, `logout`.
 */
export class AuthClient {
  #c;

  constructor(options) {
    if (!loaded) {
      throw new AuthsplitError(
        'configuration',
        'authsplit: call `await init()` before `new AuthClient(…)`',
      );
    }
    try {
      this.#c = new WasmAuthClient(options);
    } catch (e) {
      rethrow(e);
    }
  }

  login(options) {
    return this.#c.login(options).catch(rethrow);
  }

  handleCallback(url) {
    return this.#c.handleCallback(url).catch(rethrow);
  }

  getAccessToken() {
    return this.#c.getAccessToken().catch(rethrow);
  }

  fetch(input, init) {
    return this.#c.fetch(input, init).catch(rethrow);
  }

  isAuthenticated() {
    return this.#c.isAuthenticated();
  }

  user() {
    return this.#c.user();
  }

  logout() {
    return this.#c.logout().catch(rethrow);
  }

  /** Releases the WebAssembly memory of this client. */
  free() {
    this.#c.free();
  }
}
