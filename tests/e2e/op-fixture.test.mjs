// Self-test of the test fixtures against oidc-provider alone (no authsplit code involved):
// proves the provider behaves the way the backend and SPA suites assume (tests/support/README.md, "How oidc-provider behaves"), and that
// the counters and helpers report what really happened.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startOP, BASIC_CLIENT, POST_CLIENT } from '../support/op.mjs';
import {
  launchBrowser,
  newLoopbackContext,
  loginAndConsent,
  cancelAtConsent,
  startCallbackCatcher,
} from '../support/browser.mjs';
import { pkcePair, randomToken } from '../support/http.mjs';

let op;
let catcher;
let browser;

before(async () => {
  catcher = await startCallbackCatcher();
  op = await startOP({ redirectUris: [catcher.redirectUri] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await op?.close();
  await catcher?.close();
});

function authorizeUrl(clientId, { state, challenge, nonce }) {
  const u = new URL(`${op.issuer}/auth`);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('client_id', clientId);
  u.searchParams.set('redirect_uri', catcher.redirectUri);
  u.searchParams.set('scope', 'openid profile email offline_access');
  u.searchParams.set('state', state);
  u.searchParams.set('code_challenge', challenge);
  u.searchParams.set('code_challenge_method', 'S256');
  u.searchParams.set('nonce', nonce);
  u.searchParams.set('prompt', 'consent');
  return u.href;
}

/** RFC 6749 §2.3.1: form-urlencode id and secret, then base64. */
function basicHeader(id, secret) {
  const enc = (s) => new URLSearchParams({ x: s }).toString().slice(2);
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

async function tokenRequest(client, params) {
  const headers = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  const body = new URLSearchParams(params);
  if (client.method === 'client_secret_basic') {
    headers.authorization = basicHeader(client.id, client.secret);
  } else {
    body.set('client_id', client.id);
    body.set('client_secret', client.secret);
  }
  const res = await fetch(`${op.issuer}/token`, { method: 'POST', headers, body });
  return { status: res.status, json: await res.json() };
}

async function getCode(clientId, login) {
  const state = randomToken();
  const nonce = randomToken();
  const { verifier, challenge } = pkcePair();
  const context = await newLoopbackContext(browser);
  try {
    const page = await context.newPage();
    await page.goto(authorizeUrl(clientId, { state, challenge, nonce }));
    await loginAndConsent(page, { login });
    const cb = await catcher.next();
    return { cb, state, nonce, verifier };
  } finally {
    await context.close();
  }
}

test('login + consent in Chromium yields a code, state and iss (RFC 9207 §2)', async () => {
  const { cb, state } = await getCode(BASIC_CLIENT.id, 'fixture-user');
  assert.equal(cb.searchParams.get('state'), state);
  assert.equal(cb.searchParams.get('iss'), op.issuer);
  assert.match(cb.searchParams.get('code') ?? '', /^[A-Za-z0-9_-]{20,}$/);
});

for (const client of [BASIC_CLIENT, POST_CLIENT]) {
  test(`code exchange with ${client.method} (secret with special characters), counters and refresh rotation`, async () => {
    const { cb, verifier } = await getCode(client.id, `u-${client.id}`);
    const before = op.snapshot();
    const r = await tokenRequest(client, {
      grant_type: 'authorization_code',
      code: cb.searchParams.get('code'),
      redirect_uri: catcher.redirectUri,
      code_verifier: verifier,
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(typeof r.json.refresh_token, 'string', 'offline_access + prompt=consent → refresh token');
    assert.equal(op.counters.token - before.token, 1);
    assert.equal(op.counters.tokenAuthorizationCode - before.tokenAuthorizationCode, 1);
    const call = op.tokenCalls.at(-1);
    assert.equal(call.clientAuth, client.method);
    assert.equal(call.clientId, client.id);
    assert.equal(call.refreshToken, r.json.refresh_token);
    assert.equal(await op.refreshTokenIsActive(r.json.refresh_token), true);

    const me = await fetch(`${op.issuer}/me`, {
      headers: { authorization: `Bearer ${r.json.access_token}` },
    }).then((x) => x.json());
    assert.equal(me.sub, `u-${client.id}`);
    assert.equal(me.name, `Test User u-${client.id}`);

    const r2 = await tokenRequest(client, {
      grant_type: 'refresh_token',
      refresh_token: r.json.refresh_token,
    });
    assert.equal(r2.status, 200);
    assert.notEqual(r2.json.refresh_token, r.json.refresh_token, 'rotated');
    assert.equal(await op.refreshTokenIsActive(r.json.refresh_token), false, 'old one consumed');
    assert.equal(await op.refreshTokenIsActive(r2.json.refresh_token), true);
    assert.equal(op.counters.tokenRefresh - before.tokenRefresh, 1);
  });
}

test('a naive Basic header (secret not form-urlencoded first) is refused (RFC 6749 §2.3.1)', async () => {
  const raw = `Basic ${Buffer.from(`${BASIC_CLIENT.id}:${BASIC_CLIENT.secret}`).toString('base64')}`;
  const res = await fetch(`${op.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: raw },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x' }),
  });
  // '%d/' is not a valid percent-escape: oidc-provider answers 400 invalid_request (a secret
  // without '%' would get 401 invalid_client). Either way: no tokens.
  const body = await res.json();
  assert.ok([400, 401].includes(res.status), `status ${res.status}`);
  assert.ok(['invalid_request', 'invalid_client'].includes(body.error), body.error);
  assert.equal(body.access_token, undefined);
});

test('a reused code is invalid_grant (RFC 6749 §4.1.2)', async () => {
  const { cb, verifier } = await getCode(POST_CLIENT.id, 'replay');
  const params = {
    grant_type: 'authorization_code',
    code: cb.searchParams.get('code'),
    redirect_uri: catcher.redirectUri,
    code_verifier: verifier,
  };
  assert.equal((await tokenRequest(POST_CLIENT, params)).status, 200);
  const again = await tokenRequest(POST_CLIENT, params);
  assert.equal(again.status, 400);
  assert.equal(again.json.error, 'invalid_grant');
});

test('cancel at consent → error=access_denied at the redirect URI (RFC 6749 §4.1.2.1)', async () => {
  const context = await newLoopbackContext(browser);
  try {
    const page = await context.newPage();
    const { challenge } = pkcePair();
    const state = randomToken();
    await page.goto(authorizeUrl(BASIC_CLIENT.id, { state, challenge, nonce: 'n' }));
    await loginAndConsent(page, { login: 'canceller', consent: false });
    const tokenBefore = op.counters.token;
    await cancelAtConsent(page);
    const cb = await catcher.next();
    assert.equal(cb.searchParams.get('error'), 'access_denied');
    assert.equal(cb.searchParams.get('state'), state);
    assert.equal(cb.searchParams.get('code'), null);
    assert.equal(op.counters.token, tokenBefore);
  } finally {
    await context.close();
  }
});

test('setRedirectUris: the provider accepts the new URI and refuses the old one', async (t) => {
  const other = await startCallbackCatcher({ path: '/cb2' });
  t.after(() => other.close());
  op.setRedirectUris([other.redirectUri, catcher.redirectUri]);
  t.after(() => op.setRedirectUris([catcher.redirectUri]));
  const res = await fetch(
    authorizeUrl(BASIC_CLIENT.id, { state: 's', challenge: pkcePair().challenge, nonce: 'n' }).replace(
      encodeURIComponent(catcher.redirectUri),
      encodeURIComponent(other.redirectUri),
    ),
    { redirect: 'manual' },
  );
  assert.equal(res.status, 303, 'a registered redirect_uri → redirect to the interaction');
  op.setRedirectUris([other.redirectUri]);
  const refused = await fetch(
    authorizeUrl(BASIC_CLIENT.id, { state: 's', challenge: pkcePair().challenge, nonce: 'n' }),
    { redirect: 'manual' },
  );
  assert.equal(refused.status, 400, 'the old redirect_uri is no longer registered');
});
