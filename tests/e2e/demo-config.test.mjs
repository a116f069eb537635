// The demo's pairing, without the SPA: tests/support/op-server.mjs run as a process exactly as
// scripts/demo.sh runs it, and authsplit-server with scripts/demo.toml.in filled in the same way.
// Proves the demo's provider, client, secret and scopes fit together: sign-in in Chromium, code
// exchange, userinfo, the demo API, logout — and that the provider process stops on SIGTERM.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { startServer, freePort, randomCookieKey, REPO_ROOT } from '../support/server.mjs';
import { launchBrowser, newLoopbackContext, loginAndConsent } from '../support/browser.mjs';
import { backendClient, pkcePair, randomToken } from '../support/http.mjs';

let opProc;
let opOut = '';
let srv;
let browser;
let APP;
let OP;

before(async () => {
  const [opPort, appPort] = [await freePort(), await freePort()];
  APP = `http://127.0.0.1:${appPort}`;
  OP = `http://127.0.0.1:${opPort}`;
  opProc = spawn(
    process.execPath,
    [
      'tests/support/op-server.mjs',
      ...['--port', String(opPort), '--redirect-uri', `${APP}/callback`],
      ...['--post-logout-redirect-uri', `${APP}/signed-out`],
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  opProc.stderr.on('data', (d) => {
    opOut += d;
  });
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`op-server not ready:\n${opOut}`)), 15000);
    opProc.stdout.on('data', (d) => {
      opOut += d;
      if (opOut.includes(`oidc-provider listening on ${OP}`)) {
        clearTimeout(t);
        resolve();
      }
    });
    opProc.on('exit', (code) => reject(new Error(`op-server exited (${code}):\n${opOut}`)));
  });
  const template = await readFile(join(REPO_ROOT, 'scripts', 'demo.toml.in'), 'utf8');
  const toml = template
    .replaceAll('@APP@', APP)
    .replaceAll('@OP@', OP)
    .replaceAll('@PORT@', String(appPort))
    .replaceAll('@COOKIE_KEY@', randomCookieKey());
  srv = await startServer({ configToml: toml });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await srv?.close();
  if (opProc && opProc.exitCode === null) {
    opProc.kill('SIGKILL');
    await once(opProc, 'exit');
  }
});

test('demo provider + demo config: sign in, userinfo, demo API, logout', async () => {
  const c = backendClient(srv.authUrl, { origin: APP });
  const config = await c.get('/config');
  assert.deepEqual(
    config.json.providers.map((p) => p.id),
    ['local'],
  );
  const state = randomToken();
  const nonce = randomToken();
  const { verifier, challenge } = pkcePair();
  const tx = await c.post('/transactions', {
    provider: 'local',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    nonce,
  });
  assert.equal(tx.status, 201, tx.text);
  assert.equal(new URL(tx.json.authorization_url).searchParams.get('redirect_uri'), `${APP}/callback`);

  const context = await newLoopbackContext(browser);
  let callback;
  try {
    const page = await context.newPage();
    await page.goto(tx.json.authorization_url);
    // No SPA is served here: the callback page itself 404s, but the URL is what matters.
    callback = new URL(await loginAndConsent(page, { login: 'demo-user' }));
  } finally {
    await context.close();
  }
  assert.equal(`${callback.origin}${callback.pathname}`, `${APP}/callback`);
  assert.equal(callback.searchParams.get('state'), state);
  assert.equal(callback.searchParams.get('iss'), OP);

  const r = await c.post('/token', {
    provider: 'local',
    code: callback.searchParams.get('code'),
    state,
    code_verifier: verifier,
    iss: OP,
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.user.name, 'Test User demo-user');
  assert.equal(r.json.user.id, 'local:demo-user');

  const hello = await fetch(`${APP}/api/hello`, {
    headers: { authorization: `Bearer ${r.json.access_token}` },
  });
  assert.equal(hello.status, 200);
  assert.equal((await hello.json()).message, 'Hello, Test User demo-user!');

  const refreshed = await c.post('/refresh', {});
  assert.equal(refreshed.status, 200, 'the demo config gets a refresh token (offline_access + consent)');

  const out = await c.post('/logout', {});
  assert.equal(out.status, 200, out.text);
  assert.equal(out.json.revoked, true);
  const end = new URL(out.json.end_session_url);
  assert.equal(`${end.origin}${end.pathname}`, `${OP}/session/end`);
  // The example SPA checks the state on /signed-out (OIDC RP-Initiated Logout 1.0 §3).
  assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${APP}/signed-out`);
  assert.match(end.searchParams.get('state') ?? '', /./);
});

test('op-server stops cleanly on SIGTERM', async () => {
  opProc.kill('SIGTERM');
  const [code] = await once(opProc, 'exit');
  assert.equal(code, 0);
  assert.match(opOut, /oidc-provider stopped \(SIGTERM\)/);
});
