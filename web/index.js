// authsplit — the browser half of authsplit (OAuth 2.0 authorization code + PKCE, with the
// client secret on your backend). Hand-written loader: no top-level await, no work at import
// time; call `await init()` once, then use AuthClient. The client (./client.js) is plain JS
// around the protocol core in WebAssembly (./pkg, built from crates/authsplit-wasm), which
// ./loader.js instantiates.
//
// This entry fetches the `.wasm` file shipped next to it: bundlers that follow
// `new URL('…', import.meta.url)` (webpack 5, `vite build`, Next.js) emit it as an asset.
// ./inline.js is the same API with the module inlined, for the others (package.json
// "exports" picks it; README "Bundlers").

import { instantiate } from './loader.js';
import { setCore, hasCore, AuthsplitError } from './client.js';

export {
  AuthClient,
  AuthsplitError,
  generateRandomCodeVerifier,
  calculatePKCECodeChallenge,
} from './client.js';

let ready = null;

/**
 * The module behind `input`, by default the `.wasm` next to this file. A URL (or string, or
 * `Request`) is fetched here, so that a missing file (404) or a page served in its place (an
 * SPA fallback, a dev server) is told apart from a broken module; throws what went wrong.
 */
async function source(input) {
  let m = (await input) ?? new URL('./pkg/authsplit_wasm_bg.wasm', import.meta.url);
  if (typeof m == 'string' || m instanceof URL || m instanceof Request) m = await fetch(m);
  if (m instanceof Response) {
    if (!m.ok) throw `${m.url} answered HTTP ${m.status}`;
    if (/html/i.test(m.headers.get('content-type'))) throw `${m.url} answered with an HTML page`;
  }
  return m;
}

/**
 * Loads and instantiates the WebAssembly module. Memoized: every call returns the same
 * promise (a failed load may be retried). `input` is optional: a URL or string, a `Response`
 * (or a promise of one), a `WebAssembly.Module`, or the bytes; by default the `.wasm` file
 * next to this module is fetched. Every failure is the typed `wasm_load_failed`; without
 * `import.meta.url` (a classic-script bundle) the default URL fails to build and is one too.
 */
export function init(input) {
  return (ready ||= source(input)
    .then(instantiate)
    .then(setCore, (e) => {
      ready = null;
      throw new AuthsplitError(
        'wasm_load_failed',
        `authsplit: the WebAssembly module did not load (${e.message ?? e}); if the bundler did not emit ` +
          `authsplit_wasm_bg.wasm, import 'authsplit/inline' or call init(url) (README "Bundlers")`,
        { cause: e },
      );
    }));
}

/** Whether `init()` has completed. */
export const isInitialized = hasCore;
