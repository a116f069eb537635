// Security-review fixes that need the real parts: two sign-ins started in parallel tabs of one
// browser both complete (SECURITY.md F1, "callback in a different tab"; one transaction cookie
// per state), in headless Chromium with the example SPA (web/example, built by
// scripts/build-web.sh), the real oidc-provider and the real authsplit-server binary; and the
// binary closes a connection whose request headers never complete (slowloris, SECURITY.md S15).
//
//   scripts/build-web.sh && cargo build -p authsplit-server
//   node --test tests/e2e/hardening.test.mjs

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

import { startOP } from '../support/op.mjs';
import { startOnFreePort, opProvider, REPO_ROOT } from '../support/server.mjs';
import { launchBrowser, newLoopbackContext, loginAndConsent } from '../support/browser.mjs';

const DIST = join(REPO_ROOT, 'web', 'example', 'dist');

let op;
let srv;
let browser;
let app;

before(async () => {
  if (!existsSync(join(DIST, 'index.html'))) {
    throw new Error(`${DIST} missing: run scripts/build-web.sh first`);
  }
  op = await startOP();
  ({ app, srv } = await startOnFreePort((app) => {
    const redirectUri = `${app}/callback`;
    op.setRedirectUris([redirectUri], { postLogout: [`${app}/`] });
    return {
      config: {
        server: { static_dir: DIST, header_read_timeout_secs: 2 },
        providers: {
          local: { ...opProvider(op, 'basic', redirectUri), name: 'Local OIDC provider' },
        },
      },
    };
  }));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await srv?.close();
  await op?.close();
});

async function openAtProvider(context) {
  const page = await context.newPage();
  await page.goto(`${app}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
  await Promise.all([
    page.waitForURL((u) => u.origin === op.issuer, { waitUntil: 'commit', timeout: 15000 }),
    page.click('[data-testid="sign-in-local"]'),
  ]);
  return page;
}

test('two sign-ins started in parallel tabs both complete (SECURITY.md F1; one tx cookie per state)', async () => {
  const context = await newLoopbackContext(browser);
  try {
    const tokenCalls = [];
    context.on('response', (r) => {
      if (new URL(r.url()).pathname === '/auth/token') tokenCalls.push(r.status());
    });
    // Tab A starts, then tab B starts before A comes back: two pending sign-ins.
    const a = await openAtProvider(context);
    const b = await openAtProvider(context);
    const names = (await context.cookies(app)).map((c) => c.name).filter((n) => n.startsWith('__Host-authsplit-tx'));
    assert.equal(names.length, 2, `two transaction cookies: ${names}`);
    for (const n of names) assert.match(n, /^__Host-authsplit-tx-[0-9a-f]{16}$/);
    // A finishes first, then B: both are signed in, each with one exchange.
    for (const [page, login] of [[a, 'alice'], [b, 'alice']]) {
      await loginAndConsent(page, { login });
      await page.waitForSelector('[data-testid="status"][data-state="signed-in"]', { timeout: 15000 });
    }
    assert.deepEqual(tokenCalls, [200, 200]);
    const left = (await context.cookies(app)).filter((c) => c.name.startsWith('__Host-authsplit-tx'));
    assert.equal(left.length, 0, 'each exchange removed its own transaction cookie');
  } finally {
    await context.close();
  }
});

test('the binary closes a connection whose request headers never complete (slowloris)', async () => {
  const { port } = new URL(app);
  const sock = net.connect(Number(port), '127.0.0.1');
  await new Promise((res, rej) => sock.once('connect', res).once('error', rej));
  sock.write('POST /auth/token HTTP/1.1\r\nhost: x\r\n');
  const t0 = Date.now();
  const closedAfter = await new Promise((res) => {
    const timer = setTimeout(() => res(null), 8000);
    sock.on('close', () => {
      clearTimeout(timer);
      res(Date.now() - t0);
    });
    sock.on('error', () => {});
    sock.resume();
  });
  sock.destroy();
  assert.ok(closedAfter !== null, 'still open after 8 s');
  assert.ok(closedAfter >= 1500 && closedAfter < 5000, `closed after ${closedAfter} ms (header_read_timeout_secs = 2)`);
});
