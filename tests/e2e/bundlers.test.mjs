// The npm package where users put it. `npm pack web/` → the tarball unpacked into one shared
// install of the bundlers (tests/fixtures/bundlers: package.json + committed lock, `npm ci`
// once per lock hash) → the fixture app built with each bundler and no configuration (Vite
// build and dev, webpack 5, Rollup 4 + node-resolve, esbuild esm and iife, Next.js) → each
// build loaded in headless Chromium, where `await init(); new AuthClient(…)` must work. Then:
// sign-in through the Vite build against the real oidc-provider and authsplit-server; the
// React 19 journey on `authsplit/react` under <StrictMode>; `wasm_load_failed` for a bundle
// whose `.wasm` was not emitted; the types (tsc: exhaustive switch, moduleResolution bundler /
// node16 / node10 / nodenext) and the package metadata (attw, publint).
//
// Builds are cached in tests/fixtures/bundlers/.out, each keyed by a hash of everything it is
// made from (the tarball, the lock, the fixture sources, the build options), so a warm run
// rebuilds only what changed.
//
//   scripts/build-web.sh && cargo build -p authsplit-server
//   node --test tests/e2e/bundlers.test.mjs

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
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
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { extname, join, normalize, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

import { startOP } from '../support/op.mjs';
import { startServer, opProvider, randomCookieKey, freePort, REPO_ROOT } from '../support/server.mjs';
import { launchBrowser, newLoopbackContext, loginAndConsent } from '../support/browser.mjs';

const WEB = join(REPO_ROOT, 'web');
const FIX = join(REPO_ROOT, 'tests', 'fixtures', 'bundlers');
const MODULES = join(FIX, 'node_modules');
const OUT = join(FIX, '.out');
const PKG_DIR = join(MODULES, 'authsplit');

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
function install() {
  const lockHash = createHash('sha256').update(readFileSync(join(FIX, 'package-lock.json'))).digest('hex');
  const stamp = join(MODULES, '.authsplit-lock-hash');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === lockHash) return;
  npm(['ci'], FIX);
  writeFileSync(stamp, `${lockHash}\n`);
}

let tarball; // path
let pkgHash; // hash of the tarball
let lockHash;
let tmp;

/** `npm pack web/`, then unpack it as node_modules/authsplit (what `npm install <tgz>` does). */
function packAndUnpack() {
  npm(['pack', WEB, '--pack-destination', tmp], REPO_ROOT);
  const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  assert.ok(tgz, 'npm pack produced a tarball');
  tarball = join(tmp, tgz);
  pkgHash = sha(readFileSync(tarball));
  rmSync(PKG_DIR, { recursive: true, force: true });
  mkdirSync(PKG_DIR, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', PKG_DIR, '--strip-components=1']);
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

const fixtureRequire = createRequire(join(FIX, 'package.json'));
const load = (name) => import(pathToFileURL(fixtureRequire.resolve(name)).href);

const APP = join(FIX, 'app');
const APP_HTML = readFileSync(join(APP, 'index.html'), 'utf8');
/** The fixture page with `tag` instead of its module script. */
const pageWith = (tag) => APP_HTML.replace(/<script[^>]*><\/script>/, tag);
const MODULE_TAG = '<script type="module" src="/main.js"></script>';
const CLASSIC_TAG = '<script defer src="/main.js"></script>';

/** The builds, by name: their output directory. */
const builds = {};

async function buildAll() {
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
    assert.ok(!stats.hasErrors(), stats.toString('errors-only'));
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
    assert.deepEqual(warnings, [], 'Rollup builds without a warning');
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
      assert.fail(`next build failed:\n${e.stdout}\n${e.stderr}`);
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
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.txt': 'text/plain',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/**
 * A plain static file server on 127.0.0.1 (like `python3 -m http.server`): 404 for a missing
 * file, or — with `spaFallback` — index.html for any unknown path, as SPA hosts do.
 */
async function serveStatic(dir, { spaFallback = false } = {}) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    let file = normalize(join(dir, path));
    if (!file.startsWith(dir + sep) && file !== dir) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file) && existsSync(`${file}.html`)) file = `${file}.html`;
    if (!existsSync(file)) {
      if (!spaFallback) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      file = join(dir, 'index.html');
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((res) => server.close(res)),
  };
}

let browser;

