// Integration tests of the real authsplit-server binary against the real oidc-provider, with real
// authorization codes obtained by driving the provider's login and consent pages in headless
// Chromium. Node's fetch plays the SPA (Origin + x-authsplit + a cookie jar).
//
// One OP, one server, one browser for the whole file; every process is stopped in `after`
// (and the server fixture SIGKILLs its child if this process exits).
//
// Rules checked cite docs/SECURITY.md (S: the backend rules) and the RFCs behind them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { startOP, BASIC_CLIENT, POST_CLIENT } from '../support/op.mjs';
import { startServer, opServerConfig, randomCookieKey } from '../support/server.mjs';
import {
  launchBrowser,
  newLoopbackContext,
  loginAndConsent,
  startCallbackCatcher,
} from '../support/browser.mjs';
import {
  backendClient,
  CookieJar,
  pkcePair,
  randomToken,
} from '../support/http.mjs';

const FOREIGN_ORIGIN = 'http://evil.example';

let op;
let catcher;
let srv;
let browser;
let spaOrigin;
let cookieKey;

/** Every secret value seen during the run: none may appear in a log line or a wrong place. */
const secrets = {
  codes: new Set(),
  verifiers: new Set(),
  accessTokens: new Set(),
  refreshTokens: new Set(),
  idTokens: new Set(),
};
/** Every response body the backend sent (refresh tokens must never be in one). */
const bodies = [];

