// Instantiates the wasm protocol core (./pkg/authsplit_wasm_bg.wasm, built from
// crates/authsplit-wasm by scripts/build-web.sh) and returns it as the `core` object of
// ./client.js. Hand-written in place of wasm-bindgen's generated glue (web/README.md "Size"):
// it speaks the ABI that web/scripts/bind-module.mjs checks at build time —
// - the module's one export `x` is the crate's `call(op, a, stored, state, issuer, requireIss,
//   codeParam)`; `op` picks the function (the table in crates/authsplit-wasm/src/lib.rs);
// - a `&str` argument is UTF-8 copied into memory from `A` (wasm-bindgen's malloc) and passed
//   as (pointer, length); the module takes ownership and frees it (the empty string is `A`'s
//   zero-size allocation, which needs no freeing). An absent `Option<String>`
//   (`issuer`) is the pointer 0. Numbers and booleans pass as one i32;
// - the `String` result comes back as (pointer, length), is decoded here and freed with `F`;
// - imports: `r` the CSPRNG (./pkg/random.js, generated from the crate's inline JS), `t`
//   wasm-bindgen's throw, `i` the externref table's initializer, a no-op because nothing in the
//   ABI is a JS value (the build refuses any `externref`).

import { r as fillRandom } from './pkg/random.js';

const utf8 = new TextEncoder();
const text = new TextDecoder();

/**
 * Instantiates `m` (a `Response`, a `WebAssembly.Module` or the module's bytes); resolves to
 * the functions `v`, `c`, `r`, `k`, `s`, `f` (see `core` in ./client.js: ops 0–5).
 */
export async function instantiate(m) {
  let w;
  const bytes = (p, n) => new Uint8Array(w.M.buffer, p, n);
  const imports = {
    a: {
      r: (p, n) => fillRandom(bytes(p, n)),
      t: (p, n) => {
        throw Error(text.decode(bytes(p, n)));
      },
      i() {},
    },
  };
  // A Response is read whole, whatever its content type (no streaming compile: the module is
  // ~22 KB).
  if (m instanceof Response) m = await m.arrayBuffer();
  const i = await WebAssembly.instantiate(m, imports);
  w = (i.instance ?? i).exports;
  w.S();
  // An empty string is the module's zero-size allocation (nothing to copy or free).
  const empty = [w.A(0, 1), 0];
  const str = (s) => {
    if (!s) return empty;
    // One byte per UTF-16 unit first (every ASCII string: state, verifier, paths), encoded
    // straight into the module's memory; otherwise freed and copied at its UTF-8 length.
    const n = s.length;
    let p = w.A(n, 1);
    if (utf8.encodeInto(s, bytes(p, n)).read === n) return [p, n];
    w.F(p, n, 1);
    const b = utf8.encode(s);
    p = w.A(b.length, 1);
    bytes(p, b.length).set(b);
    return [p, b.length];
  };
  const op = (o) => (a = '', stored = 0, state = '', issuer, requireIss = false, codeParam = '') => {
    const [p, n] = w.x(
      o,
      ...str(a),
      stored,
      ...str(state),
      ...(issuer == null ? [0, 0] : str(issuer)),
      requireIss,
      ...str(codeParam),
    );
    try {
      return text.decode(bytes(p, n));
    } finally {
      w.F(p, n, 1);
    }
  };
  const core = {};
  [...'vcrksf'].forEach((k, i) => (core[k] = op(i)));
  return core;
}