before(
  async () => {
    if (!existsSync(join(WEB, 'pkg', 'authsplit_wasm_bg.wasm'))) {
      throw new Error('web/pkg missing: run scripts/build-web.sh first');
    }
    tmp = mkdtempSync(join(tmpdir(), 'authsplit-bundlers-'));
    install();
    lockHash = sha(readFileSync(join(FIX, 'package-lock.json')));
    packAndUnpack();
    await buildAll();
    browser = await launchBrowser();
  },
  { timeout: 15 * 60_000 },
);

after(async () => {
  await browser?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/**
 * Opens `url` and waits until the fixture page settles; returns its status, error code and
 * message, and the `.wasm` responses it loaded.
 */
async function openApp(url) {
  const context = await newLoopbackContext(browser);
  try {
    const page = await context.newPage();
    const wasm = [];
    page.on('response', (r) => {
      if (r.url().endsWith('.wasm')) wasm.push({ status: r.status(), type: r.headers()['content-type'] });
    });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(url);
    await page.waitForFunction(
      () => !['loading', ''].includes(document.getElementById('status')?.textContent ?? ''),
      null,
      { timeout: 20_000 },
    );
    return {
      status: await page.textContent('#status'),
      error: await page.textContent('#error'),
      message: (await page.locator('#message').count()) ? await page.textContent('#message') : '',
      wasm,
      pageErrors,
    };
  } finally {
    await context.close();
  }
}

/** Loads a build from a plain static server; `init()` and `new AuthClient(…)` must work. */
async function assertReady(dir, path = '/') {
  const srv = await serveStatic(dir);
  try {
    const r = await openApp(srv.url + path);
    assert.deepEqual([r.status, r.error, r.pageErrors], ['ready', '', []], JSON.stringify(r));
    return r;
  } finally {
    await srv.close();
  }
}

test('webpack 5 (production, no configuration) emits the .wasm and init() fetches it', async () => {
  assert.ok(readdirSync(builds.webpack).some((f) => f.endsWith('.wasm')), 'webpack emitted the .wasm');
  const r = await assertReady(builds.webpack);
  assert.deepEqual(r.wasm.map((w) => w.status), [200]);
});

test('vite build (no plugin, no configuration) emits the .wasm and init() fetches it', async () => {
  const assets = readdirSync(join(builds.vite, 'assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `the .wasm is emitted: ${assets}`);
  const r = await assertReady(builds.vite);
  assert.deepEqual(r.wasm.map((w) => w.status), [200]);
});

test('Rollup 4 + node-resolve (no configuration): the inline entry, no .wasm request', async () => {
  const r = await assertReady(builds.rollup);
  assert.deepEqual(r.wasm, []);
});

test('esbuild --bundle --format=esm (no configuration): the inline entry, no .wasm request', async () => {
  const r = await assertReady(builds.esbuild);
  assert.deepEqual(r.wasm, []);
});

test('esbuild --bundle with its default iife format works too (no import.meta needed)', async () => {
  const r = await assertReady(builds.esbuildIife);
  assert.deepEqual(r.wasm, []);
});

test('Next.js (next build, default bundler) emits the .wasm; init() and new AuthClient() work', async () => {
  const r = await assertReady(builds.next);
  assert.deepEqual(r.wasm.map((w) => w.status), [200]);
});

test('a bundle without its .wasm: init() fails with wasm_load_failed naming the 404 and the recipe', async () => {
  const srv = await serveStatic(builds.esbuildAsset);
  try {
    const r = await openApp(srv.url);
    assert.equal(r.status, 'error');
    assert.equal(r.error, 'wasm_load_failed');
    assert.match(r.message, /HTTP 404/);
    assert.match(r.message, /authsplit\/inline/);
    assert.match(r.message, /init\(url\)/);
  } finally {
    await srv.close();
  }
});

test('… and an HTML page served in its place (SPA fallback) is recognised as such', async () => {
  const srv = await serveStatic(builds.esbuildAsset, { spaFallback: true });
  try {
    const r = await openApp(srv.url);
    assert.equal(r.error, 'wasm_load_failed');
    assert.match(r.message, /answered with an HTML page/);
    assert.match(r.message, /authsplit\/inline/);
  } finally {
    await srv.close();
  }
});

/**
 * A Vite dev server on the fixture app; `optimizeDeps` as given. `vite` is the module: Vite 8
 * from the fixtures' install, or Vite 7 from the repository's own (root package.json), whose
 * dependency pre-bundling moves the code away from the `.wasm` file.
 */
async function viteDev(vite, optimizeDeps) {
  // As in a fresh `vite` process: the builds above set NODE_ENV=production in this one, which
  // Vite would take over (and resolve the `production` condition).
  delete process.env.NODE_ENV;
  const dev = await vite.createServer({
    root: APP,
    configFile: false,
    logLevel: 'silent',
    server: { host: '127.0.0.1', port: 0, strictPort: false },
    ...(optimizeDeps ? { optimizeDeps } : {}),
  });
  await dev.listen();
  return dev;
}

const vite7 = async () => {
  const vite = await import('vite');
  assert.match(vite.version, /^7\./);
  return vite;
};

for (const [name, vite] of [
  ['Vite 8', () => load('vite')],
  ['Vite 7', vite7],
]) {
  test(`vite dev (${name}) works with no configuration (dependency pre-bundling included)`, async () => {
    const dev = await viteDev(await vite());
    try {
      const r = await openApp(dev.resolvedUrls.local[0]);
      assert.deepEqual([r.status, r.error, r.pageErrors], ['ready', '', []], JSON.stringify(r));
    } finally {
      await dev.close();
    }
  });
}

test('vite dev (Vite 7) still works with the optimizeDeps.exclude setting older docs asked for', async () => {
  const dev = await viteDev(await vite7(), { exclude: ['authsplit'] });
  try {
    const r = await openApp(dev.resolvedUrls.local[0]);
    assert.deepEqual([r.status, r.error], ['ready', '']);
  } finally {
    await dev.close();
  }
});

/** authsplit-server serving `dir` (and /api/hello) against a fresh oidc-provider. */
async function backendFor(dir) {
  const op = await startOP();
  const port = await freePort();
  const app = `http://127.0.0.1:${port}`;
  const redirectUri = `${app}/callback`;
  op.setRedirectUris([redirectUri], { postLogout: [`${app}/`] });
  const srv = await startServer({
    config: {
      server: {
        listen: `127.0.0.1:${port}`,
        allowed_origins: [app],
        cookie_key: randomCookieKey(),
        static_dir: dir,
        demo_api: true,
      },
      providers: { local: opProvider(op, 'basic', redirectUri) },
    },
  });
  return {
    op,
    app,
    close: async () => {
      await srv.close();
      await op.close();
    },
  };
}

test('the Vite build of the packed tarball signs in', async () => {
  const { app, op, close } = await backendFor(builds.vite);
  const context = await newLoopbackContext(browser);
  try {
    const page = await context.newPage();
    const wasmLoads = [];
    page.on('response', (r) => {
      if (r.url().endsWith('.wasm')) wasmLoads.push(r.headers()['content-type']);
    });
    await page.goto(`${app}/`);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
    await Promise.all([
      page.waitForURL((u) => u.origin === op.issuer, { waitUntil: 'commit' }),
      page.click('#login'),
    ]);
    await loginAndConsent(page, { login: 'vera' });
    await page.waitForFunction(
      () => ['signed-in', 'error'].includes(document.getElementById('status').textContent),
      null,
      { timeout: 15000 },
    );
    assert.equal(await page.textContent('#error'), '');
    assert.equal(await page.textContent('#name'), 'Test User vera');
    assert.equal(page.url(), `${app}/`);
    // Fetched once per page load (the SPA page, then the callback page), served as
    // application/wasm so the browser can compile it while streaming.
    assert.equal(wasmLoads.length, 2);
    for (const ct of wasmLoads) assert.match(ct, /^application\/wasm/);
  } finally {
    await context.close();
    await close();
  }
});

test('React 19 + authsplit/react under <StrictMode>: sign-in, reload, protected fetch, sign-out', async () => {
  const { app, op, close } = await backendFor(builds.react);
  const context = await newLoopbackContext(browser);
  try {
    const page = await context.newPage();
    const calls = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.origin === app && (u.pathname.startsWith('/auth/') || u.pathname.startsWith('/api/'))) {
        calls.push(u.pathname);
      }
    });
    const settled = () =>
      page.waitForFunction(
        () => !['loading', ''].includes(document.getElementById('status')?.textContent ?? ''),
        null,
        { timeout: 15000 },
      );
    const text = (id) => page.textContent(`#${id}`);

    await page.goto(`${app}/`);
    await settled();
    assert.deepEqual([await text('status'), await text('error')], ['signed-out', '']);

    await Promise.all([
      page.waitForURL((u) => u.origin === op.issuer, { waitUntil: 'commit' }),
      page.click('#login'),
    ]);
    await loginAndConsent(page, { login: 'rita' });
    await page.waitForURL(`${app}/`);
    await settled();
    assert.deepEqual(
      [await text('status'), await text('name'), await text('error')],
      ['signed-in', 'Test User rita', ''],
    );
    // StrictMode ran the mount effects twice, and the callback was still handled once.
    assert.equal(await page.evaluate(() => window.mountEffects), 2);
    assert.equal(calls.filter((p) => p === '/auth/token').length, 1, calls.join(' '));

    // After a reload the session comes back through the backend (POST /refresh, whose reply
    // carries no user), and the protected call is made as rita.
    await page.reload();
    await settled();
    assert.deepEqual([await text('status'), await text('error')], ['signed-in', '']);
    assert.ok(calls.includes('/auth/refresh'));

    await page.click('#call-api');
    await page.waitForFunction(() => document.getElementById('api').textContent !== '');
    assert.match(await text('api'), /^200 .*rita/);

    await page.click('#logout');
    await page.waitForFunction(() => document.getElementById('status').textContent === 'signed-out');
    assert.ok(calls.includes('/auth/logout'));
    await page.reload();
    await settled();
    assert.deepEqual([await text('status'), await text('error')], ['signed-out', '']);
  } finally {
    await context.close();
    await close();
  }
});

// ------------------------------------------------------------------ types and metadata

const TSC = join(MODULES, 'typescript', 'bin', 'tsc');

/**
 * Runs tsc on `files` in a scratch ES-module project next to the fixtures (so `authsplit` and
 * `react` resolve); returns its diagnostics ('' when clean).
 */
function tsc(name, files, compilerOptions) {
  const dir = join(OUT, `tsc-${name}`);
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
    execFileSync(process.execPath, [TSC, '-p', '.'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
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
let bundlerOut;

for (const [resolution, options] of RESOLUTIONS) {
  test(`the package types check under tsc --strict, moduleResolution ${resolution}`, () => {
    const files = { 'consumer.tsx': CONSUMER };
    if (resolution === 'bundler') {
      codes = unionCodes();
      const head = "import type { AuthsplitErrorCode } from 'authsplit';\n";
      files['exhaustive.ts'] = head + exhaustive('describe', codes);
      files['typo.ts'] = head + exhaustive('describe', [...codes, 'typo_code']);
      files['missing.ts'] = head + exhaustive('describe', codes.slice(1));
    }
    const out = tsc(resolution, files, { moduleResolution: resolution, ...options });
    if (resolution === 'bundler') bundlerOut = out;
    const unexpected = out.split('\n').filter((l) => /error TS/.test(l) && !/^(typo|missing)\.ts\(/.test(l));
    assert.deepEqual(unexpected, [], out);
  });
}

test('an exhaustive switch over AuthsplitErrorCode compiles; a made-up or a missing code does not', () => {
  assert.ok(bundlerOut !== undefined, 'the bundler type check ran');
  assert.ok(codes.includes('wasm_load_failed') && codes.includes('internal'), codes.join());
  assert.deepEqual(errorsIn(bundlerOut, 'exhaustive.ts'), []);
  const typo = errorsIn(bundlerOut, 'typo.ts');
  assert.equal(typo.length, 1, bundlerOut);
  assert.match(typo[0], /'"typo_code"' is not comparable to type 'AuthsplitErrorCode'/);
  const missing = errorsIn(bundlerOut, 'missing.ts');
  assert.equal(missing.length, 1, bundlerOut);
  assert.match(missing[0], new RegExp(`Type '"${codes[0]}"' is not assignable to type 'never'`));
});

test('attw (the package is ESM only) and publint accept the packed package', () => {
  const bin = (p) => join(MODULES, '.bin', p);
  try {
    execFileSync(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'table-flipped'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    assert.fail(`attw failed:\n${e.stdout}${e.stderr}`);
  }
  let out;
  try {
    out = execFileSync(bin('publint'), ['run', PKG_DIR, '--pack', 'false', '--strict'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    assert.fail(`publint failed:\n${e.stdout}${e.stderr}`);
  }
  assert.doesNotMatch(out, /warning|error|suggestion/i, out);
});
