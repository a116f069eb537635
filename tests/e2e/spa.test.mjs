// Journeys through the example SPA (web/example, built by scripts/build-web.sh) in headless
// Chromium, against the real oidc-provider (tests/support/op.mjs) and the real authsplit-server
// binary serving the SPA and the demo API. The browser-half rules (SECURITY.md B1–B11) are cited per journey.
//
//   scripts/build-web.sh && cargo build -p authsplit-server
//   node --test tests/e2e/spa.test.mjs

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';

import { startOP } from '../support/op.mjs';
import { startServer, opProvider, randomCookieKey, freePort, REPO_ROOT } from '../support/server.mjs';
import {
  launchBrowser,
  newLoopbackContext,
  loginAndConsent,
  cancelAtConsent,
  signOutOnSpa,
} from '../support/browser.mjs';

const DIST = join(REPO_ROOT, 'web', 'example', 'dist');
const ARTIFACTS = join(REPO_ROOT, 'tests', 'artifacts');
/** Access-token lifetime at the provider: short, so the refresh journey waits only seconds. */
const ACCESS_TTL = 4;

let op;
let srv;
let browser;
let app; // http://127.0.0.1:PORT — the SPA and the backend (same origin)

before(async () => {
  if (!existsSync(join(DIST, 'index.html'))) {
    throw new Error(`${DIST} missing: run scripts/build-web.sh first`);
  }
  op = await startOP({ accessTokenTTL: ACCESS_TTL });
  const port = await freePort();
  app = `http://127.0.0.1:${port}`;
  const redirectUri = `${app}/callback`;
  op.setRedirectUris([redirectUri], { postLogout: [`${app}/`] });
  srv = await startServer({
    config: {
      server: {
        listen: `127.0.0.1:${port}`,
        // The second name is for the redirect_uri journey, which opens the SPA under
        // localhost: an origin is accepted only when configured (docs/SECURITY.md A3).
        allowed_origins: [app, app.replace('127.0.0.1', 'localhost')],
        cookie_key: randomCookieKey(),
        static_dir: DIST,
        demo_api: true,
      },
      providers: {
        local: { ...opProvider(op, 'basic', redirectUri), name: 'Local OIDC provider' },
      },
    },
  });
  assert.equal(srv.url, app);
  browser = await launchBrowser();
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await srv?.close();
  await op?.close();
});

/** A fresh context + page that records the browser's calls to the backend. */
async function newPage() {
  const context = await newLoopbackContext(browser);
  const page = await context.newPage();
  const calls = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin === app && (u.pathname.startsWith('/auth/') || u.pathname.startsWith('/api/'))) {
      calls.push({ method: r.method(), path: u.pathname, url: r.url(), headers: r.headers() });
    }
  });
  const count = (path) => calls.filter((c) => c.method === 'POST' && c.path === path).length;
  return { context, page, calls, count };
}

/** Click a sign-in button and wait until the browser is at the provider. */
async function clickSignIn(page) {
  await Promise.all([
    page.waitForURL((u) => u.origin === op.issuer, { waitUntil: 'commit', timeout: 15000 }),
    page.click('[data-testid="sign-in-local"]'),
  ]);
}

async function ready(page) {
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
}

async function text(page, testid) {
  return (await page.locator(`[data-testid="${testid}"]`).textContent())?.trim();
}

async function errorCode(page) {
  await page.waitForSelector('[data-testid="error"]:not([hidden])', { timeout: 10000 });
  return text(page, 'error-code');
}

/** Open the SPA, click "Sign in with Local OIDC provider", log in and consent at the provider. */
async function signIn(page, { path = '/', login = 'alice', onCallback } = {}) {
  await page.goto(`${app}${path}`);
  await ready(page);
  const button = page.locator('[data-testid="sign-in-local"]');
  assert.equal(await button.textContent(), 'Sign in with Local OIDC provider');
  let callbackUrl = null;
  const onNav = (frame) => {
    if (frame === page.mainFrame() && frame.url().startsWith(`${app}/callback?`)) {
      callbackUrl ??= frame.url();
    }
  };
  page.on('framenavigated', onNav);
  await clickSignIn(page);
  await loginAndConsent(page, { login });
  if (onCallback) return { callbackUrl };
  await page.waitForSelector('[data-testid="status"][data-state="signed-in"]', { timeout: 15000 });
  page.off('framenavigated', onNav);
  return { callbackUrl };
}

