// Server-side sessions beyond one sign-in (issue 13), against the real binary: an ID token that
// comes with a refresh must be the session's user's (OIDC Core §12.2), at a fault-injecting
// OpenID provider (tests/support/faulty-provider.mjs with ID tokens) that can put any claim into
// it; cookie key rotation across restarts on the embedded store. Upstream calls are counted at
// the provider.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startFaultyProvider } from '../support/faulty-provider.mjs';
import { startServer, randomCookieKey } from '../support/server.mjs';
import { backendClient, CookieJar, pkcePair, randomToken } from '../support/http.mjs';

const SPA = 'http://127.0.0.1:5173';
const CLIENT_ID = 'sess-client';

/** Polls `cond` every 20 ms for at most 3 s; whether it became true. */
async function waitFor(cond) {
  for (let i = 0; i < 150; i++) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/**
 * A whole OpenID sign-in at `fp` through `srv` (nonce and all): the authorization request is
 * followed by hand (the provider auto-approves), the code redeemed with POST /token.
 */
async function signIn(srv, provider, jar = new CookieJar()) {
  const c = backendClient(srv.authUrl, { origin: SPA, jar });
  const { verifier, challenge } = pkcePair();
  const state = randomToken();
  const t = await c.post('/transactions', { provider, state, code_challenge: challenge, code_challenge_method: 'S256', nonce: randomToken() });
  assert.equal(t.status, 201, t.text);
  const back = await fetch(t.json.authorization_url, { redirect: 'manual' });
  const code = new URL(back.headers.get('location')).searchParams.get('code');
  assert.ok(code, 'the provider answered with a code');
  const r = await c.post('/token', { provider, code, state, code_verifier: verifier });
  assert.equal(r.status, 200, r.text);
  return { c, reply: r.json };
}

describe('refreshed ID tokens (OIDC Core §12.2) at a fault-injecting OpenID provider', () => {
  let fp;
  let srv;
  before(async () => {
    fp = await startFaultyProvider({ idTokens: { clientId: CLIENT_ID } });
    srv = await startServer({
      config: {
        server: { listen: '127.0.0.1:0', allowed_origins: [SPA], cookie_key: randomCookieKey() },
        store: { url: 'memory:' },
        providers: {
          op: { issuer: fp.url, client_id: CLIENT_ID, client_secret: `s-${randomToken(8)}`, redirect_uri: `${SPA}/callback` },
        },
      },
    });
  });
  after(async () => {
    await srv?.close();
    await fp?.close();
  });

  test('an ID token for the session\'s user is validated and taken: the refresh answers 200', async () => {
    const { c, reply } = await signIn(srv, 'op');
    assert.equal(reply.id_token_claims.sub, 'fp-user-1');
    fp.reset();
    const r = await c.post('/refresh', {});
    assert.equal(r.status, 200, r.text);
    const [call] = fp.tokenCalls('refresh_token');
    assert.ok(call, 'one upstream refresh');
    const again = await c.post('/refresh', {});
    assert.equal(again.status, 200, 'the session took the rotated refresh token');
    // The sign-in fetched the key set; both refreshed ID tokens are checked with the cached one.
    assert.equal(fp.calls.filter((x) => x.endpoint === 'jwks').length, 0, 'no key set fetch for a refresh');
  });

  const now = () => Math.floor(Date.now() / 1000);
  for (const [what, claims] of [
    ['another sub', { sub: 'someone-else' }],
    ['another iss', { iss: 'http://127.0.0.1:9/another-issuer' }],
    ['an aud without this client', { aud: 'another-client' }],
    ['an expired one', { exp: now() - 3600, iat: now() - 7200 }],
    ['a nonce the session never had', { nonce: 'a-nonce-from-elsewhere' }],
  ]) {
    test(`a refreshed ID token with ${what} → 502 invalid_id_token; the session is not updated and what the refresh produced is revoked`, async () => {
      const { c } = await signIn(srv, 'op');
      const held = fp.issued.refresh.at(-1);
      fp.reset();
      fp.setFault({ name: 'ok', idTokenClaims: claims });
      const r = await c.post('/refresh', {});
      fp.setFault('ok');
      assert.equal(r.status, 502, r.text);
      assert.equal(r.json.error, 'invalid_id_token');
      const produced = fp.issued.refresh.at(-1);
      assert.notEqual(produced, held, 'the provider rotated the refresh token');
      assert.ok(await waitFor(() => !fp.refreshTokenIsActive(produced)), 'the rotated refresh token is revoked');
      assert.equal(fp.tokenCalls('refresh_token')[0].form.refresh_token, held);
      // Not updated: the record still holds the refresh token it had, so another refresh is the
      // same flight (same token, RFC 9700 §4.14.2) and gets the same answer, sending nothing.
      const next = await c.post('/refresh', {});
      assert.equal(next.status, 502, next.text);
      assert.equal(next.json.error, 'invalid_id_token');
      assert.equal(fp.tokenCalls('refresh_token').length, 1, 'nothing sent upstream');
    });
  }
});

describe('cookie key rotation across restarts of the binary (embedded SQLite store)', () => {
  let fp;
  let dir;
  before(async () => {
    fp = await startFaultyProvider();
    dir = await mkdtemp(join(tmpdir(), 'authsplit-keys-'));
  });
  after(async () => {
    await fp?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const A = randomCookieKey();
  const B = randomCookieKey();
  const start = (keys) =>
    startServer({
      config: {
        server: { listen: '127.0.0.1:0', allowed_origins: [SPA], ...keys },
        store: { url: 'sqlite:', data_dir: dir },
        providers: {
          fp: { client_id: 'keys-client', client_secret: `s-${randomToken(8)}`, redirect_uri: `${SPA}/callback`, authorization_endpoint: fp.authorizationEndpoint, token_endpoint: fp.tokenEndpoint },
        },
      },
    });

  test('signed in under key A; restarted with cookie_keys = [B, A] still signed in (the cookie re-sealed with B); restarted with [B] the A cookie is signed out with a typed answer, no panic', async () => {
    let srv = await start({ cookie_key: A });
    const jar = new CookieJar();
    let old;
    try {
      const c = backendClient(srv.authUrl, { origin: SPA, jar });
      const { verifier, challenge } = pkcePair();
      const state = randomToken();
      assert.equal((await c.post('/transactions', { provider: 'fp', state, code_challenge: challenge, code_challenge_method: 'S256' })).status, 201);
      const t = await c.post('/token', { provider: 'fp', code: `code-${randomToken()}`, state, code_verifier: verifier });
      assert.equal(t.status, 200, t.text);
      old = jar.clone();
    } finally {
      await srv.close();
    }
    srv = await start({ cookie_keys: [B, A] });
    try {
      const c = backendClient(srv.authUrl, { origin: SPA, jar });
      const s = await c.get('/session');
      assert.equal(s.status, 200, s.text);
      assert.equal(s.json.authenticated, true, 'still signed in under [B, A]');
      const r = await c.post('/refresh', {});
      assert.equal(r.status, 200, r.text);
      assert.ok(r.headers.getSetCookie().some((h) => h.startsWith('__Host-authsplit-session=') && !/Max-Age=0/i.test(h)), 're-sealed with B');
    } finally {
      await srv.close();
    }
    srv = await start({ cookie_keys: [B] });
    try {
      const resealed = backendClient(srv.authUrl, { origin: SPA, jar });
      assert.equal((await resealed.get('/session')).json.authenticated, true, 'the re-sealed cookie opens under [B]');
      const stale = backendClient(srv.authUrl, { origin: SPA, jar: old.clone() });
      const s = await stale.get('/session');
      assert.equal(s.status, 200, s.text);
      assert.deepEqual(s.json, { authenticated: false, user: null, expiresAt: null });
      fp.reset();
      const r = await stale.post('/refresh', {});
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json.error, 'not_authenticated');
      assert.equal(fp.count('token'), 0, 'nothing sent upstream');
      assert.doesNotMatch(srv.logs(), /panick/);
    } finally {
      await srv.close();
    }
  });

  test('cookie_key and cookie_keys together: the binary refuses to start and names both keys', async () => {
    await assert.rejects(start({ cookie_key: A, cookie_keys: [B] }), /cookie_key and server\.cookie_keys are both set/);
  });
});

describe('the binary without [store]: the embedded SQLite store next to its configuration', () => {
  test('a session survives a restart of the default-config binary; a logout stays final across it', async () => {
    const fp = await startFaultyProvider();
    const dir = await mkdtemp(join(tmpdir(), 'authsplit-default-'));
    const config = {
      server: { listen: '127.0.0.1:0', allowed_origins: [SPA], cookie_key: randomCookieKey() },
      providers: {
        fp: { client_id: 'default-client', client_secret: `s-${randomToken(8)}`, redirect_uri: `${SPA}/callback`, authorization_endpoint: fp.authorizationEndpoint, token_endpoint: fp.tokenEndpoint },
      },
    };
    let srv = await startServer({ config, dir });
    try {
      assert.match(srv.logs(), /session store opened backend="sqlite"/);
      assert.doesNotMatch(srv.logs(), /no \[store\] url/);
      const sign = async () => {
        const c = backendClient(srv.authUrl, { origin: SPA, jar: new CookieJar() });
        const { verifier, challenge } = pkcePair();
        const state = randomToken();
        assert.equal((await c.post('/transactions', { provider: 'fp', state, code_challenge: challenge, code_challenge_method: 'S256' })).status, 201);
        const t = await c.post('/token', { provider: 'fp', code: `code-${randomToken()}`, state, code_verifier: verifier });
        assert.equal(t.status, 200, t.text);
        return c.jar;
      };
      const live = await sign();
      const ended = await sign();
      const endedCopy = ended.clone();
      assert.equal((await backendClient(srv.authUrl, { origin: SPA, jar: ended }).post('/logout', {})).status, 200);
      await srv.close();
      srv = await startServer({ config, dir });
      const s = await backendClient(srv.authUrl, { origin: SPA, jar: live }).get('/session');
      assert.equal(s.json.authenticated, true, 'the session survived the restart');
      fp.reset();
      const r = await backendClient(srv.authUrl, { origin: SPA, jar: live }).post('/refresh', {});
      assert.equal(r.status, 200, r.text);
      const dead = await backendClient(srv.authUrl, { origin: SPA, jar: endedCopy }).post('/refresh', {});
      assert.equal(dead.status, 401, dead.text);
      assert.equal(fp.tokenCalls('refresh_token').length, 1, 'only the live session refreshed');
    } finally {
      await srv.close();
      await fp.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
