#!/usr/bin/env node
// `npm pack --dry-run` of web/ lists exactly the intended files: the entry points (main, inline,
// React) with their types, the wasm-bindgen output, the README and both license texts — nothing
// more (no sources, tests, example app or build stamps), nothing less. Run after
// scripts/build-web.sh.
//
// Usage: node scripts/check-npm-pack.mjs   (exit 1 with the difference)
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The intended tarball, path by path. `<hash>` stands for wasm-bindgen's snippet directory. */
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
  'package.json',
  'pkg/authsplit_wasm.d.ts',
  'pkg/authsplit_wasm.js',
  'pkg/authsplit_wasm_bg.wasm',
  'pkg/authsplit_wasm_bg.wasm.d.ts',
  'pkg/authsplit_wasm_inline.js',
  'pkg/snippets/authsplit-wasm-<hash>/inline0.js',
  'react/index.d.ts',
  'react/index.js',
];

/** Compares packed paths with EXPECTED; returns the differences as readable lines. */
export function compare(packed) {
  const asPattern = (p) => new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('<hash>', '[0-9a-f]{16}')}$`);
  const patterns = EXPECTED.map((p) => [p, asPattern(p)]);
  const problems = [];
  for (const f of packed) {
    if (!patterns.some(([, re]) => re.test(f))) problems.push(`unexpected in the tarball: ${f}`);
  }
  for (const [p, re] of patterns) {
    const n = packed.filter((f) => re.test(f)).length;
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
