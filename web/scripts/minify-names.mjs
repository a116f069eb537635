// Shortens the import and export names of a wasm-bindgen `--target web` package (size,
// web/README.md "Size"): wasm-bindgen names every JS import `__wbg_<name>_<16 hex digits>` in
// a module called "./authsplit_wasm_bg.js", and exports `authclient_handleCallback`,
// `__wbindgen_malloc`, …; each name is stored in the wasm module and again in the JS glue
// (import-object keys, `wasm.<export>` accesses that no minifier renames), and the hex digits
// do not compress. This renames, consistently in the module, the glue and the glue's .d.ts:
// - the import *modules* to "a", "b", …;
// - the import *fields* of the glue's own module to "a", "b", … (snippet modules keep their
//   field names: they are the snippet's real export names);
// - every export the glue uses only as `wasm.<name>` (or not at all) to "a", "b", ….
//
//   node web/scripts/minify-names.mjs <dir> <name>   # rewrites <dir>/<name>_bg.wasm, <dir>/<name>.js, <dir>/<name>.d.ts
//
// It refuses (exit 1, nothing written) when the glue does not look as expected, so a
// wasm-bindgen upgrade that changes the glue's shape fails the build instead of producing a
// broken package.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, name] = process.argv.slice(2);
if (!dir || !name) {
  console.error('usage: minify-names.mjs <dir> <name>');
  process.exit(2);
}
const wasmPath = join(dir, `${name}_bg.wasm`);
const jsPath = join(dir, `${name}.js`);
const dtsPaths = [join(dir, `${name}.d.ts`), join(dir, `${name}_bg.wasm.d.ts`)];
const wasm = readFileSync(wasmPath);
let js = readFileSync(jsPath, 'utf8');
const dts = dtsPaths.map((p) => (existsSync(p) ? readFileSync(p, 'utf8') : null));

const fail = (msg) => {
  console.error(`minify-names: ${msg}`);
  process.exit(1);
};

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

// Short identifiers: a…z, A…Z, then two letters.
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const shortName = (i) =>
  i < LETTERS.length ? LETTERS[i] : LETTERS[Math.floor(i / LETTERS.length) - 1] + LETTERS[i % LETTERS.length];

if (wasm.readUInt32LE(0) !== 0x6d736100) fail('not a wasm module');
const glueModule = `./${name}_bg.js`;
const sections = [];
let pos = 8;
while (pos < wasm.length) {
  const id = wasm[pos];
  const [size, start] = readU32(wasm, pos + 1);
  sections.push({ id, start, end: start + size, headerStart: pos });
  pos = start + size;
}
const importSection = sections.find((s) => s.id === 2);
if (!importSection) fail('no import section');

// Parse the imports.
const imports = [];
{
  let p = importSection.start;
  let count;
  [count, p] = readU32(wasm, p);
  for (let i = 0; i < count; i++) {
    let module, field;
    [module, p] = readName(wasm, p);
    [field, p] = readName(wasm, p);
    const descStart = p;
    const kind = wasm[p++];
    if (kind === 0x00) [, p] = readU32(wasm, p); // func: type index
    else if (kind === 0x01) p = skipLimits(wasm, p + 1); // table: reftype + limits
    else if (kind === 0x02) p = skipLimits(wasm, p); // memory: limits
    else if (kind === 0x03) p += 2; // global: valtype + mutability
    else if (kind === 0x04) [, p] = readU32(wasm, p + 1); // tag: attribute + type index
    else fail(`unknown import kind ${kind}`);
    imports.push({ module, field, desc: wasm.subarray(descStart, p) });
  }
  if (p !== importSection.end) fail('import section length mismatch');
}

// The JS side: `return { __proto__: null, "<module>": importN, … }` at the end of
// __wbg_get_imports, and `<field>: function…` keys in the glue module's object.
const modules = [...new Set(imports.map((i) => i.module))];
if (!modules.includes(glueModule)) fail(`no imports from ${glueModule}`);
const moduleMap = new Map(modules.map((m, i) => [m, shortName(i)]));
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
for (const [from, to] of moduleMap) {
  const re = new RegExp(`^(\\s+)"${escape(from)}": (import\\d+),$`, 'gm');
  const n = (js.match(re) || []).length;
  if (n < 1) fail(`module key ${from} not found in the glue`);
  js = js.replace(re, `$1"${to}": $2,`);
}

