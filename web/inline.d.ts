// `authsplit/inline`: the API of the main entry, with the WebAssembly module inlined (the
// same types; `init()` needs no `.wasm` file). Requires the `dom` lib, like the main entry.
export * from './index.js';
