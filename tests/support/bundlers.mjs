// The bundler fixtures (tests/fixtures/bundlers): one shared install of the bundlers from the
// committed lock (`npm ci` once per lock hash, like scripts/setup.sh), the packed `authsplit`
// tarball unpacked into it, and the fixture app built with each bundler and no configuration.
// Builds are cached in tests/fixtures/bundlers/.out, each keyed by a hash of everything it is
// made from (the tarball, the lock, the fixture sources, the build options), so a warm run
// rebuilds only what changed.
//
// scripts/test.sh runs this file as a stage before the end-to-end suites (so their time limit
// covers no install or build); tests/e2e/bundlers.test.mjs calls the same functions, which do
// nothing when everything is current.
//
//   node tests/support/bundlers.mjs     # install + pack + build, after scripts/build-web.sh

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { REPO_ROOT } from './server.mjs';

export const WEB = join(REPO_ROOT, 'web');
export const FIX = join(REPO_ROOT, 'tests', 'fixtures', 'bundlers');
export const MODULES = join(FIX, 'node_modules');
export const OUT = join(FIX, '.out');

const sha = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
};

/** Every file under `dir` (sorted, relative), for hashing a fixture's sources. */
function filesOf(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out;
}
const hashDir = (dir) => sha(...filesOf(dir).flatMap((f) => [relative(dir, f), readFileSync(f)]));

const npm = (args, cwd) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

/** `npm ci` in the fixtures directory unless node_modules matches the lock (like setup.sh). */
export function install() {
  const lockHash = createHash('sha256').update(readFileSync(join(FIX, 'package-lock.json'))).digest('hex');
  const stamp = join(MODULES, '.authsplit-lock-hash');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === lockHash) return;
  npm(['ci'], FIX);
  writeFileSync(stamp, `${lockHash}\n`);
}

let pkgHash; // hash of the tarball the builds are made from
let lockHash;

/**
 * `npm pack web/` into `tmp`, then unpack it as `<into>/node_modules/authsplit` (what
 * `npm install <tgz>` does: the package has no dependencies). Returns the tarball's path.
 */
export function packInto(tmp, into = FIX) {
  if (!existsSync(join(WEB, 'pkg', 'authsplit_wasm_bg.wasm'))) {
    throw new Error('web/pkg missing: run scripts/build-web.sh first');
  }
  npm(['pack', WEB, '--pack-destination', tmp], REPO_ROOT);
  const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error('npm pack produced no tarball');
  const tarball = join(tmp, tgz);
  const dest = join(into, 'node_modules', 'authsplit');
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', dest, '--strip-components=1']);
  return tarball;
}

/**
 * Runs `build(outDir)` unless `.out/<name>` was built from the same inputs; returns outDir.
 * @param {string} name
 * @param {string} key what the build is made from besides the tarball and the lock
 * @param {(out: string) => Promise<void>} build
 */
async function cached(name, key, build) {
  const out = join(OUT, name);
  const stampFile = join(OUT, `${name}.stamp`);
  const stamp = sha(pkgHash, lockHash, key);
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp && existsSync(out)) {
    return out;
  }
  rmSync(out, { recursive: true, force: true });
  rmSync(stampFile, { force: true });
  mkdirSync(out, { recursive: true });
  await build(out);
  writeFileSync(stampFile, stamp);
  return out;
}

export const fixtureRequire = createRequire(join(FIX, 'package.json'));
export const load = (name) => import(pathToFileURL(fixtureRequire.resolve(name)).href);

export const APP = join(FIX, 'app');
const APP_HTML = readFileSync(join(APP, 'index.html'), 'utf8');
/** The fixture page with `tag` instead of its module script. */
const pageWith = (tag) => APP_HTML.replace(/<script[^>]*><\/script>/, tag);
const MODULE_TAG = '<script type="module" src="/main.js"></script>';
const CLASSIC_TAG = '<script defer src="/main.js"></script>';

/**
 * Installs the fixtures, packs the package into the fixtures' node_modules and builds the
 * fixture apps (each only when its inputs changed). Returns the builds' output directories by
 * name. `tmp`: a scratch directory for the tarball.
 */
