// The npm package where users put it: the fixture app built from the packed tarball by each
// bundler with no configuration (tests/support/bundlers.mjs: Vite build, webpack 5, Rollup 4 +
// node-resolve, esbuild esm and iife, Next.js) and loaded in headless Chromium, where
// `await init(); new AuthClient(…)` must work; `vite dev` (Vite 8 and 7); sign-in through the
// Vite build against the real oidc-provider and authsplit-server; the React 19 journey on
// `authsplit/react` under <StrictMode>; `wasm_load_failed` for a bundle whose `.wasm` was not
// emitted. The types and the package metadata: tests/e2e/bundlers-types.test.mjs.
//
//   scripts/build-web.sh && cargo build -p authsplit-server
//   node --test tests/e2e/bundlers.test.mjs    # installs and builds what is not current

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';

import { startOP } from '../support/op.mjs';
import { startOnFreePort, opProvider } from '../support/server.mjs';
import { launchBrowser, newLoopbackContext, loginAndConsent } from '../support/browser.mjs';
import { APP, buildAll, load } from '../support/bundlers.mjs';

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
let tmp;
/** The builds, by name: their output directory. */
let builds;

before(
  async () => {
    tmp = mkdtempSync(join(tmpdir(), 'authsplit-bundlers-'));
    builds = await buildAll(tmp);
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
  const { app, srv } = await startOnFreePort((app) => {
    const redirectUri = `${app}/callback`;
    op.setRedirectUris([redirectUri], { postLogout: [`${app}/`] });
    return {
      config: {
        server: { static_dir: dir, demo_api: true },
        providers: { local: opProvider(op, 'basic', redirectUri) },
      },
    };
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

test('React 19 + authsplit/react under <StrictMode>: sign-in, reload, protected fetch, sign-out (also in a second tab)', async () => {
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

    // A second tab of the app, signed in too: the logout in the first signs it out at once,
    // without a request of its own (AuthClient.onChange over a BroadcastChannel).
    const other = await context.newPage();
    const otherCalls = [];
    other.on('request', (r) => {
      if (new URL(r.url()).origin === app) otherCalls.push(new URL(r.url()).pathname);
    });
    await other.goto(`${app}/`);
    await other.waitForFunction(() => document.getElementById('status')?.textContent === 'signed-in', null, {
      timeout: 15000,
    });
    const quiet = otherCalls.length;

    await page.click('#logout');
    await page.waitForFunction(() => document.getElementById('status').textContent === 'signed-out');
    assert.ok(calls.includes('/auth/logout'));
    await other.waitForFunction(() => document.getElementById('status').textContent === 'signed-out', null, {
      timeout: 5000,
    });
    assert.deepEqual(otherCalls.slice(quiet), [], 'the other tab learned it without a request');
    assert.equal(await other.textContent('#error'), '', 'a sign-out is no error');
    await page.reload();
    await settled();
    assert.deepEqual([await text('status'), await text('error')], ['signed-out', '']);
  } finally {
    await context.close();
    await close();
  }
});

// ------------------------------------------------------------------ types and metadata
