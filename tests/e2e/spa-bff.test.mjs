// The example SPA (web/example, unchanged) against the real authsplit-server binary in BFF mode
// (`[server] mode = "bff"`; docs/ARCHITECTURE.md "Two modes") and the real oidc-provider, in
// headless Chromium: sign-in, the protected API through client.fetch, a reload, sign-out — and
// no access token ever reaches the page (docs/SECURITY.md S19).

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';

import { startOP } from '../support/op.mjs';
import { startExampleApp } from '../support/server.mjs';
import { launchBrowser, newLoopbackContext, loginAndConsent, signOutOnSpa } from '../support/browser.mjs';

let op;
let srv;
let browser;
let app;

before(async () => {
  op = await startOP();
  let callback, signedOut;
  ({ app, srv, callback, signedOut } = await startExampleApp({ op, server: { mode: 'bff' } }));
  op.setRedirectUris([callback], { postLogout: [signedOut] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await srv?.close();
  await op?.close();
});

test('BFF mode: sign in, call the API, reload, sign out — no access token ever reaches the page', async () => {
  const context = await newLoopbackContext(browser);
  const page = await context.newPage();
  /** Every body the page received from the backend. */
  const bodies = [];
  const apiCalls = [];
  page.on('response', async (r) => {
    const u = new URL(r.url());
    if (u.origin !== app || !(u.pathname.startsWith('/auth/') || u.pathname.startsWith('/api/'))) return;
    try {
      bodies.push(await r.text());
    } catch {}
  });
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/hello') apiCalls.push(r.headers());
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(`${app}/`);
    await page.waitForSelector('body[data-ready="true"]');
    await Promise.all([
      page.waitForURL((u) => u.origin === op.issuer, { waitUntil: 'commit', timeout: 15000 }),
      page.click('[data-testid="sign-in-local"]'),
    ]);
    await loginAndConsent(page, { login: 'bff-user' });
    await page.waitForSelector('[data-testid="status"][data-state="signed-in"]', { timeout: 15000 });
    assert.match(await page.locator('[data-testid="user-name"]').textContent(), /Test User bff-user/);

    // The protected API through client.fetch: the session cookie and the CSRF header, no token.
    const callApi = async () => {
      await page.click('[data-testid="call-api"]');
      await page.waitForSelector('[data-testid="api-result"][data-status]');
      return page.getAttribute('[data-testid="api-result"]', 'data-status');
    };
    assert.equal(await callApi(), '200');
    assert.match(await page.locator('[data-testid="api-result"]').textContent(), /Hello, Test User bff-user/);
    assert.equal(apiCalls.at(-1).authorization, undefined, 'no Authorization header from the page');
    assert.equal(apiCalls.at(-1)['x-authsplit'], '1');

    // A reload: the user is shown again, and the API still answers.
    await page.reload();
    await page.waitForSelector('[data-testid="status"][data-state="signed-in"]', { timeout: 15000 });
    await page.evaluate(() => {
      const el = document.querySelector('[data-testid="api-result"]');
      delete el.dataset.status;
    });
    assert.equal(await callApi(), '200');

    // No access token or refresh token the provider issued was ever in a body the page read.
    const issued = op.tokenCalls.flatMap((c) => [c.accessToken, c.refreshToken]).filter(Boolean);
    assert.ok(issued.length >= 1);
    for (const t of issued) {
      assert.ok(!bodies.some((b) => b.includes(t)), 'a provider token reached the page');
    }

    // Sign out: the session ends; a reload stays signed out.
    await signOutOnSpa(page);
    await page.waitForSelector('[data-testid="status"][data-state="signed-out"]', { timeout: 15000 });
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.getAttribute('[data-testid="status"]', 'data-state'), 'signed-out');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