async function pendingTransactions(page) {
  return page.evaluate(
    () => Object.keys(sessionStorage).filter((k) => k.startsWith('authsplit.tx.')).length,
  );
}

test('sign in (login + consent) → back on the SPA with the user name; screenshot', async () => {
  const { context, page, count, calls } = await newPage();
  try {
    const before = op.snapshot();
    const { callbackUrl } = await signIn(page, { login: 'alice' });
    assert.equal(await text(page, 'user-name'), 'Test User alice');
    assert.equal(await text(page, 'user-email'), 'alice@example.test');
    assert.match(await text(page, 'status'), /Signed in as Test User alice/);
    // Exactly one code exchange, by the backend, with the provider.
    assert.equal(count('/auth/token'), 1);
    assert.equal(op.counters.tokenAuthorizationCode - before.tokenAuthorizationCode, 1);
    // The registration carried state + challenge, never a verifier (SECURITY.md A2).
    const tx = calls.find((c) => c.path === '/auth/transactions');
    assert.equal(tx.headers['x-authsplit'], '1');
    // The callback really carried code + state + iss (RFC 9207), and they left the address bar
    // (SECURITY.md B7); the transaction left sessionStorage (B10).
    const cb = new URL(callbackUrl);
    assert.ok(cb.searchParams.get('code') && cb.searchParams.get('state'));
    assert.equal(cb.searchParams.get('iss'), op.issuer);
    assert.equal(page.url(), `${app}/`);
    assert.equal(await pendingTransactions(page), 0);
    // No token in web storage (SECURITY.md B10): tokens live in memory only.
    const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage, ...localStorage }));
    for (const call of op.tokenCalls) {
      if (call.accessToken) assert.ok(!stored.includes(call.accessToken));
      if (call.refreshToken) assert.ok(!stored.includes(call.refreshToken));
    }
    await page.screenshot({ path: join(ARTIFACTS, 'signed-in.png'), fullPage: true });
  } finally {
    await context.close();
  }
});

test('protected API through client.fetch carries the bearer token in a header only', async () => {
  const { context, page, calls } = await newPage();
  try {
    await signIn(page, { login: 'bob' });
    await page.click('[data-testid="call-api"]');
    await page.waitForSelector('[data-testid="api-result"][data-status]');
    assert.equal(await page.getAttribute('[data-testid="api-result"]', 'data-status'), '200');
    assert.match(await text(page, 'api-result'), /bob/);
    const api = calls.find((c) => c.path === '/api/hello');
    assert.match(api.headers.authorization, /^Bearer \S+$/);
    const token = api.headers.authorization.slice(7);
    assert.ok(!api.url.includes(token), 'never a token in a URL (SECURITY.md B11)');
    assert.ok(op.tokenCalls.some((c) => c.accessToken === token), 'the token the provider issued');
  } finally {
    await context.close();
  }
});