export async function buildAll(tmp) {
  install();
  lockHash = sha(readFileSync(join(FIX, 'package-lock.json')));
  pkgHash = sha(readFileSync(packInto(tmp)));
  const builds = {};
  const appKey = hashDir(APP);
  const vite = await load('vite');
  const viteBuild = (root, outDir, extra = {}) =>
    vite.build({
      root,
      configFile: false,
      logLevel: 'warn',
      build: { outDir, emptyOutDir: true },
      ...extra,
    });

  builds.vite = await cached('vite', appKey, (out) => viteBuild(APP, out));

  builds.webpack = await cached('webpack', appKey, async (out) => {
    const { default: webpack } = await load('webpack');
    const stats = await new Promise((res, rej) =>
      webpack(
        {
          mode: 'production',
          context: APP,
          entry: './main.js',
          output: { path: out, filename: 'main.js' },
        },
        (err, s) => (err ? rej(err) : res(s)),
      ),
    );
    if (stats.hasErrors()) throw new Error(stats.toString('errors-only'));
    writeFileSync(join(out, 'index.html'), pageWith(CLASSIC_TAG));
  });

  builds.rollup = await cached('rollup', appKey, async (out) => {
    const { rollup } = await load('rollup');
    const { default: nodeResolve } = await load('@rollup/plugin-node-resolve');
    const warnings = [];
    const bundle = await rollup({
      input: join(APP, 'main.js'),
      plugins: [nodeResolve()],
      onwarn: (w) => warnings.push(String(w)),
    });
    await bundle.write({ file: join(out, 'main.js'), format: 'es' });
    await bundle.close();
    if (warnings.length) throw new Error(`Rollup warned: ${warnings.join('; ')}`);
    writeFileSync(join(out, 'index.html'), pageWith(MODULE_TAG));
  });

  const esbuild = await load('esbuild');
  const esb = (out, opts) =>
    esbuild.build({
      entryPoints: [join(APP, 'main.js')],
      bundle: true,
      outfile: join(out, 'main.js'),
      logLevel: 'silent',
      ...opts,
    });
  builds.esbuild = await cached('esbuild', appKey, async (out) => {
    await esb(out, { format: 'esm' });
    writeFileSync(join(out, 'index.html'), pageWith(MODULE_TAG));
  });
  // esbuild's default format for a bundle (iife): a classic script, no import.meta.
  builds.esbuildIife = await cached('esbuild-iife', appKey, async (out) => {
    await esb(out, {});
    writeFileSync(join(out, 'index.html'), pageWith(CLASSIC_TAG));
  });
  // The asset entry forced on a bundler that does not emit the `.wasm`: the failure case.
  builds.esbuildAsset = await cached('esbuild-production', appKey, async (out) => {
    await esb(out, { format: 'esm', conditions: ['production'] });
    writeFileSync(join(out, 'index.html'), pageWith(MODULE_TAG));
  });

  builds.next = await cached('next', hashDir(join(FIX, 'next')), async (out) => {
    // Next builds in place: a copy of the fixture app inside tests/fixtures/bundlers, so that
    // `next`, `react` and `authsplit` resolve from the shared node_modules.
    const src = join(OUT, 'next-app');
    rmSync(src, { recursive: true, force: true });
    cpSync(join(FIX, 'next'), src, { recursive: true });
    try {
      execFileSync(process.execPath, [fixtureRequire.resolve('next/dist/bin/next'), 'build'], {
        cwd: src,
        env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      throw new Error(`next build failed:\n${e.stdout}\n${e.stderr}`);
    }
    cpSync(join(src, 'out'), out, { recursive: true });
    rmSync(src, { recursive: true, force: true });
  });

  // React 19 under <StrictMode>, built in development mode: StrictMode runs effects twice there.
  builds.react = await cached('react', hashDir(join(FIX, 'react')), (out) =>
    viteBuild(join(FIX, 'react'), out, {
      mode: 'development',
      define: { 'process.env.NODE_ENV': '"development"' },
    }),
  );
  return builds;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const tmp = mkdtempSync(join(tmpdir(), 'authsplit-bundlers-'));
  try {
    const t0 = Date.now();
    const builds = await buildAll(tmp);
    console.log(`[bundlers] ${Object.keys(builds).join(', ')} current (${Math.round((Date.now() - t0) / 1000)} s)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
