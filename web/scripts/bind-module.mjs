// Binds the wasm-bindgen output to the package's hand-written loader (web/loader.js), which
// replaces wasm-bindgen's generated JS glue (size, web/README.md "Size"). wasm-bindgen still
// builds the module (the safe `#[wasm_bindgen]` exports, string passing, the allocator
// exports); this script checks that the module has exactly the ABI web/loader.js speaks, then
// rewrites the module in place:
// - the imports to module "a", fields by what they are: `r` the CSPRNG, `t` wasm-bindgen's
//   throw, `i` the externref table initializer;
// - the exports to short names: `x` the crate's one export `call`, `M` memory, `A` malloc, `F`
//   free, `S` start; every other export (realloc, the
//   externref table, the linker's globals) is dropped, so `wasm-opt` removes what only they
//   reached;
// - the inline-JS CSPRNG snippet (crates/authsplit-wasm `get_random_values`) to
//   `<dir>/random.js`, the one JS definition of that import, which web/loader.js imports.
// Every exported and imported function must have the exact signature listed below, and no
// export or import may pass an `externref` (so the externref table is never used and its
// initializer can be a no-op). Anything else — a wasm-bindgen upgrade that changes the ABI, an
// export added in Rust but not here — fails the build (exit 1, nothing written).
//
//   node web/scripts/bind-module.mjs <dir> <name>   # reads <dir>/<name>_bg.wasm and <dir>/snippets/;
//                                                   # writes <dir>/<name>_bg.wasm, <dir>/random.js

import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, name] = process.argv.slice(2);
if (!dir || !name) {
  console.error('usage: bind-module.mjs <dir> <name>');
  process.exit(2);
}
const fail = (msg) => {
  console.error(`bind-module: ${msg}`);
  process.exit(1);
};

const I = 'i32';
const sig = (params, results) => `(${params.join(',')})->(${results.join(',')})`;
const i32s = (n) => Array(n).fill(I);

/** wasm-bindgen's import names (hash suffixes vary by build) → the loader's field, signature. */
const IMPORTS = [
  [/^__wbg_r_[0-9a-f]{16}$/, 'r', sig([I, I], [I])],
  [/^__wbg___wbindgen_throw_[0-9a-f]{16}$/, 't', sig([I, I], [])],
  [/^__wbindgen_init_externref_table$/, 'i', sig([], [])],
];
/** Exports kept: wasm-bindgen's name → the loader's key, signature (`null`: memory). */
const EXPORTS = new Map([
  ['memory', ['M', null]],
  // call(op, a: &str, stored: u32, state: &str, issuer: Option<String>, require_iss: bool,
  //      code_param: &str) -> String
  ['call', ['x', sig(i32s(11), [I, I])]],
  ['__wbindgen_malloc', ['A', sig([I, I], [I])]],
  ['__wbindgen_free', ['F', sig([I, I, I], [])]],
  ['__wbindgen_start', ['S', sig([], [])]],
]);
/** Exports dropped: the loader never uses them. */
const DROPPED = [/^__wbindgen_realloc$/, /^__wbindgen_externrefs$/, /^__abort_handler$/, /^__instance_terminated$/];

// --- wasm binary helpers ---
function readU32(buf, pos) {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = buf[pos++];
    if (byte === undefined) fail('truncated LEB128');
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result >>> 0, pos];
    shift += 7;
    if (shift > 28) fail('LEB128 too long');
  }
}
function writeU32(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return Buffer.from(out);
}
const encName = (s) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([writeU32(b.length), b]);
};
function readName(buf, pos) {
  const [len, p] = readU32(buf, pos);
  return [buf.subarray(p, p + len).toString('utf8'), p + len];
}
function skipLimits(buf, pos) {
  const flags = buf[pos++];
  [, pos] = readU32(buf, pos);
  if (flags & 0x01) [, pos] = readU32(buf, pos);
  return pos;
}
const VALTYPES = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };

const wasmPath = join(dir, `${name}_bg.wasm`);
const wasm = readFileSync(wasmPath);
if (wasm.readUInt32LE(0) !== 0x6d736100) fail('not a wasm module');
const sections = [];
for (let pos = 8; pos < wasm.length; ) {
  const id = wasm[pos];
  const [size, start] = readU32(wasm, pos + 1);
  sections.push({ id, start, end: start + size, headerStart: pos });
  pos = start + size;
}
const sectionOf = (id) => sections.find((s) => s.id === id) ?? fail(`no section ${id}`);