test('access-token expiry is survived through one shared refresh (RFC 6749 §6)', async () => {
  const { context, page, count, calls } = await newPage();
  try {
    await signIn(page, { login: 'carol' });
    await page.click('[data-testid="call-api"]');
    await page.waitForSelector('[data-testid="api-result"][data-status="200"]');
    const first = calls.filter((c) => c.path === '/api/hello').at(-1).headers.authorization;
    const refreshesBefore = op.counters.tokenRefresh;
    const refreshCallsBefore = count('/auth/refresh'); // includes the restore try on first load
    // Let the access token expire at the provider.
    await new Promise((r) => setTimeout(r, (ACCESS_TTL + 1) * 1000));
    assert.equal(await op.accessTokenIsActive(first.slice(7)), false, 'the old token is dead');
    // Two API calls at once: both wait for the same single refresh.
    await page.evaluate(() => {
      document.getElementById('api-result').removeAttribute('data-status');
      document.getElementById('call-api').click();
      document.getElementById('call-api').click();
    });
    await page.waitForFunction(() => {
      const el = document.getElementById('api-result');
      return el.dataset.status && !el.textContent.startsWith('Calling');
    });
    await page.waitForTimeout(300);
    assert.equal(count('/auth/refresh') - refreshCallsBefore, 1, 'one refresh for two callers');
    assert.equal(op.counters.tokenRefresh - refreshesBefore, 1);
    const hellos = calls.filter((c) => c.path === '/api/hello');
    assert.equal(hellos.length, 3);
    assert.equal(await page.getAttribute('[data-testid="api-result"]', 'data-status'), '200');
    const second = hellos.at(-1).headers.authorization;
    assert.notEqual(second, first, 'a fresh access token');
    assert.equal(hellos.at(-2).headers.authorization, second);
    assert.equal(await text(page, 'user-name'), 'Test User carol', 'still the same user');
  } finally {
    await context.close();
  }
});

test('sign out revokes the session; a reload stays signed out', async () => {
  const { context, page, count } = await newPage();
  try {
    await signIn(page, { login: 'dave' });
    const rt = op.tokenCalls.filter((c) => c.refreshToken).at(-1).refreshToken;
    assert.equal(await op.refreshTokenIsActive(rt), true);
    const revocations = op.counters.revocation;
    await signOutOnSpa(page);
    await page.waitForSelector('[data-testid="status"][data-state="signed-out"]');
    assert.equal(count('/auth/logout'), 1);
    assert.equal(op.counters.revocation - revocations, 1, 'RFC 7009 revocation at the provider');
    assert.equal(await op.refreshTokenIsActive(rt), false, 'the refresh token is dead');
    assert.equal(await page.isVisible('[data-testid="user-name"]'), false);
    await page.reload();
    await ready(page);
    assert.equal(await page.getAttribute('[data-testid="status"]', 'data-state'), 'signed-out');
    assert.equal(await page.isVisible('[data-testid="error"]'), false);
  } finally {
    await context.close();
  }
});

test('cancel at consent → access_denied shown, no code exchange (RFC 6749 §4.1.2.1)', async () => {
  const { context, page, count } = await newPage();
  try {
    const before = op.snapshot();
    await page.goto(`${app}/`);
    await ready(page);
    await clickSignIn(page);
    await loginAndConsent(page, { login: 'erin', consent: false });
    await cancelAtConsent(page);
    await ready(page);
    assert.equal(await errorCode(page), 'access_denied');
    assert.match(await text(page, 'error-provider'), /access_denied/);
    assert.equal(await page.getAttribute('[data-testid="status"]', 'data-state'), 'signed-out');
    assert.equal(count('/auth/token'), 0);
    assert.equal(op.counters.token - before.token, 0);
    assert.equal(await pendingTransactions(page), 0, 'removed on every outcome');
    assert.ok(!page.url().includes('state='), 'callback params stripped');
  } finally {
    await context.close();
  }
});

test('tampered state → state_mismatch, no code exchange (RFC 6749 §10.12)', async () => {
  const { context, page, count } = await newPage();
  try {
    const before = op.snapshot();
    // Rewrite `state` in the authorization request on its way to the provider: the provider
    // then sends the browser back with a state this tab never made.
    await page.route(
      (u) => u.origin === op.issuer && u.pathname === '/auth',
      (route) => {
        const u = new URL(route.request().url());
        u.searchParams.set('state', 'tampered-' + u.searchParams.get('state').slice(9));
        return route.continue({ url: u.href });
      },
    );
    await page.goto(`${app}/`);
    await ready(page);
    await clickSignIn(page);
    await loginAndConsent(page, { login: 'frank' });
    await ready(page);
    assert.equal(await errorCode(page), 'state_mismatch');
    assert.equal(count('/auth/token'), 0);
    assert.equal(op.counters.token - before.token, 0);
    assert.equal(await pendingTransactions(page), 0);
  } finally {
    await context.close();
  }
});

