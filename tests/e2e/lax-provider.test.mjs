// Against an authorization server this project did not write: the npm package
// `oauth2-mock-server` (a devDependency), started in-process on 127.0.0.1. It is lax and its
// metadata is imperfect — discovery lists `token_endpoint_auth_methods_supported: ["none"]`
// although its token endpoint takes client secrets — so it checks that an explicitly configured
// `client_auth` wins over discovery (with a start-up warning) and that a full journey works with
// a provider whose behaviour nobody here chose: sign-in in headless Chromium through the example
// SPA (web/example), a refresh through the session cookie (a reload of the SPA), and sign-out
// with RFC 7009 revocation.
//
//   scripts/build-web.sh && cargo build -p authsplit-server
//   node --test tests/e2e/lax-provider.test.mjs

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { OAuth2Server } from 'oauth2-mock-server';

import { startOnFreePort, REPO_ROOT } from '../support/server.mjs';
import { launchBrowser, newLoopbackContext, signOutOnSpa } from '../support/browser.mjs';

const DIST = join(REPO_ROOT, 'web', 'example', 'dist');
const CLIENT_ID = 'lax-client';
const CLIENT_SECRET = 'lax-secret-0123456789';

let mock;
let srv;
let browser;
let app;
/** Token-endpoint requests the mock answered: { grant, authorization, body }. */
const tokenRequests = [];
/** Revocation requests the mock answered: { token, authorization }. */
const revocations = [];

before(async () => {
  if (!existsSync(join(DIST, 'index.html'))) {
    throw new Error(`${DIST} missing: run scripts/build-web.sh first`);
  }
  mock = new OAuth2Server();
  await mock.issuer.keys.generate('RS256');
  await mock.start(0, '127.0.0.1');
  // The mock names itself `http://localhost:PORT` when bound to 127.0.0.1; the issuer (and so
  // every discovered endpoint) is set to the address it really listens on.
  mock.issuer.url = `http://127.0.0.1:${mock.address().port}`;
  mock.service.on('beforeResponse', (response, req) => {
    tokenRequests.push({ grant: req.body?.grant_type, authorization: req.headers.authorization, body: { ...req.body }, status: response.statusCode });
  });
  mock.service.on('beforeRevoke', (_response, req) => {
    revocations.push({ authorization: req.headers.authorization });
  });

  ({ app, srv } = await startOnFreePort((app) => ({
    config: {
      server: { static_dir: DIST },
      providers: {
        mock: {
          name: 'oauth2-mock-server',
          issuer: mock.issuer.url,
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          client_auth: 'client_secret_basic',
          redirect_uri: `${app}/callback`,
          post_logout_redirect_uri: `${app}/`,
          scopes: ['openid'],
        },
      },
    },
  })));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await srv?.close();
  await mock?.stop();
});

const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;

test('discovery lists only "none", the configured client_secret_basic is used; start-up warns that discovery disagrees', async () => {
  assert.equal(srv.running(), true);
  assert.match(srv.stderr(), /provider `mock`: discovery's token_endpoint_auth_methods_supported \(none\) does not list the configured client_auth client_secret_basic/);
  assert.ok(!srv.logs().includes(CLIENT_SECRET), 'no secret in the log');
});

test('sign-in in Chromium, a refresh through the session cookie, and sign-out with revocation', async () => {
  const context = await newLoopbackContext(browser);
  const page = await context.newPage();
  const backend = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin === app && u.pathname.startsWith('/auth/') && r.method() === 'POST') backend.push(u.pathname);
  });
  const ready = () => page.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
  try {
    // Sign-in: the mock authorizes at once and redirects back with code + state.
    await page.goto(`${app}/`);
    await ready();
    const button = page.locator('[data-testid="sign-in-mock"]');
    assert.equal(await button.textContent(), 'Sign in with oauth2-mock-server');
    const codeGrants = () => tokenRequests.filter((t) => t.grant === 'authorization_code');
    await button.click();
    await page.waitForSelector('[data-testid="status"][data-state="signed-in"]', { timeout: 15000 });
    assert.equal(page.url(), `${app}/`, 'code and state left the address bar');
    assert.equal(await page.locator('[data-testid="user-name"]').textContent(), 'johndoe');
    assert.equal(codeGrants().length, 1, 'one code exchange');
    const [exchange] = codeGrants();
    assert.equal(exchange.status, 200);
    assert.equal(exchange.authorization, basic, 'client_secret_basic as configured, not discovery\'s "none"');
    assert.equal(exchange.body.client_secret, undefined, 'one client authentication method');
    assert.match(exchange.body.code_verifier ?? '', /^[A-Za-z0-9._~-]{43,128}$/, 'PKCE verifier sent (the mock checks it against the S256 challenge)');

    // Refresh: a reload restores the session through POST /auth/refresh (the refresh token is
    // in the backend's cookie only).
    const refreshesBefore = tokenRequests.filter((t) => t.grant === 'refresh_token').length;
    await page.reload();
    await ready();
    assert.equal(await page.getAttribute('[data-testid="status"]', 'data-state'), 'signed-in');
    const refreshes = tokenRequests.filter((t) => t.grant === 'refresh_token').slice(refreshesBefore);
    assert.equal(refreshes.length, 1, 'one upstream refresh');
    assert.equal(refreshes[0].authorization, basic);
    assert.ok(backend.includes('/auth/refresh'));

    // Sign-out: the backend revokes the refresh token at the mock (RFC 7009).
    const revBefore = revocations.length;
    await signOutOnSpa(page);
    await page.waitForSelector('[data-testid="status"][data-state="signed-out"]', { timeout: 15000 });
    assert.equal(revocations.length - revBefore, 1, 'one revocation');
    assert.equal(revocations.at(-1).authorization, basic);
    const href = await page.getAttribute('#end-session-link', 'href');
    assert.ok(href?.startsWith(`${mock.issuer.url}/endsession?`), href);
    // Signed out for good: a reload finds no session.
    await page.reload();
    await ready();
    assert.equal(await page.getAttribute('[data-testid="status"]', 'data-state'), 'signed-out');
    assert.ok(!srv.logs().includes(CLIENT_SECRET), 'no secret in the log');
  } finally {
    await context.close();
  }
});