// Types (section 1): every type a function signature.
const types = [];
{
  const s = sectionOf(1);
  let [count, p] = readU32(wasm, s.start);
  for (let i = 0; i < count; i++) {
    if (wasm[p++] !== 0x60) fail('a type that is not a function type');
    const vec = () => {
      let n;
      [n, p] = readU32(wasm, p);
      const v = [];
      for (let j = 0; j < n; j++) v.push(VALTYPES[wasm[p++]] ?? fail('unknown value type'));
      return v;
    };
    const params = vec();
    types.push(sig(params, vec()));
  }
  if (p !== s.end) fail('type section length mismatch');
}

// Imports (section 2).
const importSection = sectionOf(2);
const imports = [];
const funcTypes = []; // type of each function index (imports first)
{
  let [count, p] = readU32(wasm, importSection.start);
  for (let i = 0; i < count; i++) {
    let module, field;
    [module, p] = readName(wasm, p);
    [field, p] = readName(wasm, p);
    const descStart = p;
    const kind = wasm[p++];
    if (kind !== 0x00) fail(`import ${module}.${field} is not a function`);
    let t;
    [t, p] = readU32(wasm, p);
    funcTypes.push(types[t]);
    imports.push({ module, field, type: types[t], desc: wasm.subarray(descStart, p) });
  }
  if (p !== importSection.end) fail('import section length mismatch');
}
{
  const s = sectionOf(3);
  let [count, p] = readU32(wasm, s.start);
  for (let i = 0; i < count; i++) {
    let t;
    [t, p] = readU32(wasm, p);
    funcTypes.push(types[t]);
  }
}
const seen = new Set();
for (const imp of imports) {
  const m = IMPORTS.find(([re]) => re.test(imp.field));
  if (!m) fail(`unexpected import ${imp.module}.${imp.field}: web/loader.js does not provide it`);
  if (seen.has(m[1])) fail(`import ${imp.field} twice`);
  if (imp.type !== m[2]) fail(`import ${imp.field} is ${imp.type}, web/loader.js expects ${m[2]}`);
  seen.add(m[1]);
  imp.to = m[1];
}

// Exports (section 7).
const exportSection = sectionOf(7);
const kept = [];
{
  let [count, p] = readU32(wasm, exportSection.start);
  for (let i = 0; i < count; i++) {
    let field, index;
    [field, p] = readName(wasm, p);
    const kind = wasm[p++];
    [index, p] = readU32(wasm, p);
    if (EXPORTS.has(field)) {
      const [to, want] = EXPORTS.get(field);
      const got = kind === 0x00 ? funcTypes[index] : kind === 0x02 ? null : `kind ${kind}`;
      if (got !== want) fail(`export ${field} is ${got ?? 'memory'}, web/loader.js expects ${want ?? 'memory'}`);
      kept.push(Buffer.concat([encName(to), Buffer.from([kind]), writeU32(index)]));
      EXPORTS.delete(field);
    } else if (!DROPPED.some((re) => re.test(field))) {
      fail(`unexpected export ${field}: bind it in web/loader.js and this script, or drop it`);
    }
  }
  if (p !== exportSection.end) fail('export section length mismatch');
}
if (EXPORTS.size) fail(`missing exports: ${[...EXPORTS.keys()].join(', ')}`);

// The CSPRNG snippet: exactly one inline-JS file that exports `r`.
const snippetRoot = join(dir, 'snippets');
const snippets = readdirSync(snippetRoot, { recursive: true }).filter((f) => f.endsWith('.js'));
if (snippets.length !== 1) fail(`expected one inline-JS snippet, found ${snippets.length}`);
const random = readFileSync(join(snippetRoot, snippets[0]), 'utf8');
if (!/^export function r\(/m.test(random)) fail(`the snippet ${snippets[0]} does not export function r`);

const section = (id, items) => {
  const body = Buffer.concat([writeU32(items.length), ...items]);
  return Buffer.concat([Buffer.from([id]), writeU32(body.length), body]);
};
const importBytes = section(
  2,
  imports.map((imp) => Buffer.concat([encName('a'), encName(imp.to), imp.desc])),
);
if (exportSection.headerStart < importSection.end) fail('export section before import section');
const out = Buffer.concat([
  wasm.subarray(0, importSection.headerStart),
  importBytes,
  wasm.subarray(importSection.end, exportSection.headerStart),
  section(7, kept),
  wasm.subarray(exportSection.end),
]);

writeFileSync(wasmPath, out);
writeFileSync(
  join(dir, 'random.js'),
  '// Generated by web/scripts/bind-module.mjs from crates/authsplit-wasm (`get_random_values`).\n' + random,
);
rmSync(snippetRoot, { recursive: true });
console.log(`bind-module: ${imports.length} imports, ${kept.length} exports bound; ${wasm.length} → ${out.length} bytes`);