test('reloading the callback URL after sign-in → no second exchange, still signed in', async () => {
  const { context, page, count } = await newPage();
  try {
    const { callbackUrl } = await signIn(page, { login: 'grace' });
    assert.equal(count('/auth/token'), 1);
    const codes = op.counters.tokenAuthorizationCode;
    await page.goto(callbackUrl);
    await ready(page);
    assert.equal(await errorCode(page), 'transaction_missing');
    assert.equal(count('/auth/token'), 1, 'the code is not sent again');
    assert.equal(op.counters.tokenAuthorizationCode, codes);
    // The backend session (refresh cookie) still stands.
    assert.equal(await page.getAttribute('[data-testid="status"]', 'data-state'), 'signed-in');
    assert.equal(page.url(), `${app}/`);
  } finally {
    await context.close();
  }
});

test('callback after the transaction expired → transaction_expired, no exchange', async () => {
  const { context, page, count } = await newPage();
  try {
    // On the callback page, before the SPA runs: age the stored transaction by 11 minutes.
    await context.addInitScript(() => {
      if (location.pathname !== '/callback') return;
      for (const k of Object.keys(sessionStorage)) {
        if (!k.startsWith('authsplit.tx.')) continue;
        const t = JSON.parse(sessionStorage.getItem(k));
        t.createdAt -= 11 * 60 * 1000;
        sessionStorage.setItem(k, JSON.stringify(t));
      }
    });
    const before = op.snapshot();
    await signIn(page, { login: 'heidi', onCallback: true });
    await ready(page);
    assert.equal(await errorCode(page), 'transaction_expired');
    assert.equal(count('/auth/token'), 0);
    assert.equal(op.counters.token - before.token, 0);
    assert.equal(await pendingTransactions(page), 0);
    assert.equal(await page.getAttribute('[data-testid="status"]', 'data-state'), 'signed-out');
  } finally {
    await context.close();
  }
});

test('returnTo //evil.example is refused before leaving the page (SECURITY.md B9)', async () => {
  const { context, page, count } = await newPage();
  try {
    const before = op.snapshot();
    await page.goto(`${app}/?returnTo=${encodeURIComponent('//evil.example')}`);
    await ready(page);
    await page.click('[data-testid="sign-in-local"]');
    assert.equal(await errorCode(page), 'invalid_return_to');
    assert.equal(new URL(page.url()).origin, app, 'never left the SPA');
    assert.equal(count('/auth/transactions'), 0);
    assert.equal(op.counters.authorization - before.authorization, 0);
    assert.equal(await pendingTransactions(page), 0);
  } finally {
    await context.close();
  }
});

test('returnTo: a same-origin path is honoured; a tampered stored one is not', async () => {
  const { context, page } = await newPage();
  try {
    await signIn(page, { path: '/?returnTo=/account%3Ftab%3D1', login: 'ivan' });
    assert.equal(page.url(), `${app}/account?tab=1`);
  } finally {
    await context.close();
  }
  const second = await newPage();
  try {
    // Script on the origin rewrites the stored returnTo: re-checked after the exchange.
    await second.context.addInitScript(() => {
      if (location.pathname !== '/callback') return;
      for (const k of Object.keys(sessionStorage)) {
        if (!k.startsWith('authsplit.tx.')) continue;
        const t = JSON.parse(sessionStorage.getItem(k));
        t.returnTo = '//evil.example/steal';
        sessionStorage.setItem(k, JSON.stringify(t));
      }
    });
    await signIn(second.page, { login: 'judy' });
    assert.equal(second.page.url(), `${app}/`);
  } finally {
    await second.context.close();
  }
});


