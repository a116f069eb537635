// web/scripts/bind-module.mjs binds a module with exactly the ABI web/loader.js speaks and
// refuses anything else (an unknown or missing export, a changed signature, an externref, an
// unknown import), writing nothing. The modules here are hand-assembled: the script reads only
// the type, import, function and export sections.
//
//   node --test web/scripts/bind-module.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = join(dirname(fileURLToPath(import.meta.url)), 'bind-module.mjs');
const I32 = 0x7f;
const EXTERNREF = 0x6f;

const u32 = (n) => {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const name = (s) => [...u32(Buffer.byteLength(s)), ...Buffer.from(s)];
const vec = (items) => [...u32(items.length), ...items.flat()];
const section = (id, items) => {
  const body = vec(items);
  return [id, ...u32(body.length), ...body];
};

/** wasm-bindgen's output as the loader expects it; `edit` changes the lists first. */
function module(edit = (m) => m) {
  const m = edit({
    imports: [
      ['__wbg_r_0123456789abcdef', [I32, I32], [I32]],
      ['__wbg___wbindgen_throw_0123456789abcdef', [I32, I32], []],
      ['__wbindgen_init_externref_table', [], []],
    ],
    exports: [
      ['call', Array(11).fill(I32), [I32, I32]],
      ['__wbindgen_malloc', [I32, I32], [I32]],
      ['__wbindgen_realloc', [I32, I32, I32, I32], [I32]],
      ['__wbindgen_free', [I32, I32, I32], []],
      ['__wbindgen_start', [], []],
    ],
  });
  const fns = [...m.imports, ...m.exports];
  const types = fns.map(([, p, r]) => [0x60, ...vec(p.map((t) => [t])), ...vec(r.map((t) => [t]))]);
  return Buffer.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, types),
    ...section(2, m.imports.map(([field], i) => [...name('./authsplit_wasm_bg.js'), ...name(field), 0x00, ...u32(i)])),
    ...section(3, m.exports.map((_, i) => u32(m.imports.length + i))),
    ...section(5, [[0x00, 0x01]]),
    ...section(
      7,
      [
        [...name('memory'), 0x02, 0x00],
        ...m.exports.map(([field], i) => [...name(field), 0x00, ...u32(m.imports.length + i)]),
      ],
    ),
  ]);
}

/** Runs the script on `wasm` (with one CSPRNG snippet); returns its exit status, output and files. */
function bind(wasm) {
  const dir = mkdtempSync(join(tmpdir(), 'bind-module-'));
  try {
    writeFileSync(join(dir, 'x_bg.wasm'), wasm);
    mkdirSync(join(dir, 'snippets', 'authsplit-wasm-0123456789abcdef'), { recursive: true });
    writeFileSync(join(dir, 'snippets', 'authsplit-wasm-0123456789abcdef', 'inline0.js'), 'export function r(b) {}\n');
    let status = 0;
    let out;
    try {
      out = execFileSync(process.execPath, [script, dir, 'x'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      status = e.status;
      out = e.stderr;
    }
    const bound = readFileSync(join(dir, 'x_bg.wasm'));
    return { status, out, unchanged: bound.equals(wasm), bound, files: readdirSync(dir).sort() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the expected ABI is bound: short names, unused exports dropped, random.js written', () => {
  const r = bind(module());
  assert.equal(r.status, 0, r.out);
  assert.deepEqual(r.files, ['random.js', 'x_bg.wasm']);
  // The hand-assembled module has no code section: with one added (each body `unreachable`),
  // WebAssembly itself reads the bound imports and exports back.
  const m = new WebAssembly.Module(Buffer.concat([r.bound, Buffer.from(codeSection(5))]));
  assert.deepEqual(
    WebAssembly.Module.imports(m).map((i) => `${i.module}.${i.name}`),
    ['a.r', 'a.t', 'a.i'],
  );
  assert.deepEqual(WebAssembly.Module.exports(m).map((e) => e.name), ['M', 'x', 'A', 'F', 'S']);
});

/** A code section of `n` function bodies, each `unreachable` (valid for any signature). */
function codeSection(n) {
  return section(10, Array.from({ length: n }, () => [3, 0x00, 0x00, 0x0b]));
}

for (const [what, edit, message] of [
  ['an export the loader does not bind', (m) => ({ ...m, exports: [...m.exports, ['storageKey', [I32, I32], [I32, I32]]] }), /unexpected export storageKey/],
  ['a missing export', (m) => ({ ...m, exports: m.exports.filter(([f]) => f !== '__wbindgen_free') }), /missing exports: __wbindgen_free/],
  ['a changed signature', (m) => ({ ...m, exports: m.exports.map((e) => (e[0] === 'call' ? ['call', Array(10).fill(I32), [I32, I32]] : e)) }), /export call is/],
  ['an externref in the ABI', (m) => ({ ...m, exports: m.exports.map((e) => (e[0] === '__wbindgen_start' ? [e[0], [EXTERNREF], []] : e)) }), /export __wbindgen_start is \(externref\)/],
  ['an unknown import', (m) => ({ ...m, imports: [...m.imports, ['__wbg_log_0123456789abcdef', [I32, I32], []]] }), /unexpected import/],
]) {
  test(`refused, nothing written: ${what}`, () => {
    const r = bind(module(edit));
    assert.equal(r.status, 1);
    assert.match(r.out, message);
    assert.ok(r.unchanged, 'the module is left as it was');
    assert.ok(!r.files.includes('random.js'));
  });
}
