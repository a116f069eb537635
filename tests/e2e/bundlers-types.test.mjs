// The package's types and metadata as a TypeScript user meets them: the packed tarball
// unpacked into a scratch node_modules next to the bundler fixtures (whose shared install has
// TypeScript, @types/react, attw and publint), then tsc --strict on a consumer of every entry
// point under moduleResolution bundler / node16 / nodenext / node10, an exhaustive `switch`
// over AuthsplitErrorCode, attw and publint. The tsc runs go in parallel.
//
//   scripts/build-web.sh && node --test tests/e2e/bundlers-types.test.mjs

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { FIX, MODULES, OUT, install, packInto } from '../support/bundlers.mjs';

const run = promisify(execFile);
/** Where this suite unpacks the package: its own node_modules, apart from the bundlers'. */
const ROOT = join(OUT, 'types');
const PKG_DIR = join(ROOT, 'node_modules', 'authsplit');
let tmp;
let tarball;

const TSC = join(MODULES, 'typescript', 'bin', 'tsc');


/**
 * Runs tsc on `files` in a scratch ES-module project next to the fixtures (so `authsplit` and
 * `react` resolve); returns its diagnostics ('' when clean).
 */
async function tsc(name, files, compilerOptions) {
  const dir = join(ROOT, `tsc-${name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'es2022',
        lib: ['es2022', 'dom'],
        jsx: 'react-jsx',
        types: ['react'],
        ...compilerOptions,
      },
      files: Object.keys(files),
    }),
  );
  try {
    await run(process.execPath, [TSC, '-p', '.'], { cwd: dir, encoding: 'utf8' });
    return '';
  } catch (e) {
    return `${e.stdout}${e.stderr}`;
  }
}

/** The members of `AuthsplitErrorCode` in the packed index.d.ts. */
function unionCodes() {
  const dts = readFileSync(join(PKG_DIR, 'index.d.ts'), 'utf8');
  const body = dts.slice(dts.indexOf('export type AuthsplitErrorCode ='));
  return [...body.slice(0, body.indexOf(';')).matchAll(/'([a-z_]+)'/g)].map((m) => m[1]);
}

/** An app's exhaustive `switch` over the codes: `cases` listed, `never` in `default`. */
const exhaustive = (fn, cases) => `export function ${fn}(code: AuthsplitErrorCode): string {
  switch (code) {
${cases.map((c) => `    case '${c}':\n      return '${c}';`).join('\n')}
    default: {
      const unreachable: never = code;
      return unreachable;
    }
  }
}
`;

const CONSUMER = readFileSync(join(FIX, 'types', 'consumer.tsx'), 'utf8');

/** tsc diagnostics of `file` in `out`, one per line. */
const errorsIn = (out, file) => out.split('\n').filter((l) => l.startsWith(`${file}(`));

// Each resolution checks the consumer of every entry point (a missing required option is an
// error: @ts-expect-error) and the package's own declarations (`skipLibCheck` off; the
// TypeScript lib is left out of the check, except under nodenext). Under bundler the same
// program holds an app's exhaustive `switch` over AuthsplitErrorCode, and two broken ones.
const RESOLUTIONS = [
  ['bundler', { module: 'esnext', skipDefaultLibCheck: true }],
  ['node16', { module: 'node16', skipDefaultLibCheck: true }],
  ['nodenext', { module: 'nodenext' }],
  ['node10', { module: 'commonjs', skipDefaultLibCheck: true }],
];
let codes;
/** The tsc runs, started together in `before`: resolution → promise of the diagnostics. */
const checks = {};

before(
  async () => {
    tmp = mkdtempSync(join(tmpdir(), 'authsplit-types-'));
    install();
    rmSync(ROOT, { recursive: true, force: true });
    tarball = packInto(tmp, ROOT);
    codes = unionCodes();
    for (const [resolution, options] of RESOLUTIONS) {
      const files = { 'consumer.tsx': CONSUMER };
      if (resolution === 'bundler') {
        const head = "import type { AuthsplitErrorCode } from 'authsplit';\n";
        files['exhaustive.ts'] = head + exhaustive('describe', codes);
        files['typo.ts'] = head + exhaustive('describe', [...codes, 'typo_code']);
        files['missing.ts'] = head + exhaustive('describe', codes.slice(1));
      }
      checks[resolution] = tsc(resolution, files, { moduleResolution: resolution, ...options });
    }
  },
  { timeout: 10 * 60_000 },
);

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

for (const [resolution] of RESOLUTIONS) {
  test(`the package types check under tsc --strict, moduleResolution ${resolution}`, async () => {
    const out = await checks[resolution];
    const unexpected = out.split('\n').filter((l) => /error TS/.test(l) && !/^(typo|missing)\.ts\(/.test(l));
    assert.deepEqual(unexpected, [], out);
  });
}

test('an exhaustive switch over AuthsplitErrorCode compiles; a made-up or a missing code does not', async () => {
  const bundlerOut = await checks.bundler;
  assert.ok(codes.includes('wasm_load_failed') && codes.includes('internal'), codes.join());
  assert.deepEqual(errorsIn(bundlerOut, 'exhaustive.ts'), []);
  const typo = errorsIn(bundlerOut, 'typo.ts');
  assert.equal(typo.length, 1, bundlerOut);
  assert.match(typo[0], /'"typo_code"' is not comparable to type 'AuthsplitErrorCode'/);
  const missing = errorsIn(bundlerOut, 'missing.ts');
  assert.equal(missing.length, 1, bundlerOut);
  assert.match(missing[0], new RegExp(`Type '"${codes[0]}"' is not assignable to type 'never'`));
});

test('attw (the package is ESM only) and publint accept the packed package', async () => {
  const bin = (p) => join(MODULES, '.bin', p);
  try {
    await run(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'table-flipped']);
  } catch (e) {
    assert.fail(`attw failed:\n${e.stdout}${e.stderr}`);
  }
  let out;
  try {
    ({ stdout: out } = await run(bin('publint'), ['run', PKG_DIR, '--pack', 'false', '--strict']));
  } catch (e) {
    assert.fail(`publint failed:\n${e.stdout}${e.stderr}`);
  }
  assert.doesNotMatch(out, /warning|error|suggestion/i, out);
});