test('redirect_uri is the configured constant, never derived from location (SECURITY.md B8)', async () => {
  const { context, page } = await newPage();
  try {
    const authRequests = [];
    page.on('request', (r) => {
      // The authorization endpoint itself (not the provider's own /auth/<uid> resume steps).
      const u = new URL(r.url());
      if (r.isNavigationRequest() && u.origin === new URL(op.issuer).origin && u.pathname === '/auth') {
        authRequests.push(r.url());
      }
    });
    // The SPA is opened at another path, with a query and fragment that name a different
    // redirect URI: none of it may leak into the authorization request (RFC 6749 §3.1.2,
    // RFC 9700 §4.1).
    const evil = 'http://127.0.0.1:1/evil-callback';
    await signIn(page, {
      path: `/some/deep/page?redirect_uri=${encodeURIComponent(evil)}&returnTo=/x#redirect_uri=${evil}`,
      login: 'kim',
    });
    assert.equal(authRequests.length, 1, 'exactly one authorization request');
    const auth = new URL(authRequests[0]);
    assert.deepEqual(auth.searchParams.getAll('redirect_uri'), [`${app}/callback`]);
    assert.ok(!authRequests[0].includes('evil'), 'nothing from location reached the provider');
    // Opened under another origin name (localhost instead of 127.0.0.1): the request still
    // names the configured URI, not one built from location.origin.
    authRequests.length = 0;
    const other = app.replace('127.0.0.1', 'localhost');
    await page.goto(`${other}/`);
    await ready(page);
    await clickSignIn(page);
    assert.equal(authRequests.length, 1);
    assert.deepEqual(new URL(authRequests[0]).searchParams.getAll('redirect_uri'), [`${app}/callback`]);
  } finally {
    await context.close();
  }
});
test('provider error text is shown as text, never as HTML (SECURITY.md B5)', async () => {
  const { context, page, count } = await newPage();
  try {
    let authState = null;
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.origin === op.issuer && u.pathname === '/auth') authState = u.searchParams.get('state');
    });
    await page.goto(`${app}/`);
    await ready(page);
    await clickSignIn(page);
    assert.ok(authState, 'saw the authorization request');
    // At the provider: instead of logging in, come back with an error response for this very
    // transaction (its real state, the real issuer) whose error_description carries markup.
    const payload = '<img src=x onerror="window.__xss=1">denied <b>bold</b>';
    const cb = new URL(`${app}/callback`);
    cb.searchParams.set('error', 'access_denied');
    cb.searchParams.set('error_description', payload);
    cb.searchParams.set('state', authState);
    cb.searchParams.set('iss', op.issuer);
    await page.goto(cb.href);
    await ready(page);
    assert.equal(await errorCode(page), 'access_denied');
    assert.equal(await text(page, 'error-provider'), `The provider said: access_denied: ${payload}`);
    const markup = page.locator('[data-testid="error"] img, [data-testid="error"] b');
    assert.equal(await markup.count(), 0);
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.equal(count('/auth/token'), 0);
    assert.equal(await pendingTransactions(page), 0);
  } finally {
    await context.close();
  }
});

test('the code leaves the address bar before the callback page makes any request; no Referer carries it; Referrer-Policy: no-referrer on all the server serves (RFC 9700 §4.2)', async () => {
  const { context, page } = await newPage();
  try {
    // On the callback page, before any of its scripts: note the address bar at every fetch
    // (the wasm module, GET /auth/config, POST /auth/token, …).
    await context.addInitScript(() => {
      if (location.pathname !== '/callback') return;
      const real = window.fetch;
      window.__fetchedAt = [];
      window.fetch = function (input, init) {
        window.__fetchedAt.push({ url: String(input instanceof Request ? input.url : input), at: location.href });
        return real.call(this, input, init);
      };
    });
    const requests = [];
    const responses = [];
    page.on('request', (r) => requests.push({ url: r.url(), referer: r.headers().referer ?? null }));
    page.on('response', (r) => {
      if (new URL(r.url()).origin === app) responses.push({ url: r.url(), policy: r.headers()['referrer-policy'] });
    });
    const { callbackUrl } = await signIn(page, { login: 'leo' });
    const code = new URL(callbackUrl).searchParams.get('code');
    assert.ok(code);
    const fetched = await page.evaluate(() => window.__fetchedAt);
    const paths = fetched.map((f) => new URL(f.url, app).pathname);
    assert.ok(paths.includes('/auth/config') && paths.includes('/auth/token'), JSON.stringify(paths));
    assert.ok(paths.some((p) => p.endsWith('.wasm')), `the wasm module was fetched on the callback page: ${paths}`);
    for (const f of fetched) {
      assert.ok(!f.at.includes(code) && !/[?&](code|state|iss)=/.test(f.at), `the address bar still had the callback at ${f.url}: ${f.at}`);
    }
    const fromCallback = requests.slice(requests.findIndex((r) => r.url === callbackUrl));
    assert.ok(fromCallback.length > 3, JSON.stringify(fromCallback));
    for (const r of fromCallback) {
      assert.ok(!(r.referer ?? '').includes(code), `Referer of ${r.url} carries the code: ${r.referer}`);
    }
    // Everything the server sent: the pages, scripts, styles, wasm, /auth/* and /api/*.
    const kinds = new Set(responses.map((r) => new URL(r.url).pathname.split('/')[1] || 'index'));
    assert.ok(['index', 'callback', 'authsplit', 'auth'].every((k) => kinds.has(k)), [...kinds].join());
    for (const r of responses) assert.equal(r.policy, 'no-referrer', r.url);
  } finally {
    await context.close();
  }
});

