// OIDC Back-Channel Logout 1.0 and RP-Initiated Logout 1.0 end to end: the real oidc-provider (its `backchannelLogout`
// feature) posts a logout token to the real authsplit-server binary when the user signs out at
// the provider, and the session it names ends at once (docs/SECURITY.md S18). Forged tokens the
// provider never signed end nothing. Sign-in and the provider's own logout run in Chromium, so
// the provider's session (and its `sid`) is the one a real user would have.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startOP, BASIC_CLIENT } from '../support/op.mjs';
import { startServer, opServerConfig } from '../support/server.mjs';
import { launchBrowser, signInThroughBackend, startCallbackCatcher } from '../support/browser.mjs';
import { randomToken } from '../support/http.mjs';

let op;
let catcher;
let srv;
let browser;
let spaOrigin;
/** Logout tokens the provider sent, as the backend answered them. */
const delivered = [];

before(async () => {
  catcher = await startCallbackCatcher();
  spaOrigin = new URL(catcher.redirectUri).origin;
  op = await startOP({
    redirectUris: [catcher.redirectUri],
    postLogoutRedirectUris: [`${spaOrigin}/`],
    backchannelLogout: true,
  });
  op.provider.on('backchannel.success', (_ctx, client) => delivered.push({ client: client.clientId, ok: true }));
  op.provider.on('backchannel.error', (_ctx, err, client) =>
    delivered.push({ client: client.clientId, ok: false, error: String(err?.message ?? err), cause: String(err?.cause ?? '') }),
  );
  const config = opServerConfig({
    op,
    redirectUri: catcher.redirectUri,
    spaOrigin,
    server: { demo_api: true },
  });
  config.providers.basic.post_logout_redirect_uri = `${spaOrigin}/`;
  srv = await startServer({ config });
  op.setClientMetadata((id) => ({
    backchannel_logout_uri: `${srv.authUrl}/backchannel-logout/${id === BASIC_CLIENT.id ? 'basic' : 'post'}`,
    backchannel_logout_session_required: true,
  }));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await srv?.close();
  await op?.close();
  await catcher?.close();
});

/** Signs in through the backend in a fresh Chromium context, which keeps the provider's
 * session cookie; returns the backend client (with its session cookie) and the context. */
const signIn = () =>
  signInThroughBackend({ browser, catcher, authUrl: srv.authUrl, origin: spaOrigin, login: 'bcl-user' });

/** `GET /api/me` with the browser's session cookie: the host route's `AuthUser` extractor. */
async function me(c) {
  const r = await fetch(`${srv.url}/api/me`, {
    headers: { cookie: c.jar.header(), origin: spaOrigin },
  });
  return { status: r.status, json: await r.json() };
}

/** Whether the backend session still refreshes: 200 alive, 401 ended. */
async function alive(c) {
  const r = await c.post('/refresh', {});
  assert.ok([200, 401].includes(r.status), `${r.status} ${r.text}`);
  return r.status === 200;
}

test('signing out at the provider ends the backend session through a logout token', async () => {
  const a = await signIn();
  const b = await signIn();
  try {
    assert.ok(await alive(a.c), 'signed in');
    const before401 = await me(a.c);
    assert.equal(before401.status, 200, JSON.stringify(before401.json));
    assert.equal(before401.json.subject, 'bcl-user', 'the host route knows the user from the session');
    assert.ok(await alive(b.c), 'signed in (another browser)');
    const before = delivered.length;
    // RP-initiated logout at the provider, in the browser that holds its session.
    const end = new URL(`${op.issuer}/session/end`);
    end.searchParams.set('client_id', BASIC_CLIENT.id);
    await a.page.goto(end.href);
    await Promise.all([
      a.page.waitForURL((u) => !u.pathname.startsWith('/session/end') || u.pathname.includes('success'), {
        timeout: 15000,
      }),
      a.page.locator('button[name=logout][value=yes]').click(),
    ]);
    const deadline = Date.now() + 10000;
    while (delivered.length === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(delivered.slice(before), [{ client: BASIC_CLIENT.id, ok: true }]);
    assert.equal(await alive(a.c), false, 'the provider session ended → the backend session ended');
    const after = await me(a.c);
    assert.equal(after.status, 401);
    assert.equal(after.json.error, 'session_ended', 'ended by the provider, not merely absent');
    assert.equal(await alive(b.c), true, 'the other browser keeps its session');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('logout tokens the provider did not sign, or that were tampered with, end nothing', async () => {
  const s = await signIn();
  try {
    const send = (token) =>
      fetch(`${srv.authUrl}/backchannel-logout/basic`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }),
      });
    const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: op.issuer,
      aud: BASIC_CLIENT.id,
      iat: now,
      exp: now + 120,
      jti: randomToken(),
      sub: 'bcl-user',
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    };
    for (const [name, token] of [
      ['alg none', `${b64({ alg: 'none' })}.${b64(claims)}.`],
      ['RS256 with a made-up signature', `${b64({ alg: 'RS256', kid: 'x' })}.${b64(claims)}.${'A'.repeat(342)}`],
      ['not a JWT', 'x'],
    ]) {
      const r = await send(token);
      assert.equal(r.status, 400, name);
      assert.equal((await r.json()).error, 'invalid_request', name);
    }
    assert.ok(await alive(s.c), 'nothing ended');
  } finally {
    await s.context.close();
  }
});

test('RP-initiated logout: id_token_hint, the registered post-logout redirect and state come back from the provider', async () => {
  const s = await signIn();
  try {
    const idToken = op.tokenCalls.at(-1).idToken;
    const out = await s.c.post('/logout', {});
    assert.equal(out.status, 200, out.text);
    const esu = new URL(out.json.end_session_url);
    assert.equal(`${esu.origin}${esu.pathname}`, `${op.issuer}/session/end`);
    assert.equal(esu.searchParams.get('id_token_hint'), idToken, 'the session\'s own ID token');
    assert.equal(esu.searchParams.get('post_logout_redirect_uri'), `${spaOrigin}/`);
    const state = esu.searchParams.get('state');
    assert.match(state ?? '', /^[A-Za-z0-9_-]{24}$/);
    await s.page.goto(esu.href);
    await Promise.all([
      s.page.waitForURL((u) => u.origin === spaOrigin, { timeout: 15000, waitUntil: 'commit' }),
      s.page.locator('button[name=logout][value=yes]').click(),
    ]);
    const back = new URL(s.page.url());
    assert.equal(`${back.origin}${back.pathname}`, `${spaOrigin}/`);
    assert.equal(back.searchParams.get('state'), state, 'the provider hands the state back (§3)');
  } finally {
    await s.context.close();
  }
});
