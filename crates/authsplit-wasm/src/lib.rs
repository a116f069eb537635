//! authsplit-wasm (work in progress).
