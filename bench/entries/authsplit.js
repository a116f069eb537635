// authsplit (web/): the whole public API, the same entry as web/scripts/measure-size.mjs uses
// (so the figure equals `node web/scripts/size.mjs`); init() fetches the .wasm, added separately.
import { init, AuthClient, AuthsplitError } from '../../web/index.js';

await init();
window.x = [AuthClient, AuthsplitError];