before(async () => {
  catcher = await startCallbackCatcher();
  spaOrigin = new URL(catcher.redirectUri).origin;
  op = await startOP({
    redirectUris: [catcher.redirectUri],
    postLogoutRedirectUris: [`${spaOrigin}/`],
  });
  cookieKey = randomCookieKey();
  const config = opServerConfig({
    op,
    redirectUri: catcher.redirectUri,
    spaOrigin,
    server: { demo_api: true },
  });
  config.server.cookie_key = cookieKey;
  config.providers.basic.post_logout_redirect_uri = `${spaOrigin}/`;
  // debug logs everywhere (our crate, tower-http, reqwest, hyper): more lines to search for
  // leaked secrets at the end of the run.
  srv = await startServer({ config, env: { RUST_LOG: process.env.AUTHSPLIT_TEST_RUST_LOG ?? 'debug' } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await srv?.close();
  await op?.close();
  await catcher?.close();
});

function client(jar) {
  const c = backendClient(srv.authUrl, { origin: spaOrigin, jar });
  // record every body for the "refresh token never in a body" check
  const wrap =
    (fn) =>
    async (...args) => {
      const r = await fn(...args);
      bodies.push(r.text);
      return r;
    };
  return { jar: c.jar, get: wrap(c.get), post: wrap(c.post) };
}

/**
 * Register a transaction with the backend (as the SPA's login() does) and return everything the
 * browser would keep. Never sends the verifier.
 */
async function registerTransaction(provider, c = client()) {
  const state = randomToken();
  const nonce = randomToken();
  const { verifier, challenge } = pkcePair();
  secrets.verifiers.add(verifier);
  const tx = await c.post('/transactions', {
    provider,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    nonce,
  });
  return { c, provider, state, nonce, verifier, challenge, tx };
}

/** Register, log in + consent in Chromium, and capture the callback (code, state, iss). */
async function signIn(provider, { login = 'alice', c, urlNonce } = {}) {
  const t = await registerTransaction(provider, c);
  assert.equal(t.tx.status, 201, t.tx.text);
  const url = new URL(t.tx.json.authorization_url);
  assert.equal(url.searchParams.get('nonce'), t.nonce, 'the backend put the nonce in the URL');
  // The nonce-mismatch case swaps the URL's nonce for another one.
  if (urlNonce) url.searchParams.set('nonce', urlNonce);
  const context = await newLoopbackContext(browser);
  try {
    const page = await context.newPage();
    await page.goto(urlNonce ? url.href : t.tx.json.authorization_url);
    await loginAndConsent(page, { login });
    const cb = await catcher.forState(t.state);
    assert.equal(cb.searchParams.get('state'), t.state, 'state round-trips (RFC 6749 §4.1.2)');
    const code = cb.searchParams.get('code');
    assert.ok(code, `callback has a code: ${cb.search}`);
    secrets.codes.add(code);
    return { ...t, code, iss: cb.searchParams.get('iss'), login };
  } finally {
    await context.close();
  }
}

/** POST /token with the values from signIn, optionally overridden. */
async function exchange(s, overrides = {}, opts = {}) {
  const r = await s.c.post(
    '/token',
    {
      provider: s.provider,
      code: s.code,
      state: s.state,
      code_verifier: s.verifier,
      iss: s.iss,
      ...overrides,
    },
    opts,
  );
  if (r.json?.access_token) secrets.accessTokens.add(r.json.access_token);
  return r;
}

/** Record the tokens the OP issued since `fromIndex` (so leak checks know their values). */
function harvestOpTokens(fromIndex = 0) {
  for (const call of op.tokenCalls.slice(fromIndex)) {
    if (call.accessToken) secrets.accessTokens.add(call.accessToken);
    if (call.refreshToken) secrets.refreshTokens.add(call.refreshToken);
    if (call.idToken) secrets.idTokens.add(call.idToken);
  }
}

function assertNoStore(r) {
  // RFC 6749 §5.1: responses carrying tokens are not cached (SECURITY.md S9).
  assert.match(r.headers.get('cache-control') ?? '', /no-store/);
  assert.match(r.headers.get('pragma') ?? '', /no-cache/);
}

function assertTypedError(r, status, code) {
  const statuses = Array.isArray(status) ? status : [status];
  assert.ok(statuses.includes(r.status), `status ${r.status} ∉ ${statuses}: ${r.text}`);
  assert.equal(r.json?.error, code, r.text);
  assert.equal(typeof r.json?.error_description, 'string');
  assert.equal(r.json?.access_token, undefined);
}

function assertNoOutbound(beforeSnap, what) {
  const now = op.snapshot();
  assert.equal(now.token, beforeSnap.token, `${what}: zero token-endpoint calls (SECURITY.md S2)`);
  assert.equal(now.total, beforeSnap.total, `${what}: zero calls of any kind to the provider`);
}

/** A verifier that satisfies RFC 7636 §4.1 but is not the registered one. */
const otherVerifier = () => pkcePair().verifier;

// ---------------------------------------------------------------------------------------------

test('GET /healthz and GET /config: providers listed, no secret', async () => {
  const c = client();
  const h = await c.get('/healthz');
  assert.equal(h.status, 200);
  const r = await c.get('/config');
  assert.equal(r.status, 200, r.text);
  const ids = r.json.providers.map((p) => p.id).sort();
  assert.deepEqual(ids, ['basic', 'post']);
  for (const p of r.json.providers) assert.equal(typeof p.name, 'string');
  for (const s of [BASIC_CLIENT.secret, POST_CLIENT.secret, cookieKey]) {
    assert.ok(!r.text.includes(s), '/config never carries a secret');
  }
});

test('POST /transactions: authorization URL, issuer, and a __Host- Secure HttpOnly SameSite=Strict cookie (RFC 10017 §6.1.3.2)', async () => {
  const snap = op.snapshot();
  const jar = new CookieJar();
  const t = await registerTransaction('basic', client(jar));
  assert.equal(t.tx.status, 201, t.tx.text);
  const a = new URL(t.tx.json.authorization_url);
  assert.equal(`${a.origin}${a.pathname}`, `${op.issuer}/auth`);
  assert.deepEqual(
    [...a.searchParams],
    [
      ['response_type', 'code'],
      ['client_id', BASIC_CLIENT.id],
      ['redirect_uri', catcher.redirectUri],
      ['scope', 'openid profile email offline_access'],
      ['state', t.state],
      ['code_challenge', t.challenge],
      ['code_challenge_method', 'S256'],
      ['nonce', t.nonce],
      ['prompt', 'consent'],
    ],
  );
  assert.equal(t.tx.json.authorize, undefined, 'no template: the backend builds the URL');
  assert.equal(t.tx.json.issuer, op.issuer, 'RFC 9207: the expected iss');
  assert.equal(t.tx.json.require_iss, true, 'oidc-provider advertises iss in the response');
  assert.ok(t.tx.json.expires_in > 0 && t.tx.json.expires_in <= 600, 'TTL ≤ 10 min');
  assert.ok(!t.tx.text.includes(BASIC_CLIENT.secret));
  assert.equal(jar.setCookieHeaders.length, 1, jar.setCookieHeaders.join('\n'));
  const sc = jar.setCookieHeaders[0];
  assert.match(sc, /^__Host-/);
  assert.match(sc, /;\s*Secure/i);
  assert.match(sc, /;\s*HttpOnly/i);
  assert.match(sc, /;\s*SameSite=Strict/i);
  assert.match(sc, /;\s*Path=\/(;|$)/i);
  assert.doesNotMatch(sc, /Domain=/i);
  // The state and the challenge are bound in the cookie, but not readable from it.
  assert.ok(!sc.includes(t.state) && !sc.includes(t.challenge), 'cookie is encrypted');
  // Discovery may have happened at start-up or now; no token call, no code was involved.
  assert.equal(op.counters.token, snap.token);
});

for (const [provider, clientMeta] of [
  ['basic', BASIC_CLIENT],
  ['post', POST_CLIENT],
]) {
  test(`exchange with ${clientMeta.method} (secret ${JSON.stringify(clientMeta.secret)}), ID token and userinfo (RFC 6749 §4.1.3, §2.3.1; OIDC Core §3.1.3.7)`, async () => {
    const login = `user-${provider}`;
    const s = await signIn(provider, { login });
    assert.equal(s.iss, op.issuer);
    const snap = op.snapshot();
    const callsBefore = op.tokenCalls.length;
    const r = await exchange(s);
    harvestOpTokens(callsBefore);
    assert.equal(r.status, 200, r.text);
    assertNoStore(r);

    // exactly one exchange, with the configured client authentication
    assert.equal(op.counters.token - snap.token, 1, 'exactly one token request (SECURITY.md S8)');
    const call = op.tokenCalls.at(-1);
    assert.equal(call.grantType, 'authorization_code');
    assert.equal(call.status, 200, `OP answered ${call.status} ${call.error ?? ''}`);
    assert.equal(call.clientId, clientMeta.id);
    assert.equal(call.clientAuth, clientMeta.method, 'the configured auth method was used');
    assert.match(call.contentType, /^application\/x-www-form-urlencoded/);
    assert.match(call.accept, /application\/json/);

    // the reply
    assert.equal(r.json.access_token, call.accessToken);
    assert.equal(await op.accessTokenIsActive(r.json.access_token), true);
    assert.match(r.json.token_type, /^bearer$/i);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Math.abs(r.json.expires_at - (now + 3600)) <= 10, `expires_at ${r.json.expires_at}`);
    assert.match(r.json.scope, /\bopenid\b/);

    const claims = r.json.id_token_claims;
    assert.equal(claims.iss, op.issuer);
    assert.ok([claims.aud].flat().includes(clientMeta.id), 'aud contains client_id');
    assert.equal(claims.nonce, s.nonce, 'nonce equals the registered one');
    assert.equal(claims.sub, login);
    assert.ok(claims.exp > now && claims.iat <= now + 60);

    const u = r.json.user;
    assert.equal(u.provider, provider);
    assert.equal(u.subject, login);
    assert.equal(u.id, `${provider}:${login}`);
    assert.equal(u.name, `Test User ${login}`);
    assert.equal(u.email, `${login}@example.test`);
    assert.equal(u.email_verified, true);
    assert.equal(u.avatar_url, `https://avatars.example.test/${login}.png`);
    assert.ok(op.counters.userinfo > snap.userinfo, 'user came from userinfo');

    // the refresh token exists at the OP but is nowhere in what the browser can read
    assert.ok(call.refreshToken, 'the OP issued a refresh token');
    assert.ok(!r.text.includes(call.refreshToken), 'refresh token not in the body (SECURITY.md A1)');
    for (const [k, v] of r.headers) {
      if (k === 'set-cookie') continue;
      assert.ok(!v.includes(call.refreshToken), `refresh token not in header ${k}`);
    }
    for (const sc of s.c.jar.setCookieHeaders) {
      assert.ok(!sc.includes(call.refreshToken), 'the session cookie is encrypted');
    }
    assert.ok(!r.text.includes(call.idToken), 'the raw ID token is not echoed');
    const session = s.c.jar.setCookieHeaders.filter((h) => /;\s*HttpOnly/i.test(h));
    assert.ok(session.length >= 1);
  });
}

test('refresh with an ID token (OIDC Core §12.2): oidc-provider\'s refreshed ID token (same iss and sub) is validated and kept; the refresh answers 200', async () => {
  const s = await signIn('basic', { login: 'idrefresher' });
  let calls = op.tokenCalls.length;
  const r = await exchange(s);
  assert.equal(r.status, 200, r.text);
  harvestOpTokens(calls);
  calls = op.tokenCalls.length;
  const kept = (srv.logs().match(/the new ID token is the session's user's; kept/g) ?? []).length;
  const r1 = await s.c.post('/refresh', {});
  harvestOpTokens(calls);
  assert.equal(r1.status, 200, r1.text);
  const call = op.tokenCalls.at(-1);
  assert.equal(call.grantType, 'refresh_token');
  assert.ok(call.idToken, 'oidc-provider issued an ID token with the refresh');
  const claims = JSON.parse(Buffer.from(call.idToken.split('.')[1], 'base64url').toString());
  assert.equal(claims.sub, r.json.id_token_claims.sub);
  assert.equal(claims.iss, r.json.id_token_claims.iss);
  assert.ok(!r1.text.includes(call.idToken), 'the raw ID token stays on the backend');
  assert.equal((srv.logs().match(/the new ID token is the session's user's; kept/g) ?? []).length, kept + 1, 'validated and kept');
});

test('refresh with rotation: new access token, rotated refresh token stored, old one dead at the OP (RFC 6749 §6, RFC 9700 §4.14.2)', async () => {
  const s = await signIn('basic', { login: 'refresher' });
  let calls = op.tokenCalls.length;
  const r = await exchange(s);
  assert.equal(r.status, 200, r.text);
  harvestOpTokens(calls);
  const rt1 = op.tokenCalls.at(-1).refreshToken;
  assert.ok(rt1);

  calls = op.tokenCalls.length;
  const snap = op.snapshot();
  const r1 = await s.c.post('/refresh', {});
  harvestOpTokens(calls);
  assert.equal(r1.status, 200, r1.text);
  assertNoStore(r1);
  assert.equal(op.counters.tokenRefresh - snap.tokenRefresh, 1);
  const call1 = op.tokenCalls.at(-1);
  assert.equal(call1.grantType, 'refresh_token');
  assert.equal(call1.status, 200);
  assert.equal(typeof r1.json.access_token, 'string');
  assert.notEqual(r1.json.access_token, r.json.access_token);
  assert.equal(r1.json.access_token, call1.accessToken);
  secrets.accessTokens.add(r1.json.access_token);
  const rt2 = call1.refreshToken;
  assert.ok(rt2 && rt2 !== rt1, 'the OP rotated the refresh token');
  assert.equal(await op.refreshTokenIsActive(rt1), false, 'old refresh token consumed at the OP');
  assert.equal(await op.refreshTokenIsActive(rt2), true);
  assert.ok(!r1.text.includes(rt2) && !r1.text.includes(rt1), 'no refresh token in the body');
  for (const sc of s.c.jar.setCookieHeaders) assert.ok(!sc.includes(rt2));

  // The rotated token was stored: a second refresh works (a reuse of rt1 would revoke the grant).
  calls = op.tokenCalls.length;
  const r2 = await s.c.post('/refresh', {});
  harvestOpTokens(calls);
  assert.equal(r2.status, 200, r2.text);
  assert.notEqual(r2.json.access_token, r1.json.access_token);
  const rt3 = op.tokenCalls.at(-1).refreshToken;
  assert.equal(await op.refreshTokenIsActive(rt3), true);
  assert.equal(await op.refreshTokenIsActive(rt2), false);
});

test('two concurrent refreshes of one session: one refresh in flight, the grant survives (SECURITY.md S10)', async () => {
  const s = await signIn('post', { login: 'concurrent' });
  const calls = op.tokenCalls.length;
  assert.equal((await exchange(s)).status, 200);
  const [a, b] = await Promise.all([s.c.post('/refresh', {}), s.c.post('/refresh', {})]);
  harvestOpTokens(calls);
  for (const x of [a, b]) if (x.json?.access_token) secrets.accessTokens.add(x.json.access_token);
  const refreshCalls = op.tokenCalls.slice(calls).filter((c) => c.grantType === 'refresh_token');
  assert.ok(
    refreshCalls.every((c) => c.status === 200),
    `no refresh token was presented twice to the OP: ${refreshCalls.map((c) => `${c.status} ${c.error ?? ''}`).join(', ')}`,
  );
  assert.ok(a.status === 200 || b.status === 200, `${a.status} ${a.text} / ${b.status} ${b.text}`);
  // The session still works afterwards (the grant was not revoked by a reuse).
  const c = await s.c.post('/refresh', {});
  harvestOpTokens(calls);
  assert.equal(c.status, 200, c.text);
});

test('logout revokes the refresh token at the OP (RFC 7009 §2), clears cookies, returns the end-session URL', async () => {
  const s = await signIn('basic', { login: 'leaver' });
  const calls = op.tokenCalls.length;
  const r = await exchange(s);
  assert.equal(r.status, 200, r.text);
  harvestOpTokens(calls);
  const rt = op.tokenCalls.at(-1).refreshToken;
  assert.equal(await op.refreshTokenIsActive(rt), true);
  const oldJar = s.c.jar.clone();

  const snap = op.snapshot();
  const out = await s.c.post('/logout', {});
  assert.equal(out.status, 200, out.text);
  assert.equal(out.json.revoked, true);
  assert.equal(op.counters.revocation - snap.revocation, 1, 'one revocation request');
  assert.equal(op.revocationCalls.at(-1).status, 200);
  assert.equal(await op.refreshTokenIsActive(rt), false, 'the OP confirms the token is gone');
  assert.equal(
    await op.accessTokenIsActive(r.json.access_token),
    false,
    'revoking the refresh token revoked the grant',
  );
  // OIDC RP-Initiated Logout 1.0 §2: the end-session URL of the provider, with this session's
  // own ID token as the hint and the registered post-logout redirect URI.
  const esu = new URL(out.json.end_session_url);
  assert.equal(`${esu.origin}${esu.pathname}`, `${op.issuer}/session/end`);
  const hint = esu.searchParams.get('id_token_hint');
  if (hint !== null) assert.equal(hint, op.tokenCalls[calls].idToken);
  assert.equal(esu.searchParams.get('post_logout_redirect_uri'), `${spaOrigin}/`);
  assert.ok(!out.text.includes(rt));
  // cookies cleared
  assert.equal(s.c.jar.cookies.size, 0, `cookies left: ${[...s.c.jar.cookies.keys()]}`);

  const after1 = await s.c.post('/refresh', {});
  assertTypedError(after1, 401, 'not_authenticated');

  // Replaying the pre-logout cookie: the session it names was ended, and says so.
  const replay = await s.c.post('/refresh', {}, { jar: oldJar });
  assertTypedError(replay, 401, 'session_ended');
  assert.equal(replay.json?.access_token, undefined);
});

test('replayed code with a fresh transaction → typed invalid_grant, no tokens, one call; the OP revokes the grant (RFC 6749 §4.1.2, §10.5)', async () => {
  const s = await signIn('basic', { login: 'replayer' });
  const calls = op.tokenCalls.length;
  const first = await exchange(s);
  assert.equal(first.status, 200, first.text);
  harvestOpTokens(calls);
  const rt = op.tokenCalls.at(-1).refreshToken;
  assert.equal(await op.refreshTokenIsActive(rt), true);

  // Someone who saw the callback URL and the verifier (a reload, an injected script) registers a
  // new transaction with the same challenge and presents the same code: every local check passes,
  // so exactly one exchange goes out and the provider refuses the used code.
  const c2 = client();
  const state2 = randomToken();
  const tx2 = await c2.post('/transactions', {
    provider: 'basic',
    state: state2,
    code_challenge: s.challenge,
    code_challenge_method: 'S256',
    nonce: randomToken(),
  });
  assert.equal(tx2.status, 201, tx2.text);
  const snap = op.snapshot();
  const again = await exchange({ ...s, c: c2, state: state2 });
  assert.equal(op.counters.token - snap.token, 1, 'exactly one exchange, never retried');
  assert.equal(op.tokenCalls.at(-1).error, 'invalid_grant');
  assertTypedError(again, [400, 502], 'invalid_grant');
  assert.equal(again.json.provider_error, 'invalid_grant');
  assert.ok(
    ![...c2.jar.cookies.keys()].some((k) => k.includes("session")),
    `no session cookie: ${[...c2.jar.cookies.keys()]}`,
  );
  // oidc-provider revokes the grant when a used code is presented (RFC 6749 §4.1.2).
  assert.equal(await op.refreshTokenIsActive(rt), false, 'the first session was revoked');
  const r = await s.c.post('/refresh', {});
  assertTypedError(r, [400, 401, 502], 'invalid_grant');
});

test('replayed code with a different verifier → invalid_grant from the OP\'s PKCE check (RFC 7636 §4.6), never tokens, never retried', async () => {
  const s = await signIn('post', { login: 'replayer2' });
  const calls = op.tokenCalls.length;
  assert.equal((await exchange(s)).status, 200);
  harvestOpTokens(calls);
  const t2 = await registerTransaction('post');
  assert.equal(t2.tx.status, 201);
  const snap = op.snapshot();
  const again = await exchange({ ...t2, code: s.code, iss: s.iss });
  // The backend cannot know which challenge the code was issued for: the OP decides.
  assert.equal(op.counters.token - snap.token, 1, 'one exchange, never retried');
  assert.equal(op.tokenCalls.at(-1).error, 'invalid_grant');
  assertTypedError(again, [400, 502], 'invalid_grant');
});

test('ID token whose nonce differs from the registered one → invalid_id_token, no session (OIDC Core §3.1.3.7 step 11)', async () => {
  // The authorization request carries another nonce than the one bound to the transaction, so
  // the provider signs an ID token the backend must refuse.
  const s = await signIn('basic', { login: 'nonce-mismatch', urlNonce: randomToken() });
  const calls = op.tokenCalls.length;
  const snap = op.snapshot();
  const r = await exchange(s);
  harvestOpTokens(calls);
  assert.equal(op.counters.token - snap.token, 1, 'one exchange');
  assert.equal(op.tokenCalls.at(-1).status, 200, 'the provider issued tokens');
  assertTypedError(r, [400, 502], 'invalid_id_token');
  assert.ok(
    ![...s.c.jar.cookies.keys()].some((k) => k.includes('session')),
    `no session cookie: ${[...s.c.jar.cookies.keys()]}`,
  );
  assert.ok(!r.text.includes(op.tokenCalls.at(-1).accessToken));
  // The discarded tokens are revoked (RFC 7009) in the background: wait for it, so its calls do
  // not land in the next test's zero-call window, and check that they are dead at the provider.
  const { accessToken, refreshToken } = op.tokenCalls.at(-1);
  const until = Date.now() + 5000;
  while (op.counters.revocation - snap.revocation < (refreshToken ? 2 : 1) && Date.now() < until) {
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(await op.accessTokenIsActive(accessToken), false, 'the issued access token was revoked');
  if (refreshToken) assert.equal(await op.refreshTokenIsActive(refreshToken), false, 'the refresh token was revoked');
});

// The backend refuses a token request without `iss` when the provider advertises RFC 9207
// support (defence in depth: the browser half rejects such callbacks too).
test('callback without iss while the provider advertises it → iss_missing, zero calls (RFC 9207 §2.4)', async () => {
  const t = await registerTransaction('post');
  assert.equal(t.tx.json.require_iss, true);
  const snap = op.snapshot();
  const r = await exchange({ ...t, code: 'made-up-code', iss: undefined });
  assertTypedError(r, 400, 'iss_missing');
  assertNoOutbound(snap, 'iss missing');
});

test('demo API: the access token works at GET /api/hello until logout revokes the grant', async () => {
  const s = await signIn('post', { login: 'api-user' });
  const calls = op.tokenCalls.length;
  const r = await exchange(s);
  assert.equal(r.status, 200, r.text);
  harvestOpTokens(calls);
  const hello = (token) =>
    fetch(`${srv.url}/api/hello?provider=post`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  const ok = await hello(r.json.access_token);
  const okBody = await ok.json();
  assert.equal(ok.status, 200, JSON.stringify(okBody));
  assert.equal(okBody.sub, 'api-user');
  assert.match(okBody.message, /Test User api-user/);
  const none = await hello();
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  const bogus = await hello('not-a-token');
  assert.equal(bogus.status, 401);
  assert.equal((await s.c.post('/logout', {})).status, 200);
  const revoked = await hello(r.json.access_token);
  assert.equal(revoked.status, 401, 'the revoked grant took the access token with it');
});

test('wrong verifier → pkce_mismatch with zero calls to the provider (RFC 7636 §4.6, SECURITY.md S2)', async () => {
  const s = await signIn('post', { login: 'wrong-verifier' });
  const snap = op.snapshot();
  const r = await exchange(s, { code_verifier: otherVerifier() });
  assertTypedError(r, 400, 'pkce_mismatch');
  assertNoOutbound(snap, 'wrong verifier');
});

test('state mismatch → state_mismatch with zero calls (RFC 6749 §10.12)', async () => {
  const t = await registerTransaction('basic');
  const snap = op.snapshot();
  const r = await exchange({ ...t, code: 'made-up-code', iss: op.issuer }, { state: randomToken() });
  assertTypedError(r, 400, 'state_mismatch');
  assertNoOutbound(snap, 'state mismatch');
});

test('a code without a registered transaction (no cookie) → transaction_missing, zero calls', async () => {
  const snap = op.snapshot();
  const c = client();
  const r = await c.post('/token', {
    provider: 'basic',
    code: 'made-up-code',
    state: randomToken(),
    code_verifier: otherVerifier(),
    iss: op.issuer,
  });
  assertTypedError(r, 400, 'transaction_missing');
  assertNoOutbound(snap, 'no transaction');
});

test('a used transaction cannot be redeemed twice (single use), zero calls', async () => {
  const s = await signIn('basic', { login: 'twice' });
  const calls = op.tokenCalls.length;
  assert.equal((await exchange(s)).status, 200);
  harvestOpTokens(calls);
  const snap = op.snapshot();
  const jar = new CookieJar();
  // the transaction cookie as it was before the exchange
  for (const h of s.c.jar.setCookieHeaders.slice(0, 1)) {
    const [pair] = h.split(';');
    const eq = pair.indexOf('=');
    jar.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  const r = await exchange(s, {}, { jar });
  assert.ok(
    ['transaction_used', 'transaction_missing'].includes(r.json?.error),
    `typed refusal: ${r.text}`,
  );
  assert.equal(r.status, 400);
  assertNoOutbound(snap, 'reused transaction');
});

test('iss mismatch → iss_mismatch with zero calls (RFC 9207 §2.4)', async () => {
  const t = await registerTransaction('basic');
  const snap = op.snapshot();
  const r = await exchange({ ...t, code: 'made-up-code' }, { iss: 'http://127.0.0.1:1' });
  assertTypedError(r, 400, 'iss_mismatch');
  assertNoOutbound(snap, 'iss mismatch');
});

test('missing CSRF header → 401 csrf_header_missing on every POST, no cookie set (RFC 10017 §6.1.3.3)', async () => {
  const snap = op.snapshot();
  const t = await registerTransaction('basic');
  const c = client();
  const tx = await c.post(
    '/transactions',
    { provider: 'basic', state: randomToken(), code_challenge: t.challenge, code_challenge_method: 'S256' },
    { csrf: false },
  );
  assertTypedError(tx, 401, 'csrf_header_missing');
  assert.equal(c.jar.setCookieHeaders.length, 0);
  const tok = await exchange({ ...t, code: 'made-up-code', iss: op.issuer }, {}, { csrf: false });
  assertTypedError(tok, 401, 'csrf_header_missing');
  for (const path of ['/refresh', '/logout']) {
    const r = await t.c.post(path, {}, { csrf: false });
    assertTypedError(r, 401, 'csrf_header_missing');
  }
  assert.equal(op.counters.token, snap.token);
});

test('foreign Origin → origin_rejected and no CORS approval; allowed origin gets credentialed CORS', async () => {
  const snap = op.snapshot();
  const c = client();
  const body = {
    provider: 'basic',
    state: randomToken(),
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
  };
  const r = await c.post('/transactions', body, { origin: FOREIGN_ORIGIN });
  assertTypedError(r, [401, 403], 'origin_rejected');
  assert.equal(r.headers.get('access-control-allow-origin'), null);
  assert.equal(c.jar.setCookieHeaders.length, 0);

  const tok = await c.post(
    '/token',
    { provider: 'basic', code: 'x', state: 'y', code_verifier: otherVerifier() },
    { origin: FOREIGN_ORIGIN },
  );
  assertTypedError(tok, [401, 403], 'origin_rejected');
  assert.equal(tok.headers.get('access-control-allow-origin'), null);

  const noOrigin = await c.post('/transactions', body, { origin: null });
  assertTypedError(noOrigin, [401, 403], 'origin_rejected');

  // CORS preflight (Fetch standard §3.2.2)
  const preflight = (origin) =>
    fetch(`${srv.authUrl}/token`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-authsplit',
      },
    });
  const bad = await preflight(FOREIGN_ORIGIN);
  assert.equal(bad.headers.get('access-control-allow-origin'), null);
  const good = await preflight(spaOrigin);
  assert.equal(good.headers.get('access-control-allow-origin'), spaOrigin);
  assert.equal(good.headers.get('access-control-allow-credentials'), 'true');
  assert.match(good.headers.get('access-control-allow-headers') ?? '', /x-authsplit/i);
  assert.notEqual(good.headers.get('access-control-allow-origin'), '*');
  assert.equal(op.counters.token, snap.token);
});

test('unknown provider → 400 unknown_provider at /transactions and /token, zero calls', async () => {
  const snap = op.snapshot();
  const t = await registerTransaction('nope');
  assertTypedError(t.tx, 400, 'unknown_provider');
  assert.equal(t.c.jar.setCookieHeaders.length, 0);
  const t2 = await registerTransaction('basic');
  const r = await exchange({ ...t2, code: 'made-up-code', iss: op.issuer }, { provider: 'nope' });
  assertTypedError(r, 400, 'unknown_provider');
  assertNoOutbound(snap, 'unknown provider');
});

test('a transaction registered for one provider cannot be redeemed at another, zero calls', async () => {
  const t = await registerTransaction('basic');
  const snap = op.snapshot();
  const r = await exchange({ ...t, code: 'made-up-code', iss: op.issuer }, { provider: 'post' });
  assert.ok(r.status === 400, r.text);
  assert.equal(r.json?.access_token, undefined);
  assertNoOutbound(snap, 'provider switch');
});

test('bad inputs: verifier grammar, unknown field, oversized body, wrong content type (SECURITY.md F2)', async () => {
  const t = await registerTransaction('basic');
  const snap = op.snapshot();
  const base = { ...t, code: 'made-up-code', iss: op.issuer };
  assertTypedError(await exchange(base, { code_verifier: 'a'.repeat(42) }), 400, 'invalid_verifier');
  assertTypedError(await exchange(base, { code_verifier: 'a'.repeat(129) }), 400, 'invalid_verifier');
  assertTypedError(
    await exchange(base, { code_verifier: `${'a'.repeat(42)}+/` }),
    400,
    'invalid_verifier',
  );
  assertTypedError(await exchange(base, { extra: 1 }), 400, 'invalid_request');
  const big = await t.c.post('/token', undefined, {
    rawBody: JSON.stringify({ provider: 'basic', code: 'x'.repeat(1024 * 1024) }),
  });
  assert.equal(big.status, 413, big.text);
  assert.equal(big.json?.error, 'body_too_large');
  const form = await t.c.post('/token', undefined, {
    rawBody: 'provider=basic',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assertTypedError(form, [400, 415], 'unsupported_media_type');
  const plain = await t.c.post('/transactions', undefined, {
    rawBody: '{"provider":"basic","state":"s","code_challenge":"c","code_challenge_method":"plain"}',
  });
  assert.equal(plain.status, 400, 'S256 only (RFC 7636 §4.2, RFC 9700 §2.1.1)');
  assertNoOutbound(snap, 'bad inputs');
});

test('expired transaction → transaction_expired with zero calls (transaction_ttl_secs = 1)', async (t) => {
  const short = await startServer({
    config: opServerConfig({
      op,
      redirectUri: catcher.redirectUri,
      spaOrigin,
      server: { transaction_ttl_secs: 1 },
    }),
  });
  t.after(() => short.close());
  const c = backendClient(short.authUrl, { origin: spaOrigin });
  const state = randomToken();
  const { verifier, challenge } = pkcePair();
  const tx = await c.post('/transactions', {
    provider: 'basic',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    nonce: randomToken(),
  });
  assert.equal(tx.status, 201, tx.text);
  assert.equal(tx.json.expires_in, 1);
  await sleep(2100);
  const snap = op.snapshot();
  const r = await c.post('/token', {
    provider: 'basic',
    code: 'made-up-code',
    state,
    code_verifier: verifier,
    iss: op.issuer,
  });
  assertTypedError(r, 400, 'transaction_expired');
  assertNoOutbound(snap, 'expired transaction');
});

test('refresh and logout without a session → 401 not_authenticated, zero calls', async () => {
  const snap = op.snapshot();
  const c = client();
  assertTypedError(await c.post('/refresh', {}), 401, 'not_authenticated');
  const out = await c.post('/logout', {});
  // logging out without a session is harmless; it must not reach the provider
  assert.ok([200, 401].includes(out.status), out.text);
  assertNoOutbound(snap, 'no session');
});

// Keep this last: it inspects everything the run produced.
test('no secret in any server log line or response body (SECURITY.md S14)', () => {
  const logs = srv.logs();
  assert.ok(logs.includes('listening on'), 'logs were captured');
  assert.ok(!/panicked/.test(logs), 'no panic');
  assert.ok(secrets.codes.size >= 5 && secrets.refreshTokens.size >= 5, 'the run saw real secrets');
  const leaks = [];
  const check = (kind, value) => {
    if (value && logs.includes(value)) leaks.push(`${kind} in server log`);
  };
  check('client_secret (basic)', BASIC_CLIENT.secret);
  check('client_secret (post)', POST_CLIENT.secret);
  check('cookie key', cookieKey);
  const form = (v) => new URLSearchParams({ v }).toString().slice(2);
  check(
    'Basic credentials',
    Buffer.from(`${form(BASIC_CLIENT.id)}:${form(BASIC_CLIENT.secret)}`).toString('base64'),
  );
  check('form-encoded secret', form(POST_CLIENT.secret));
  for (const [kind, set] of Object.entries(secrets)) for (const v of set) check(kind, v);
  assert.deepEqual(leaks, []);
  const bodyLeaks = [];
  for (const rt of secrets.refreshTokens) {
    if (bodies.some((b) => b.includes(rt))) bodyLeaks.push('refresh token in a response body');
  }
  for (const id of secrets.idTokens) {
    for (const b of bodies) {
      // The one allowed place: id_token_hint of the end-session URL (OIDC RP-Initiated
      // Logout 1.0 §2), which the browser is sent to on purpose.
      let text = b;
      try {
        const j = JSON.parse(b);
        if (j && typeof j.end_session_url === 'string') {
          const u = new URL(j.end_session_url);
          u.searchParams.delete('id_token_hint');
          text = JSON.stringify({ ...j, end_session_url: u.href });
        }
      } catch {
        /* not JSON */
      }
      if (text.includes(id)) bodyLeaks.push(`raw ID token in a response body: ${b.slice(0, 200)}`);
    }
  }
  assert.deepEqual(bodyLeaks, []);
});
