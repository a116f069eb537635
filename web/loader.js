// Instantiates the wasm protocol core (./pkg/authsplit_wasm_bg.wasm, built from
// crates/authsplit-wasm by scripts/build-web.sh) and returns its exports as the `core` object
// of ./client.js. Hand-written in place of wasm-bindgen's generated glue (web/README.md "Size"):
// it speaks the ABI that web/scripts/bind-module.mjs checks at build time —
// - a `&str` argument is UTF-8 copied into memory from `A` (wasm-bindgen's malloc) and passed
//   as (pointer, length); the module takes ownership and frees it. An absent `Option<String>`
//   is the pointer 0. Numbers and booleans pass as i32;
// - a `String` result comes back as (pointer, length), is decoded here and freed with `F`;
//   a `bool` result is an i32;
// - imports: `r` the CSPRNG (./pkg/random.js, generated from the crate's inline JS), `t`
//   wasm-bindgen's throw, `i` the externref table's initializer, a no-op because no export
//   passes a JS value (the build refuses any `externref` in the ABI).

import { r as fillRandom } from './pkg/random.js';

const utf8 = new TextEncoder();
const text = new TextDecoder();

/**
 * Instantiates `m` (a `Response`, a `WebAssembly.Module` or the module's bytes); resolves to
 * the exports `v`, `c`, `r`, `k`, `s`, `f` (see `core` in ./client.js) as JS functions.
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
  if (m instanceof Response) m = await m.arrayBuffer();
  const i = await WebAssembly.instantiate(m, imports);
  w = (i.instance ?? i).exports;
  w.S();
  const bind = (f) => (...args) => {
    const r = f(
      ...args.flatMap((a) => {
        if (typeof a != 'string') return a == null ? [0, 0] : [+a];
        const b = utf8.encode(a);
        const p = w.A(b.length, 1);
        bytes(p, b.length).set(b);
        return [p, b.length];
      }),
    );
    if (!Array.isArray(r)) return r != 0;
    try {
      return text.decode(bytes(r[0], r[1]));
    } finally {
      w.F(r[0], r[1], 1);
    }
  };
  const core = {};
  for (const k of 'vcrksf') core[k] = bind(w[k]);
  return core;
}
