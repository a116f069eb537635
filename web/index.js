// authsplit — the browser half of authsplit (OAuth 2.0 authorization code + PKCE, with the
// client secret on your backend). Hand-written loader: no top-level await, no work at import
// time; call `await init()` once, then use AuthClient. The client (./client.js) is plain JS
// around the protocol core in WebAssembly (./pkg, built from crates/authsplit-wasm).

import initWasm, {
  generateRandomCodeVerifier as v,
  calculatePKCECodeChallenge as c,
  randomState as r,
  storageKey as k,
  isSafeReturnTo as s,
  verifyCallback as f,
} from './pkg/authsplit_wasm.js';
import { setCore, hasCore } from './client.js';

export {
  AuthClient,
  AuthsplitError,
  generateRandomCodeVerifier,
  calculatePKCECodeChallenge,
} from './client.js';

let ready = null;

/**
 * Loads and instantiates the WebAssembly module. Memoized: every call returns the same
 * promise (a failed load may be retried). `input` is optional: a URL or string, a `Response`
 * (or a promise of one), a `WebAssembly.Module`, or the bytes; by default the `.wasm` file
 * next to this module is fetched.
 */
export function init(input) {
  return (ready ||= initWasm(input === undefined ? undefined : { module_or_path: input }).then(
    () =>
      // Short keys: see `core` in client.js.
      setCore({ v, c, r, k, s, f }),
    (e) => {
      ready = null;
      throw e;
    },
  ));
}

/** Whether `init()` has completed. */
export const isInitialized = hasCore;