test('client.fetch never follows a redirect with the bearer token: typed error, the target sees nothing (RFC 6750 §5.3)', async () => {
  // Two API origins on loopback: `api` answers every GET with a redirect — to `other` (another
  // origin) or to its own /landing — and CORS for the SPA; `/landing` on either records callers.
  const landed = [];
  const cors = { 'access-control-allow-origin': app, 'access-control-allow-headers': 'authorization', 'access-control-allow-methods': 'GET' };
  const serve = (handler) => {
    const s = createHttpServer((req, res) => {
      if (req.method === 'OPTIONS') return res.writeHead(204, cors).end();
      handler(req, res);
    });
    s.listen(0, '127.0.0.1');
    return s;
  };
  const landing = (name) => (req, res) => {
    if (req.url.startsWith('/landing')) {
      landed.push({ name, authorization: req.headers.authorization ?? null });
      return res.writeHead(200, cors).end('landed');
    }
    return null;
  };
  const other = serve((req, res) => landing('other')(req, res) ?? res.writeHead(404, cors).end());
  await once(other, 'listening');
  const otherUrl = `http://127.0.0.1:${other.address().port}`;
  const api = serve((req, res) => {
    if (landing('api')(req, res) !== null) return;
    const to = req.url === '/moved-away' ? `${otherUrl}/landing` : '/landing';
    res.writeHead(302, { ...cors, location: to }).end();
  });
  await once(api, 'listening');
  const apiUrl = `http://127.0.0.1:${api.address().port}`;
  // The example SPA's CSP allows only its own origin in connect-src.
  const context = await newLoopbackContext(browser, { bypassCSP: true });
  try {
    const page = await context.newPage();
    await signIn(page, { login: 'mallory' });
    const out = await page.evaluate(async (apiOrigin) => {
      const { AuthClient } = await import('/authsplit/index.js');
      const c = new AuthClient({ backendUrl: '/auth', provider: 'local', apiOrigins: [apiOrigin] });
      const r = [];
      for (const path of ['/moved-away', '/moved-here']) {
        try {
          const res = await c.fetch(apiOrigin + path);
          r.push(`resolved ${res.status}`);
        } catch (e) {
          r.push(e.code ?? String(e));
        }
      }
      const ok = await c.fetch(apiOrigin + '/landing');
      r.push(`${ok.status} ${await ok.text()}`);
      return r;
    }, apiUrl);
    assert.deepEqual(out, ['configuration', 'configuration', '200 landed']);
    // Only the direct call landed; no redirect was followed, with or without the token.
    assert.equal(landed.length, 1, JSON.stringify(landed));
    assert.equal(landed[0].name, 'api');
    assert.match(landed[0].authorization, /^Bearer \S+$/);
  } finally {
    await context.close();
    api.close();
    other.close();
  }
});
