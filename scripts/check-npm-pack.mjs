#!/usr/bin/env node
// `npm pack --dry-run` of web/ lists exactly the intended files: the entry points (main, inline,
// React) with their types, the loader and the wasm module (with its inlined copy and random.js), the README and both license texts — nothing
// more (no sources, tests, example app, build stamps or wasm-bindgen glue), nothing less. Run after
// scripts/build-web.sh.
//
// Usage: node scripts/check-npm-pack.mjs   (exit 1 with the difference)
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The intended tarball, path by path. */
export const EXPECTED = [
  'LICENSE-APACHE',
  'LICENSE-MIT',
  'README.md',
  'authsplit_wasm_bg.wasm.d.ts',
  'client.js',
  'index.d.ts',
  'index.js',
  'inline.d.ts',
  'inline.js',
  'loader.js',
  'package.json',
  'pkg/authsplit_wasm_bg.wasm',
  'pkg/authsplit_wasm_inline.js',
  'pkg/random.js',
  'react/index.d.ts',
  'react/index.js',
];

/** Compares packed paths with EXPECTED; returns the differences as readable lines. */
export function compare(packed) {
  const problems = [];
  for (const f of packed) {
    if (!EXPECTED.includes(f)) problems.push(`unexpected in the tarball: ${f}`);
  }
  for (const p of EXPECTED) {
    const n = packed.filter((f) => f === p).length;
    if (n !== 1) problems.push(`${n === 0 ? 'missing from' : `${n} matches in`} the tarball: ${p}`);
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const web = join(dirname(fileURLToPath(import.meta.url)), '..', 'web');
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: web, encoding: 'utf8' });
  const [info] = JSON.parse(out);
  const packed = info.files.map((f) => f.path).sort();
  const problems = compare(packed);
  for (const p of problems) console.error(`check-npm-pack: ${p}`);
  if (problems.length) {
    console.error(`check-npm-pack: ${info.filename} does not match the intended file list (scripts/check-npm-pack.mjs EXPECTED)`);
    process.exit(1);
  }
  console.log(`check-npm-pack: ${info.filename}: exactly the ${packed.length} intended files, ${info.size} B packed, ${info.unpackedSize} B unpacked`);
}