const fieldMap = new Map();
let next = 0;
for (const imp of imports) {
  if (imp.module !== glueModule || fieldMap.has(imp.field)) continue;
  const re = new RegExp(`^(\\s+)${escape(imp.field)}: `, 'gm');
  const keyCount = (js.match(re) || []).length;
  const anyCount = js.split(imp.field).length - 1;
  if (keyCount !== 1) fail(`import ${imp.field}: ${keyCount} keys in the glue`);
  if (anyCount !== 1) continue; // mentioned elsewhere too: keep its name
  const to = `${shortName(next++)}`;
  js = js.replace(re, `$1${to}: `);
  fieldMap.set(imp.field, to);
}

// Exports: `name` (vec), kind byte, index (LEB128).
const exportSection = sections.find((s) => s.id === 7);
if (!exportSection) fail('no export section');
const exports = [];
{
  let p = exportSection.start;
  let count;
  [count, p] = readU32(wasm, p);
  for (let i = 0; i < count; i++) {
    let field;
    [field, p] = readName(wasm, p);
    const descStart = p;
    p += 1;
    [, p] = readU32(wasm, p);
    exports.push({ field, desc: wasm.subarray(descStart, p) });
  }
  if (p !== exportSection.end) fail('export section length mismatch');
}
const exportMap = new Map();
{
  const kept = new Set();
  const renamable = [];
  for (const exp of exports) {
    const all = (js.match(new RegExp(`(?<![\\w$])${escape(exp.field)}(?![\\w$])`, 'g')) || []).length;
    const viaWasm = (js.match(new RegExp(`\\bwasm\\.${escape(exp.field)}(?![\\w$])`, 'g')) || []).length;
    if (all === viaWasm) renamable.push(exp.field);
    else kept.add(exp.field);
  }
  let n = 0;
  for (const field of renamable) {
    let to;
    do to = shortName(n++);
    while (kept.has(to));
    exportMap.set(field, to);
    js = js.replace(new RegExp(`\\bwasm\\.${escape(field)}(?![\\w$])`, 'g'), `wasm.${to}`);
    for (let i = 0; i < dts.length; i++) {
      if (dts[i] === null) continue;
      dts[i] = dts[i]
        .replace(new RegExp(`^(\\s*readonly )${escape(field)}:`, 'm'), `$1${to}:`)
        .replace(new RegExp(`^(export const )${escape(field)}:`, 'm'), `$1${to}:`);
    }
  }
}

// Rebuild the import and export sections (the export section comes after the import section).
const section = (id, items) => {
  const body = Buffer.concat([writeU32(items.length), ...items]);
  return Buffer.concat([Buffer.from([id]), writeU32(body.length), body]);
};
const importBytes = section(
  2,
  imports.map((imp) =>
    Buffer.concat([
      encName(moduleMap.get(imp.module)),
      encName(imp.module === glueModule ? fieldMap.get(imp.field) ?? imp.field : imp.field),
      imp.desc,
    ]),
  ),
);
const exportBytes = section(
  7,
  exports.map((exp) => Buffer.concat([encName(exportMap.get(exp.field) ?? exp.field), exp.desc])),
);
if (exportSection.headerStart < importSection.end) fail('export section before import section');
const out = Buffer.concat([
  wasm.subarray(0, importSection.headerStart),
  importBytes,
  wasm.subarray(importSection.end, exportSection.headerStart),
  exportBytes,
  wasm.subarray(exportSection.end),
]);

writeFileSync(wasmPath, out);
writeFileSync(jsPath, js);
dts.forEach((text, i) => text !== null && writeFileSync(dtsPaths[i], text));
console.log(
  `minify-names: ${imports.length} imports (${fieldMap.size} fields renamed), ${exports.length} exports (${exportMap.size} renamed); ${
    wasm.length
  } → ${out.length} bytes`,
);
