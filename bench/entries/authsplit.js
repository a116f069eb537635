// authsplit (web/): the whole public API; init() fetches the .wasm, measured separately.
export { init, AuthClient, AuthsplitError } from '../../web/index.js';
