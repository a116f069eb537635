// What binds an authorization code to the browser that started the sign-in (docs/SECURITY.md
// S16 and "Presets without PKCE"; RFC 7636 §1, RFC 9700 §2.1.1). An attacker who has stolen a victim's
// code registers a transaction of their own (their own state, challenge and verifier) and sends
// the victim's code to /token:
//
//   - a preset with PKCE (GitHub, S256): the backend sends the attacker's `code_verifier`, the
//     provider (the quirk server, which checks RFC 7636 §4.6 like the platform) finds it does
//     not match the victim's challenge → `invalid_grant`, no session, no token;
//   - a preset whose provider documents no PKCE (Gitee): nothing can bind the code, the exchange
//     succeeds for the attacker — the documented risk, and the start-up log says so by name.
//
// No browser: the victim's authorization request goes to the quirk server's /__quirk/authorize
// (tests/support/quirk-provider.mjs), which answers with the callback URL.
//
//   cargo build -p authsplit-server && node --test tests/e2e/code-binding.test.mjs

import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, randomCookieKey } from '../support/server.mjs';
import { backendClient, pkcePair, randomToken } from '../support/http.mjs';
import { startQuirkProvider, QUIRK_CLIENTS as C } from '../support/quirk-provider.mjs';

const SPA = 'http://127.0.0.1:5173';
const REDIRECT = `${SPA}/callback`;

let quirk;
let srv;

before(async () => {
  quirk = await startQuirkProvider({ redirectUris: [REDIRECT] });
  const preset = (id) => ({
    preset: id,
    client_id: C[id].client_id,
    client_secret: C[id].client_secret,
    dev_origin: quirk.origin,
  });
  srv = await startServer({
    config: {
      server: {
        listen: '127.0.0.1:0',
        allowed_origins: [SPA],
        cookie_key: randomCookieKey(),
        redirect_uri: REDIRECT,
      },
      providers: { github: preset('github'), gitee: preset('gitee') },
    },
  });
});

after(async () => {
  await srv?.close();
  await quirk?.close();
});

/** The victim signs in up to the callback; returns the code the provider issued. */
async function victimCode(provider) {
  const victim = backendClient(srv.authUrl, { origin: SPA });
  const { challenge } = pkcePair();
  const state = randomToken();
  const t = await victim.post('/transactions', { provider, state, code_challenge: challenge, code_challenge_method: 'S256', nonce: randomToken() });
  assert.equal(t.status, 201, t.text);
  const href = t.json.authorization_url;
  const r = await (await fetch(`${quirk.origin}/__quirk/authorize`, { method: 'POST', body: href })).json();
  assert.ok(r.redirect, JSON.stringify(r));
  const cb = new URL(r.redirect);
  assert.equal(cb.searchParams.get('state'), state);
  return { code: cb.searchParams.get('code'), pkceSent: new URL(href).searchParams.get('code_challenge') === challenge };
}

/** The attacker's own transaction, then the victim's code. */
async function attackerRedeems(provider, code) {
  const attacker = backendClient(srv.authUrl, { origin: SPA });
  const { verifier, challenge } = pkcePair();
  const state = randomToken();
  const t = await attacker.post('/transactions', { provider, state, code_challenge: challenge, code_challenge_method: 'S256', nonce: randomToken() });
  assert.equal(t.status, 201, t.text);
  const tokenCalls = quirk.count(provider, 'token');
  const r = await attacker.post('/token', { provider, code, state, code_verifier: verifier });
  const sent = quirk.callsFor(provider, 'token').slice(tokenCalls);
  return { r, sent, attacker };
}

describe('a stolen code redeemed through the attacker\'s own transaction', () => {
  test('GitHub (PKCE S256): the provider refuses the attacker\'s verifier → invalid_grant, no session', async () => {
    const { code, pkceSent } = await victimCode('github');
    assert.equal(pkceSent, true, 'the GitHub preset sends a code_challenge');
    const { r, sent, attacker } = await attackerRedeems('github', code);
    assert.equal(sent.length, 1, 'one token request');
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, 'invalid_grant', r.text);
    assert.ok(!('access_token' in r.json));
    assert.equal(attacker.jar.cookies.has('__Host-authsplit-session'), false, 'no session in the attacker\'s jar');
    assert.ok(
      r.headers.getSetCookie().every((c) => !c.startsWith('__Host-authsplit-session=') || /Max-Age=0/i.test(c)),
      'no session cookie',
    );
    // The quirk server saw a code_verifier that does not match the victim's challenge.
    assert.match(quirk.problems('github').join('\n'), /code_verifier does not match the S256 challenge/);
  });

  test('Gitee (no PKCE at the provider): nothing binds the code — the attacker is signed in as the victim; the start-up log names the risk', async () => {
    const { code, pkceSent } = await victimCode('gitee');
    assert.equal(pkceSent, false, 'the Gitee preset sends no code_challenge (the provider documents none)');
    const { r, sent } = await attackerRedeems('gitee', code);
    assert.equal(sent.length, 1);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.access_token);
    assert.match(srv.stderr(), /provider `gitee` \(Gitee\) does not support PKCE: nothing binds an authorization code/);
    assert.doesNotMatch(srv.stderr(), /provider `github` \([^)]*\) does not support PKCE/);
  });
});
