// The committed package-lock.json must be accepted by `npm ci` (scripts/setup.sh uses it on a
// fresh clone). A machine that already has node_modules never notices a lock that drifted, so
// check it here: `npm ci --dry-run` in a scratch copy validates that package.json and the lock
// agree without touching this tree's node_modules.
//
// Seen for real: vite 7 pulled rollup 4.68.x, whose platform packages the registry reachable
// here mostly lacks; `npm install` wrote a lock without them and `npm ci` refused it
// ("Missing: @rollup/rollup-… from lock file"). package.json pins rollup via `overrides`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, copyFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const run = promisify(execFile);

test('npm ci accepts package.json + package-lock.json', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'authsplit-npm-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const f of ['package.json', 'package-lock.json']) {
    await copyFile(join(REPO_ROOT, f), join(dir, f));
  }
  let out;
  try {
    out = await run(
      'npm',
      ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
      { cwd: dir, timeout: 120_000 },
    );
  } catch (e) {
    assert.fail(`npm ci --dry-run failed (exit ${e.code}):\n${e.stderr}`);
  }
  assert.match(out.stdout, /added \d+ packages|up to date/);
});
