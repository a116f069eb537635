// The npm package as a SPA developer gets it: `npm pack` web/ → install the tarball into a
// fresh Vite 7 app in a temp dir → `vite build` (production, no plugin, no config) → serve the
// build with authsplit-server's static dir → sign in through it in headless Chromium against
// the real oidc-provider.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { build, createServer as createViteServer } from 'vite';

import { startOP } from '../support/op.mjs';
import { startServer, opProvider, randomCookieKey, REPO_ROOT } from '../support/server.mjs';
import { launchBrowser, newLoopbackContext, loginAndConsent } from '../support/browser.mjs';

const WEB = join(REPO_ROOT, 'web');

let dir;
let op;
let srv;
let browser;
let app;
let appDir;

async function freePort() {
  const s = createServer();
  await new Promise((res) => s.listen(0, '127.0.0.1', res));
  const { port } = s.address();
  await new Promise((res) => s.close(res));
  return port;
}

const npm = (args, cwd) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

const INDEX_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vite + authsplit</title></head>
<body>
  <p id="status">loading</p>
  <p id="name"></p>
  <p id="error"></p>
  <button id="login" type="button">Sign in</button>
  <script type="module" src="/src/main.js"></script>
</body></html>
`;

const MAIN_JS = `import { init, AuthClient, AuthsplitError } from 'authsplit';

const $ = (id) => document.getElementById(id);

async function main() {
  await init();
  const client = new AuthClient({ backendUrl: '/auth', provider: 'local' });
  $('login').addEventListener('click', () =>
    client.login({ returnTo: '/' }).catch((e) => ($('error').textContent = e.code)),
  );
  if (location.pathname === '/callback') {
    try {
      const { user, returnTo } = await client.handleCallback();
      history.replaceState(null, '', returnTo);
      $('name').textContent = user.name;
      $('status').textContent = 'signed-in';
    } catch (e) {
      $('error').textContent = e instanceof AuthsplitError ? e.code : 'not-an-AuthsplitError';
      $('status').textContent = 'error';
    }
  } else {
    $('status').textContent = 'signed-out';
  }
}
main();
`;

before(async () => {
  if (!existsSync(join(WEB, 'pkg', 'authsplit_wasm_bg.wasm'))) {
    throw new Error('web/pkg missing: run scripts/build-web.sh first');
  }
  dir = mkdtempSync(join(tmpdir(), 'authsplit-vite-'));
  // 1. npm pack → a tarball, 2. a fresh app that installs it.
  npm(['pack', WEB, '--pack-destination', dir], REPO_ROOT);
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  assert.ok(tgz, 'npm pack produced a tarball');
  appDir = join(dir, 'app');
  execFileSync('mkdir', ['-p', join(appDir, 'src')]);
  writeFileSync(
    join(appDir, 'package.json'),
    JSON.stringify({ name: 'vite-app', private: true, type: 'module' }, null, 2),
  );
  writeFileSync(join(appDir, 'index.html'), INDEX_HTML);
  writeFileSync(join(appDir, 'src', 'main.js'), MAIN_JS);
  npm(['install', '--prefer-offline', join(dir, tgz)], appDir);
  // 3. A production build with Vite 7 — no plugin, no config file.
  await build({
    root: appDir,
    configFile: false,
    logLevel: 'warn',
    build: { outDir: join(appDir, 'dist'), emptyOutDir: true },
  });
  const assets = readdirSync(join(appDir, 'dist', 'assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `the .wasm is emitted: ${assets}`);

  op = await startOP();
  const port = await freePort();
  app = `http://127.0.0.1:${port}`;
  const redirectUri = `${app}/callback`;
  op.setRedirectUris([redirectUri]);
  srv = await startServer({
    config: {
      server: {
        listen: `127.0.0.1:${port}`,
        allowed_origins: [app],
        cookie_key: randomCookieKey(),
        static_dir: join(appDir, 'dist'),
      },
      providers: { local: opProvider(op, 'basic', redirectUri) },
    },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await srv?.close();
  await op?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a Vite 7 production build of the packed tarball signs in', async () => {
  const context = await newLoopbackContext(browser);
  try {
    const page = await context.newPage();
    const wasmLoads = [];
    page.on('response', (r) => {
      if (r.url().endsWith('.wasm')) wasmLoads.push(r.headers()['content-type']);
    });
    await page.goto(`${app}/`);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'signed-out');
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
  }
});

test('the package types check under tsc --strict (exports.types, nodenext)', () => {
  // A TypeScript consumer of the installed tarball: every export and option type-checks, and
  // a missing required option is an error.
  writeFileSync(
    join(appDir, 'src', 'check.ts'),
    `import { init, isInitialized, AuthClient, AuthsplitError } from 'authsplit';
import type { AuthsplitErrorCode, CallbackResult, LogoutResult, User } from 'authsplit';

export async function use(): Promise<string | null> {
  await init();
  await init(new URL('https://cdn.example/authsplit_wasm_bg.wasm'));
  const ready: boolean = isInitialized();
  const c = new AuthClient({
    backendUrl: '/auth',
    provider: 'local',
    scope: 'openid profile',
    extraParams: { login_hint: 'a' },
    apiOrigins: ['https://api.example'],
  });
  await c.login({ returnTo: '/account', provider: 'github' });
  const r: CallbackResult = await c.handleCallback();
  const u: User | null = r.user ?? c.user();
  const token: string = await c.getAccessToken();
  const res: Response = await c.fetch('/api/hello', { method: 'GET' });
  const out: LogoutResult = await c.logout();
  try {
    await c.getAccessToken();
  } catch (e) {
    if (e instanceof AuthsplitError) {
      const code: AuthsplitErrorCode = e.code;
      return code + (e.errorDescription ?? '') + String(ready) + token + res.status + (u?.name ?? '');
    }
  }
  c.free();
  return out.endSessionUrl;
}

// @ts-expect-error provider is required
new AuthClient({ backendUrl: '/auth' });
`,
  );
  const tsc = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
  const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext'];
  args.push('--target', 'es2022', '--lib', 'es2022,dom', '--skipLibCheck', 'false');
  try {
    execFileSync(tsc, [...args, join('src', 'check.ts')], { cwd: appDir, encoding: 'utf8' });
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
});

test('vite dev works with the documented optimizeDeps.exclude setting', async () => {
  // `vite dev` pre-bundles dependencies with esbuild, which loses the .wasm next to the glue;
  // excluding the package keeps `new URL('…_bg.wasm', import.meta.url)` intact (web/README.md).
  const dev = await createViteServer({
    root: appDir,
    configFile: false,
    logLevel: 'silent',
    server: { host: '127.0.0.1', port: 0, strictPort: false },
    optimizeDeps: { exclude: ['authsplit'] },
  });
  await dev.listen();
  const context = await newLoopbackContext(browser);
  try {
    const page = await context.newPage();
    await page.goto(dev.resolvedUrls.local[0]);
    await page.waitForFunction(
      () => document.getElementById('status').textContent !== 'loading',
      null,
      { timeout: 20000 },
    );
    // init() resolved and `new AuthClient(…)` worked (the page is not on /callback).
    assert.equal(await page.textContent('#status'), 'signed-out');
  } finally {
    await context.close();
    await dev.close();
  }
});
