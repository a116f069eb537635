// The application's own API in another language (a Python stdlib server) behind the real
// authsplit-server binary's `[upstream]` forwarder (docs/SECURITY.md S19): after a real sign-in
// at oidc-provider in Chromium, the upstream learns the user from the headers the backend adds;
// whatever identity the client claims is dropped, and without a session nothing reaches it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { startOP } from '../support/op.mjs';
import { startServer, opServerConfig } from '../support/server.mjs';
import { launchBrowser, signInThroughBackend, startCallbackCatcher } from '../support/browser.mjs';

let op;
let catcher;
let srv;
let browser;
let spaOrigin;
let upstream;

async function startUpstream() {
  const script = fileURLToPath(new URL('../support/echo-upstream.py', import.meta.url));
  const child = spawn('python3', [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const port = await Promise.race([
    new Promise((resolve) => lines.once('line', (l) => resolve(Number(l.split(' ')[1])))),
    once(child, 'exit').then(() => {
      throw new Error('the Python upstream exited');
    }),
  ]);
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  };
}

before(async () => {
  upstream = await startUpstream();
  catcher = await startCallbackCatcher();
  spaOrigin = new URL(catcher.redirectUri).origin;
  op = await startOP({ redirectUris: [catcher.redirectUri] });
  const config = opServerConfig({ op, redirectUri: catcher.redirectUri, spaOrigin });
  config.upstream = { url: `${upstream.url}/api`, path: '/app' };
  srv = await startServer({ config });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await srv?.close();
  await op?.close();
  await catcher?.close();
  await upstream?.close();
});

async function signIn(login) {
  const { c } = await signInThroughBackend({
    browser,
    catcher,
    authUrl: srv.authUrl,
    origin: spaOrigin,
    login,
    keepContext: false,
  });
  return c;
}

const appFetch = (path, { jar, headers = {}, method = 'GET', body } = {}) =>
  fetch(`${srv.url}/app${path}`, {
    method,
    body,
    headers: { ...(jar ? { cookie: jar.header() } : {}), ...headers },
  });

test('the upstream learns the signed-in user from the backend, never from the client', async () => {
  const c = await signIn('py-user');
  const r = await appFetch('/orders?page=2', {
    jar: c.jar,
    headers: { 'x-auth-request-user': 'admin', authorization: 'Bearer forged' },
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('set-cookie'), null, "the upstream's cookies do not pass");
  const seen = await r.json();
  assert.equal(seen.path, '/api/orders?page=2');
  assert.equal(seen.user, 'basic:py-user');
  assert.deepEqual(seen.users, ['basic:py-user'], 'the forged header was dropped');
  assert.equal(seen.email, 'py-user@example.test');
  assert.equal(seen.provider, 'basic');
  assert.equal(seen.cookie, null);
  assert.equal(seen.authorization, null);

  // A write needs the CSRF header and an allowed Origin.
  const w = await appFetch('/orders', {
    jar: c.jar,
    method: 'POST',
    body: '{"item":"tea"}',
    headers: { 'content-type': 'application/json', origin: spaOrigin, 'x-authsplit': '1' },
  });
  assert.equal(w.status, 200);
  assert.equal((await w.json()).body, '{"item":"tea"}');
  const count = (await (await appFetch('/count', { jar: c.jar })).json()).seen;

  for (const [name, path, opts] of [
    ['no session', '/orders', {}],
    ['forged identity without a session', '/orders', { headers: { 'x-auth-request-user': 'admin' } }],
    ['encoded dot-dot out of the base', '/orders%2F..%2F..%2Fsecret', { jar: c.jar }],
    ['write without the CSRF header', '/orders', { jar: c.jar, method: 'POST', body: 'x', headers: { origin: spaOrigin } }],
  ]) {
    const r2 = await appFetch(path, opts);
    assert.ok(r2.status >= 400 && r2.status < 500, `${name}: ${r2.status}`);
  }
  const after = (await (await appFetch('/count', { jar: c.jar })).json()).seen;
  assert.equal(after, count + 1, 'no refused request reached the upstream (only the count call did)');
});
