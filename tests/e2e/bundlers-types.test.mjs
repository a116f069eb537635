// The package's types and metadata as a TypeScript user meets them: the packed tarball
// unpacked into a scratch node_modules next to the bundler fixtures (whose shared install has
// TypeScript, @types/react, attw and publint), then tsc --strict on a consumer of every entry
// point under moduleResolution bundler / node16 / nodenext / node10, an exhaustive `switch`
// over AuthsplitErrorCode, attw and publint. One `tsc --build --force` checks the four projects
// (one process reads TypeScript's lib and the package's declarations once, not four times).
//
//   scripts/build-web.sh && node --test tests/e2e/bundlers-types.test.mjs

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
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
 * Writes a scratch ES-module project `tsc-<name>` next to the fixtures (so `authsplit` and
 * `react` resolve) holding `files`; returns its directory name.
 */
function project(name, files, compilerOptions) {
  const dir = `tsc-${name}`;
  mkdirSync(join(ROOT, dir), { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(ROOT, dir, f), text);
  writeFileSync(join(ROOT, dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(ROOT, dir, 'tsconfig.json'),
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
  return dir;
}

/**
 * Type-checks the projects `dirs` (under ROOT) in one `tsc --build --force --verbose` (every
 * project is checked, whatever an earlier run left). Returns each project's diagnostics ('' when
 * clean), paths relative to the project as `tsc -p` in it would print them: `--verbose` announces
 * "Building project '<dir>/tsconfig.json'" before each project's diagnostics.
 */
async function tscBuild(dirs) {
  writeFileSync(join(ROOT, 'tsconfig.json'), JSON.stringify({ files: [], references: dirs.map((path) => ({ path })) }));
  let out;
  try {
    ({ stdout: out } = await run(process.execPath, [TSC, '--build', '--force', '--verbose', '--pretty', 'false'], { cwd: ROOT, encoding: 'utf8' }));
  } catch (e) {
    out = `${e.stdout}${e.stderr}`;
  }
  const byDir = Object.fromEntries(dirs.map((d) => [d, null]));
  let current = null;
  const stray = [];
  for (const line of out.split(/\r?\n/)) {
    const m = / - Building project '(.+)\/tsconfig\.json'\.\.\.$/.exec(line);
    if (m) {
      current = relative(ROOT, m[1]);
      assert.ok(current in byDir, `tsc built an unexpected project ${m[1]}:\n${out}`);
      byDir[current] = '';
    } else if (line === '' || /^\d{1,2}:\d{2}:\d{2}( [AP]M)? - /.test(line)) {
      // --verbose progress ("Project … is out of date", "Building project …")
    } else if (current) {
      byDir[current] += `${line.startsWith(`${current}/`) ? line.slice(current.length + 1) : line}\n`;
    } else if (!/^ +\* \S*tsconfig\.json$/.test(line)) {
      stray.push(line); // the list of projects is the only output expected before the first one
    }
  }
  assert.deepEqual(stray, [], `tsc output outside any project:\n${out}`);
  for (const d of dirs) assert.notEqual(byDir[d], null, `tsc did not build ${d}:\n${out}`);
  return byDir;
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
/** The one tsc run, started in `before`: resolution → promise of its project's diagnostics. */
const checks = {};

before(
  async () => {
    tmp = mkdtempSync(join(tmpdir(), 'authsplit-types-'));
    install();
    rmSync(ROOT, { recursive: true, force: true });
    tarball = packInto(tmp, ROOT);
    codes = unionCodes();
    const dirs = RESOLUTIONS.map(([resolution, options]) => {
      const files = { 'consumer.tsx': CONSUMER };
      if (resolution === 'bundler') {
        const head = "import type { AuthsplitErrorCode } from 'authsplit';\n";
        files['exhaustive.ts'] = head + exhaustive('describe', codes);
        files['typo.ts'] = head + exhaustive('describe', [...codes, 'typo_code']);
        files['missing.ts'] = head + exhaustive('describe', codes.slice(1));
      }
      return project(resolution, files, { moduleResolution: resolution, ...options });
    });
    const all = tscBuild(dirs);
    all.catch(() => {}); // awaited by every test below
    for (const [resolution] of RESOLUTIONS) {
      checks[resolution] = all.then((byDir) => byDir[`tsc-${resolution}`]);
      checks[resolution].catch(() => {});
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
