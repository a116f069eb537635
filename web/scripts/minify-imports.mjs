// Shortens the import names of a wasm-bindgen `--target web` package (size, web/README.md
// "Size"): wasm-bindgen names every JS import `__wbg_<name>_<16 hex digits>` in a module
// called "./authsplit_wasm_bg.js"; those names are stored twice (the wasm import section and
// the keys of the JS glue's import object) and the hex digits do not compress. This renames,
// consistently in both files, the import *modules* to "a", "b", … and the import *fields* of
// the glue's own module to "a", "b", … (snippet modules keep their field names: they are the
// snippet's real export names).
//
//   node web/scripts/minify-imports.mjs <dir> <name>   # rewrites <dir>/<name>_bg.wasm and <dir>/<name>.js
//
// It refuses (exit 1, nothing written) when the glue does not look as expected, so a
// wasm-bindgen upgrade that changes the glue's shape fails the build instead of producing a
// broken package.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, name] = process.argv.slice(2);
if (!dir || !name) {
  console.error('usage: minify-imports.mjs <dir> <name>');
  process.exit(2);
}
const wasmPath = join(dir, `${name}_bg.wasm`);
const jsPath = join(dir, `${name}.js`);
const wasm = readFileSync(wasmPath);
let js = readFileSync(jsPath, 'utf8');

const fail = (msg) => {
  console.error(`minify-imports: ${msg}`);
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

// Rebuild the import section.
const entries = imports.map((imp) =>
  Buffer.concat([
    encName(moduleMap.get(imp.module)),
    encName(imp.module === glueModule ? fieldMap.get(imp.field) : imp.field),
    imp.desc,
  ]),
);
const body = Buffer.concat([writeU32(imports.length), ...entries]);
const out = Buffer.concat([
  wasm.subarray(0, importSection.headerStart),
  Buffer.from([2]),
  writeU32(body.length),
  body,
  wasm.subarray(importSection.end),
]);

writeFileSync(wasmPath, out);
writeFileSync(jsPath, js);
console.log(
  `minify-imports: ${imports.length} imports, ${fieldMap.size} renamed; import section ${
    importSection.end - importSection.start
  } → ${body.length} bytes`,
);
