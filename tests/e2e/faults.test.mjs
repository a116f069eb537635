// Fault matrix (SECURITY.md F3 "Token endpoint replies", F4, S5–S8, S15): every bad
// answer a token endpoint can give, injected by tests/support/faulty-provider.mjs, through the
// real authsplit-server binary. For each fault: the HTTP status and typed error the browser sees
// (stable codes of authsplit-core error.rs; statuses of authsplit-server error.rs), exactly one
// upstream token call (a code exchange is never retried, RFC 6749 §4.1.2/§10.5, SECURITY.md S8),
// time to fail within the configured deadline plus a margin, /auth/healthz still answering and
// the process alive (no panic).
//
// Providers are plain OAuth 2.0 (explicit endpoints, no ID token; no userinfo except `profile`),
// so the token endpoint is the only upstream call of an exchange. `strict` has every tolerance off
// (RFC 6749 §5.1 exactly); `github`, `wechat` and `lenient` switch on the documented opt-in
// tolerances. Also here: refresh faults, userinfo faults after a good token response (one
// deadline for the whole exchange), revocation faults at logout (RFC 7009 §2.2.1 retries),
// bounded concurrency toward the provider (and requests that never got a slot are never sent),
// and a final search of the server log for every value that crossed to the provider.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';

import { startFaultyProvider } from '../support/faulty-provider.mjs';
import { startServer, randomCookieKey } from '../support/server.mjs';
import { backendClient, pkcePair, randomToken } from '../support/http.mjs';

const ORIGIN = 'http://127.0.0.1:5173';
const REDIRECT_URI = `${ORIGIN}/callback`;
const CLIENT_ID = 'fp client/ü';
// RFC 6749 §2.3.1: must be form-urlencoded before base64 (SECURITY.md S4).
const CLIENT_SECRET = 'a+b:c%d/e f';
/** outbound total deadline (server.request_timeout_ms). */
const DEADLINE_MS = 1500;
/** slack for a debug build on a shared 2-core machine. */
const MARGIN_MS = 750;

let fp;
let srv;
let refusedPort;

function provider(extra = {}) {
  return {
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    client_auth: 'client_secret_basic',
    redirect_uri: REDIRECT_URI,
    authorization_endpoint: fp.authorizationEndpoint,
    token_endpoint: fp.tokenEndpoint,
    ...extra,
  };
}

/** A port nothing listens on (bound, then released). */
async function closedPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

before(async () => {
  fp = await startFaultyProvider();
  refusedPort = await closedPort();
  srv = await startServer({
    config: {
      server: {
        listen: '127.0.0.1:0',
        allowed_origins: [ORIGIN],
        cookie_key: randomCookieKey(),
        connect_timeout_ms: 500,
        request_timeout_ms: DEADLINE_MS,
      },
      providers: {
        strict: provider(),
        post: provider({ client_auth: 'client_secret_post' }),
        github: provider({ token_response: { error_in_200: true } }),
        wechat: provider({ token_response: { errcode_in_200: true, allow_json_as_text: true } }),
        lenient: provider({
          token_response: {
            allow_json_as_text: true,
            expires_in_as_string: true,
            allow_missing_token_type: true,
          },
        }),
        refused: provider({ token_endpoint: `http://127.0.0.1:${refusedPort}/token` }),
        profile: provider({ userinfo_endpoint: fp.userinfoEndpoint }),
        revoking: provider({ revocation_endpoint: fp.revocationEndpoint }),
      },
    },
  });
});

after(async () => {
  await srv?.close();
  await fp?.close();
});

/** POST /transactions for a fresh browser; returns what POST /token needs. */
async function registerTransaction(providerId) {
  const client = backendClient(srv.authUrl, { origin: ORIGIN });
  const { verifier, challenge } = pkcePair();
  const state = randomToken();
  const r = await client.post('/transactions', {
    provider: providerId,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  assert.equal(r.status, 201, r.text);
  return { client, verifier, state };
}

/**
 * One exchange through the backend with `fault` at the token endpoint.
 * @returns {Promise<{ r: object, ms: number, tokenCalls: number, calls: object[] }>}
 */
async function exchangeWith(fault, providerId = 'strict') {
  const { client, verifier, state } = await registerTransaction(providerId);
  fp.reset();
  fp.setFault(fault);
  const t0 = performance.now();
  const r = await client.post('/token', {
    provider: providerId,
    code: `made-up-code-${randomToken(16)}`,
    state,
    code_verifier: verifier,
  });
  const ms = performance.now() - t0;
  const calls = [...fp.calls];
  fp.reset();
  return { r, ms, tokenCalls: calls.filter((c) => c.endpoint === 'token').length, calls, client };
}

async function assertHealthy() {
  assert.ok(srv.running(), 'the server process is still alive');
  const h = await fetch(`${srv.authUrl}/healthz`);
  assert.equal(h.status, 200);
  assert.deepEqual(await h.json(), { status: 'ok' });
}

/** The common assertions of an error outcome. */
function assertError(out, { status, code, cls, providerError, retryAfter, deadline = false }) {
  const { r, ms, tokenCalls, calls } = out;
  assert.equal(r.status, status, `status (body ${r.text})`);
  assert.equal(r.json?.error, code, `typed code (body ${r.text})`);
  if (cls) assert.equal(r.json.class, cls, 'error class');
  assert.equal(typeof r.json.error_description, 'string');
  if (providerError !== undefined) assert.equal(r.json.provider_error ?? null, providerError, 'provider_error');
  // SECURITY.md S8: exactly one upstream call, never a retry; nothing else was called.
  assert.equal(tokenCalls, 1, 'exactly one token request reached the provider');
  assert.equal(calls.length, 1, `no other upstream call (${calls.map((c) => c.endpoint)})`);
  // SECURITY.md S15: fails within the configured total deadline (+ margin).
  assert.ok(ms <= DEADLINE_MS + MARGIN_MS, `failed after ${ms.toFixed(0)} ms (deadline ${DEADLINE_MS})`);
  if (deadline) assert.ok(ms >= DEADLINE_MS - 100, `a timeout fires at the deadline, not early (${ms.toFixed(0)} ms)`);
  // SECURITY.md S9 on error bodies too; no tokens reach the browser, no session cookie.
  assert.equal(r.headers.get('cache-control'), 'no-store');
  // The provider's WWW-Authenticate is never passed on (it would open the browser's Basic dialog).
  assert.equal(r.headers.get('www-authenticate'), null);
  assert.ok(!('access_token' in r.json), 'no access token in an error body');
  const setCookies = r.headers.getSetCookie();
  assert.ok(!setCookies.some((h) => /^__Host-authsplit-session=[^;]+;/.test(h) && !/Max-Age=0/i.test(h)), 'no session cookie');
  // The transaction was consumed (single use) whatever happened upstream.
  assert.ok(setCookies.some((h) => h.startsWith('__Host-authsplit-tx-') && /Max-Age=0/i.test(h)), 'tx cookie cleared');
  if (retryAfter === null) assert.equal(r.headers.get('retry-after'), null, 'no Retry-After');
  else if (typeof retryAfter === 'number') assert.equal(r.headers.get('retry-after'), String(retryAfter));
  else if (Array.isArray(retryAfter)) {
    const v = Number(r.headers.get('retry-after'));
    assert.ok(v >= retryAfter[0] && v <= retryAfter[1], `Retry-After ${r.headers.get('retry-after')} in ${retryAfter}`);
  }
}

// fault → what the browser must see, from the core parser's documented mapping (token.rs module
// docs) and the server's status table (server error.rs).
const BAD = { status: 502, code: 'provider_bad_response' };
const MATRIX = [
  // RFC 6749 §5.1: a success is 200 + application/json + JSON object + string access_token +
  // token_type bearer + numeric expires_in.
  ['html', 'strict', { ...BAD, cls: 'configuration', providerError: null }],
  ['text_json', 'strict', { ...BAD }],
  ['github_error', 'strict', { ...BAD, providerError: 'bad_verification_code' }],
  ['wechat_errcode', 'strict', { ...BAD }],
  ['broken_json', 'strict', { ...BAD }],
  ['truncated_json', 'strict', { ...BAD }],
  ['null_json', 'strict', { ...BAD }],
  ['array_json', 'strict', { ...BAD }],
  ['no_access_token', 'strict', { ...BAD }],
  ['numeric_access_token', 'strict', { ...BAD }],
  ['empty_access_token', 'strict', { ...BAD }],
  ['unknown_token_type', 'strict', { ...BAD }],
  ['no_token_type', 'strict', { ...BAD }],
  ['string_expires_in', 'strict', { ...BAD }],
  // Opt-in provider shapes (token.rs: GitHub `error` in 200, WeChat `errcode`).
  ['github_error', 'github', { status: 400, code: 'invalid_grant', cls: 'reauthenticate', providerError: 'bad_verification_code' }],
  ['wechat_errcode', 'wechat', { status: 400, code: 'invalid_grant', cls: 'reauthenticate', providerError: '40029' }],
  // RFC 6749 §5.2 errors.
  ['invalid_grant', 'strict', { status: 400, code: 'invalid_grant', cls: 'reauthenticate', providerError: 'invalid_grant' }],
  // SECURITY.md S7: 401 + WWW-Authenticate is a configuration error.
  ['invalid_client_401', 'strict', { status: 502, code: 'invalid_client', cls: 'configuration', providerError: 'invalid_client' }],
  ['unauthorized_401', 'strict', { status: 502, code: 'invalid_client', cls: 'configuration', providerError: null }],
  // SECURITY.md S5: redirects are never followed.
  ['redirect', 'strict', { ...BAD }],
  // 429/503 → provider_unavailable, retryable, Retry-After passed on when it is usable.
  ['rate_limited_seconds', 'strict', { status: 503, code: 'provider_unavailable', cls: 'retryable', retryAfter: 7 }],
  ['rate_limited_date', 'strict', { status: 503, code: 'provider_unavailable', cls: 'retryable', retryAfter: [110, 120] }],
  ['rate_limited_garbage', 'strict', { status: 503, code: 'provider_unavailable', cls: 'retryable', retryAfter: null }],
  ['unavailable_seconds', 'strict', { status: 503, code: 'provider_unavailable', cls: 'retryable', retryAfter: 42 }],
  ['unavailable_date', 'strict', { status: 503, code: 'provider_unavailable', cls: 'retryable', retryAfter: [290, 300] }],
  ['unavailable_garbage', 'strict', { status: 503, code: 'provider_unavailable', cls: 'retryable', retryAfter: null }],
  // 5xx without a §5.2 body → provider_bad_response (retryable); with one → provider_error.
  ['server_error_500', 'strict', { ...BAD, cls: 'retryable', providerError: null }],
  ['server_error_json', 'strict', { status: 502, code: 'provider_error', cls: 'retryable', providerError: 'server_error' }],
  // SECURITY.md S15: a cap on the response body size (max_response_bytes, 256 KiB by default).
  ['huge_body', 'strict', { ...BAD }],
  ['huge_chunked', 'strict', { ...BAD }],
  // Transport failures.
  ['truncated_body', 'strict', { status: 502, code: 'provider_unreachable', cls: 'retryable' }],
  ['reset_before_headers', 'strict', { status: 502, code: 'provider_unreachable', cls: 'retryable' }],
  ['reset_after_headers', 'strict', { status: 502, code: 'provider_unreachable', cls: 'retryable' }],
  // SECURITY.md S15: total deadline, body included.
  ['never', 'strict', { status: 504, code: 'provider_timeout', cls: 'retryable', deadline: true }],
  ['slow_headers', 'strict', { status: 504, code: 'provider_timeout', cls: 'retryable', deadline: true }],
  [{ name: 'slow_body', intervalMs: 100 }, 'strict', { status: 504, code: 'provider_timeout', cls: 'retryable', deadline: true }],
];

describe('token endpoint fault matrix (SECURITY.md F3)', () => {
  for (const [fault, providerId, expect] of MATRIX) {
    const name = typeof fault === 'string' ? fault : fault.name;
    test(`${name} via ${providerId} → ${expect.status} ${expect.code}, one upstream call, ≤ deadline, still healthy`, async () => {
      const out = await exchangeWith(fault, providerId);
      assertError(out, expect);
      if (name === 'redirect') assert.equal(fp.count('elsewhere'), 0, 'the redirect target was never called');
      await assertHealthy();
    });
  }

  test('connection refused → 502 provider_unreachable (retryable), fast, still healthy', async () => {
    const { client, verifier, state } = await registerTransaction('refused');
    fp.reset();
    const t0 = performance.now();
    const r = await client.post('/token', { provider: 'refused', code: 'made-up-code-refused', state, code_verifier: verifier });
    const ms = performance.now() - t0;
    assert.equal(r.status, 502, r.text);
    assert.equal(r.json.error, 'provider_unreachable');
    assert.equal(r.json.class, 'retryable');
    assert.ok(ms <= DEADLINE_MS + MARGIN_MS, `${ms} ms`);
    assert.equal(fp.count(), 0);
    await assertHealthy();
  });
});

describe('HTTP-level oddities (beyond SECURITY.md F3)', () => {
  // Not in the catalogue: the code may be either transport or protocol flavoured, but it is typed,
  // one call, fast, and the server stays healthy.
  for (const fault of ['huge_header', 'garbage_http']) {
    test(`${fault} → 502 typed (provider_unreachable or provider_bad_response), one call, still healthy`, async () => {
      const out = await exchangeWith(fault);
      assert.equal(out.r.status, 502, out.r.text);
      assert.ok(['provider_unreachable', 'provider_bad_response'].includes(out.r.json.error), out.r.text);
      assert.equal(out.tokenCalls, 1);
      assert.ok(out.ms <= DEADLINE_MS + MARGIN_MS);
      await assertHealthy();
    });
  }
  test('a valid answer framed without Content-Length (ended by close, legal HTTP/1.1) → 200', async () => {
    const out = await exchangeWith('close_delimited_ok');
    assert.equal(out.r.status, 200, out.r.text);
    assert.equal(out.tokenCalls, 1);
  });
});

describe('tolerances switch on only where configured', () => {
  for (const [fault, providerId] of [
    ['text_json', 'lenient'],
    ['text_json', 'wechat'],
    ['string_expires_in', 'lenient'],
    ['no_token_type', 'lenient'],
  ]) {
    test(`${fault} via ${providerId} → 200 with an access token (same fault is 502 via strict)`, async () => {
      const { r, tokenCalls, calls } = await exchangeWith(fault, providerId);
      assert.equal(r.status, 200, r.text);
      assert.equal(typeof r.json.access_token, 'string');
      assert.equal(r.json.token_type, 'bearer');
      assert.equal(tokenCalls, 1);
      assert.equal(calls.length, 1);
      assert.ok(!('refresh_token' in r.json));
    });
  }
});

describe('the token request itself (SECURITY.md S4, RFC 6749 §4.1.3, §2.3.1; RFC 7636 §4.5)', () => {
  test('client_secret_basic: form POST, Accept JSON, id and secret form-urlencoded before base64, one auth method', async () => {
    const { client, verifier, state } = await registerTransaction('strict');
    fp.reset();
    const code = `code-${randomToken()}`;
    const r = await client.post('/token', { provider: 'strict', code, state, code_verifier: verifier });
    assert.equal(r.status, 200, r.text);
    assert.equal(fp.count('token'), 1);
    const call = fp.tokenCalls()[0];
    assert.equal(call.method, 'POST');
    assert.equal(call.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.match(call.headers.accept, /application\/json/);
    assert.equal(call.clientAuth, 'client_secret_basic');
    const raw = Buffer.from(call.headers.authorization.replace(/^Basic /, ''), 'base64').toString('utf8');
    const enc = (s) => new URLSearchParams({ x: s }).toString().slice(2);
    assert.equal(raw, `${enc(CLIENT_ID)}:${enc(CLIENT_SECRET)}`);
    assert.deepEqual(call.basic, { id: CLIENT_ID, secret: CLIENT_SECRET });
    assert.deepEqual(Object.keys(call.form).sort(), ['code', 'code_verifier', 'grant_type', 'redirect_uri']);
    assert.deepEqual(call.form, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    });
    // The success reply: no-store, session cookie set, tx cookie cleared, no refresh token.
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.headers.get('pragma'), 'no-cache');
    assert.ok(!('refresh_token' in r.json));
    assert.ok(client.jar.cookies.has('__Host-authsplit-session'));
    assert.ok(![...client.jar.cookies.keys()].some((k) => k.startsWith('__Host-authsplit-tx')));
  });

  test('client_secret_post: id and secret in the body only, no Authorization header', async () => {
    const { client, verifier, state } = await registerTransaction('post');
    fp.reset();
    const r = await client.post('/token', { provider: 'post', code: 'code-post-1', state, code_verifier: verifier });
    assert.equal(r.status, 200, r.text);
    const call = fp.tokenCalls()[0];
    assert.equal(call.clientAuth, 'client_secret_post');
    assert.equal(call.headers.authorization, undefined);
    assert.equal(call.form.client_id, CLIENT_ID);
    assert.equal(call.form.client_secret, CLIENT_SECRET);
  });
});

describe('no upstream call without a valid bound transaction (SECURITY.md S2)', () => {
  test('a made-up code with no transaction cookie → 400 transaction_missing, 0 upstream calls', async () => {
    const client = backendClient(srv.authUrl, { origin: ORIGIN });
    fp.reset();
    const r = await client.post('/token', {
      provider: 'strict',
      code: 'made-up-code',
      state: randomToken(),
      code_verifier: pkcePair().verifier,
    });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, 'transaction_missing');
    assert.equal(fp.count(), 0);
  });

  test('a forged transaction cookie → 400 transaction_missing, 0 upstream calls', async () => {
    const client = backendClient(srv.authUrl, { origin: ORIGIN });
    const state = randomToken();
    // Named as the server names the tx cookie of this state (one per sign-in).
    client.jar.cookies.set(`__Host-authsplit-tx-${createHash('sha256').update(state).digest('hex').slice(0, 16)}`, randomToken(120));
    fp.reset();
    const r = await client.post('/token', {
      provider: 'strict',
      code: 'made-up-code',
      state,
      code_verifier: pkcePair().verifier,
    });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, 'transaction_missing');
    assert.equal(fp.count(), 0);
  });

  test('a failed exchange consumed the transaction: the same cookie again → transaction_used, 0 calls', async () => {
    const { client, verifier, state } = await registerTransaction('strict');
    const saved = client.jar.clone();
    fp.setFault('reset_before_headers');
    const first = await client.post('/token', { provider: 'strict', code: 'c1-abcdef', state, code_verifier: verifier });
    assert.equal(first.json.error, 'provider_unreachable');
    fp.reset();
    const again = await client.post(
      '/token',
      { provider: 'strict', code: 'c1-abcdef', state, code_verifier: verifier },
      { jar: saved },
    );
    assert.equal(again.status, 400, again.text);
    assert.equal(again.json.error, 'transaction_used');
    assert.equal(fp.count(), 0, 'a retry of a possibly-delivered code exchange never reaches the provider');
  });
});

describe('refresh faults (RFC 6749 §6; SECURITY.md S10)', () => {
  /** A signed-in browser (ok exchange with a refresh token). */
  async function session() {
    const { client, verifier, state } = await registerTransaction('strict');
    fp.reset();
    const r = await client.post('/token', { provider: 'strict', code: `c-${randomToken(8)}`, state, code_verifier: verifier });
    assert.equal(r.status, 200, r.text);
    return client;
  }

  for (const [fault, status, code, keepsSession, deadline] of [
    ['invalid_grant', 400, 'invalid_grant', false],
    ['unavailable_seconds', 503, 'provider_unavailable', true],
    ['html', 502, 'provider_bad_response', true],
    ['reset_before_headers', 502, 'provider_unreachable', true],
    ['never', 504, 'provider_timeout', true, true],
  ]) {
    test(`refresh with ${fault} → ${status} ${code}, one upstream call, session ${keepsSession ? 'kept' : 'ended'}`, async () => {
      const client = await session();
      fp.reset();
      fp.setFault(fault);
      const t0 = performance.now();
      const r = await client.post('/refresh', {});
      const ms = performance.now() - t0;
      assert.equal(r.status, status, r.text);
      assert.equal(r.json.error, code);
      assert.equal(fp.tokenCalls('refresh_token').length, 1);
      assert.equal(fp.count(), 1);
      assert.ok(ms <= DEADLINE_MS + MARGIN_MS, `${ms} ms`);
      if (deadline) assert.ok(ms >= DEADLINE_MS - 100, `${ms} ms`);
      const cleared = r.headers.getSetCookie().some((h) => h.startsWith('__Host-authsplit-session=') && /Max-Age=0/i.test(h));
      assert.equal(cleared, !keepsSession, 'session cookie cleared only when the grant is dead');
      assert.equal(client.jar.cookies.has('__Host-authsplit-session'), keepsSession);
      fp.reset();
      await assertHealthy();
    });
  }
});

describe('userinfo faults after a successful token response (OIDC Core §5.3; SECURITY.md S15)', () => {
  for (const [fault, status, code] of [
    ['never', 504, 'provider_timeout'],
    ['html', 502, 'provider_bad_response'],
    ['reset_before_headers', 502, 'provider_unreachable'],
    ['huge_chunked', 502, 'provider_bad_response'],
    ['unauthorized_401', 502, 'provider_bad_response'],
    // SECURITY.md S5: no redirect is followed, from any provider endpoint.
    ['redirect', 502, 'provider_bad_response'],
  ]) {
    test(`userinfo ${fault} → ${status} ${code}; one token call, one userinfo call, no session`, async () => {
      const { client, verifier, state } = await registerTransaction('profile');
      fp.reset();
      fp.setUserinfoFault(fault);
      const t0 = performance.now();
      const r = await client.post('/token', { provider: 'profile', code: `c-${randomToken(8)}`, state, code_verifier: verifier });
      const ms = performance.now() - t0;
      assert.equal(r.status, status, r.text);
      assert.equal(r.json.error, code);
      assert.equal(fp.count('token'), 1);
      assert.equal(fp.count('userinfo'), 1);
      assert.equal(fp.count('elsewhere'), 0);
      assert.ok(!('access_token' in r.json));
      assert.ok(!client.jar.cookies.has('__Host-authsplit-session'), 'no session without a user');
      assert.ok(ms <= DEADLINE_MS + MARGIN_MS, `${ms.toFixed(0)} ms`);
      fp.reset();
      await assertHealthy();
    });
  }

  test(
    'the whole POST /token (token call + userinfo call) fails within one deadline, not one per upstream call',
    async () => {
      const { client, verifier, state } = await registerTransaction('profile');
      fp.reset();
      fp.setFault({ name: 'ok', delayMs: 1200 });
      fp.setUserinfoFault('never');
      const t0 = performance.now();
      const r = await client.post('/token', { provider: 'profile', code: `c-${randomToken(8)}`, state, code_verifier: verifier });
      const ms = performance.now() - t0;
      fp.reset();
      assert.equal(r.status, 504, r.text);
      assert.ok(ms <= DEADLINE_MS + MARGIN_MS, `failed after ${ms.toFixed(0)} ms (deadline ${DEADLINE_MS})`);
    },
  );
});

describe('revocation faults at logout (RFC 7009 §2.2, §2.2.1; SECURITY.md S12)', () => {
  for (const [fault, revoked] of [
    ['ok', true],
    ['unavailable_seconds', false],
    ['rate_limited_seconds', false],
    ['server_error_500', false],
    // RFC 7009 §2.2: a 200 means revoked; "the content of the response body is ignored".
    ['html', true],
    ['redirect', false],
    ['reset_before_headers', false],
    ['never', false],
  ]) {
    test(`revocation ${fault} → logout 200, revoked ${revoked}, cookies cleared, one revocation call, within the deadline`, async () => {
      const { client, verifier, state } = await registerTransaction('revoking');
      fp.reset();
      const ok = await client.post('/token', { provider: 'revoking', code: `c-${randomToken(8)}`, state, code_verifier: verifier });
      assert.equal(ok.status, 200, ok.text);
      const rt = fp.issued.refresh.at(-1);
      fp.reset();
      fp.setRevocationFault(fault);
      const t0 = performance.now();
      const r = await client.post('/logout', {});
      const ms = performance.now() - t0;
      // Background retries of earlier cases (RFC 7009 §2.2.1) may arrive meanwhile: only this
      // session's token counts.
      const calls = fp.calls.filter((c) => c.endpoint !== 'revocation' || c.form.token === rt);
      fp.reset();
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.revoked, revoked, 'revoked only on a 200 (RFC 7009 §2.2)');
      assert.equal(calls.filter((c) => c.endpoint === 'revocation').length, 1, 'one revocation request before the reply');
      assert.equal(calls.length, 1, 'nothing else called (a redirect is not followed)');
      assert.equal(calls[0].form.token, rt);
      assert.equal(calls[0].form.token_type_hint, 'refresh_token');
      assert.equal(calls[0].clientAuth, 'client_secret_basic');
      assert.ok(!client.jar.cookies.has('__Host-authsplit-session'), 'the session cookie is cleared whatever the provider said');
      assert.ok(ms <= DEADLINE_MS + MARGIN_MS, `${ms.toFixed(0)} ms`);
      assert.equal((await client.post('/refresh', {})).status, 401);
      await assertHealthy();
    });
  }
});

test(
  'revocation 503 + Retry-After: 1 → retried once after ≥ 1 s and the token is revoked (SECURITY.md S12, RFC 7009 §2.2.1)',
  async () => {
    const { client, verifier, state } = await registerTransaction('revoking');
    fp.reset();
    assert.equal((await client.post('/token', { provider: 'revoking', code: `c-${randomToken(8)}`, state, code_verifier: verifier })).status, 200);
    const rt = fp.issued.refresh.at(-1);
    fp.setRevocationFault({ name: 'unavailable_seconds', retryAfter: 1 });
    const r = await client.post('/logout', {});
    assert.equal(r.json.revoked, false);
    fp.setRevocationFault('ok');
    const t0 = performance.now();
    while (fp.refreshTokenIsActive(rt) && performance.now() - t0 < 5000) await new Promise((res) => setTimeout(res, 100));
    const calls = fp.calls.filter((c) => c.endpoint === 'revocation' && c.form.token === rt);
    fp.reset();
    assert.ok(!fp.refreshTokenIsActive(rt), 'the refresh token is revoked in the end');
    assert.equal(calls.length, 2, 'one retry');
    const gap = calls[1].at - calls[0].at;
    assert.ok(gap >= 900, `the retry waited for Retry-After: 1 (${gap} ms)`);
    assert.equal(calls[1].form.token, rt);
  },
);

test('revocation that stays 503 + Retry-After: 1 → a bounded number of retries, then it stops (no retry storm)', async () => {
  const { client, verifier, state } = await registerTransaction('revoking');
  fp.reset();
  assert.equal((await client.post('/token', { provider: 'revoking', code: `c-${randomToken(8)}`, state, code_verifier: verifier })).status, 200);
  const rt = fp.issued.refresh.at(-1);
  fp.setRevocationFault({ name: 'unavailable_seconds', retryAfter: 1 });
  const mine = () => fp.history.filter((c) => c.endpoint === 'revocation' && c.form.token === rt);
  const r = await client.post('/logout', {});
  assert.equal(r.json.revoked, false);
  // Wait until the attempts stop: no new one for 1.8 s (Retry-After is 1 s), at most 12 s.
  const t0 = performance.now();
  let last = mine().length;
  let quietSince = performance.now();
  while (performance.now() - quietSince < 1800 && performance.now() - t0 < 12_000) {
    await new Promise((res) => setTimeout(res, 100));
    if (mine().length !== last) {
      last = mine().length;
      quietSince = performance.now();
    }
  }
  const attempts = mine();
  fp.reset();
  assert.ok(attempts.length >= 2 && attempts.length <= 5, `attempts: ${attempts.length}`);
  for (let i = 1; i < attempts.length; i++) assert.ok(attempts[i].at - attempts[i - 1].at >= 900, 'each retry honours Retry-After');
  assert.ok(performance.now() - quietSince >= 1800, 'the retries stopped');
  await assertHealthy();
});

test('5 concurrent refreshes of one session while the provider never answers → one upstream call, all 504 within the deadline', async () => {
  const { client, verifier, state } = await registerTransaction('strict');
  fp.reset();
  const ok = await client.post('/token', { provider: 'strict', code: `c-${randomToken(8)}`, state, code_verifier: verifier });
  assert.equal(ok.status, 200, ok.text);
  fp.reset();
  fp.setFault('never');
  const t0 = performance.now();
  const rs = await Promise.all(Array.from({ length: 5 }, () => client.post('/refresh', {}, { jar: client.jar.clone() })));
  const ms = performance.now() - t0;
  const upstream = fp.tokenCalls('refresh_token').length;
  fp.reset();
  assert.equal(upstream, 1, 'one refresh request reached the provider');
  for (const r of rs) {
    assert.equal(r.status, 504, r.text);
    assert.equal(r.json.error, 'provider_timeout');
  }
  assert.ok(ms <= DEADLINE_MS + MARGIN_MS, `${ms.toFixed(0)} ms`);
  await assertHealthy();
});

describe('bounded concurrency toward a provider (SECURITY.md S15: max_concurrent_requests)', () => {
  /** A shorter deadline for this server: these cases wait for it. */
  const CAP_DEADLINE_MS = 1500; // 6 exchanges × 100 ms through 2 slots need 300 ms; room for a loaded CI machine
  let capped;
  before(async () => {
    capped = await startServer({
      config: {
        server: {
          listen: '127.0.0.1:0',
          allowed_origins: [ORIGIN],
          cookie_key: randomCookieKey(),
          request_timeout_ms: CAP_DEADLINE_MS,
          max_concurrent_requests: 2,
        },
        providers: { strict: provider() },
      },
    });
  });
  after(async () => capped?.close());

  async function txOn(server) {
    const client = backendClient(server.authUrl, { origin: ORIGIN });
    const { verifier, challenge } = pkcePair();
    const state = randomToken();
    assert.equal((await client.post('/transactions', { provider: 'strict', state, code_challenge: challenge, code_challenge_method: 'S256' })).status, 201);
    const code = `c-${randomToken(8)}`;
    const go = () => client.post('/token', { provider: 'strict', code, state, code_verifier: verifier });
    go.code = code;
    return go;
  }

  test('6 concurrent exchanges with a cap of 2: at most 2 at the provider at once, all succeed', async () => {
    const go = await Promise.all(Array.from({ length: 6 }, () => txOn(capped)));
    fp.reset();
    fp.setFault({ name: 'ok', delayMs: 100 });
    const rs = await Promise.all(go.map((f) => f()));
    const max = fp.maxInFlight('token');
    const n = fp.count('token');
    fp.reset();
    for (const r of rs) assert.equal(r.status, 200, r.text);
    assert.equal(n, 6);
    assert.equal(max, 2, `at most 2 in flight (saw ${max})`);
  });

  /** 4 exchanges against a hanging provider with 2 slots. */
  async function saturate() {
    const go = await Promise.all(Array.from({ length: 4 }, () => txOn(capped)));
    fp.reset();
    fp.setFault('never');
    const t0 = performance.now();
    const rs = await Promise.all(go.map((f) => f()));
    const ms = performance.now() - t0;
    const out = { go, rs, ms, max: fp.maxInFlight('token'), codes: fp.calls.map((c) => c.form.code), arrivals: fp.calls.map((c) => Math.round(c.at - (performance.timeOrigin + t0))) };
    fp.reset();
    return out;
  }

  test('cap full of hanging requests: never more than 2 at the provider, every exchange fails at the deadline, still healthy', async () => {
    const { rs, ms, max } = await saturate();
    for (const r of rs) assert.equal(r.json.error, 'provider_timeout', r.text);
    assert.ok(max <= 2, `at most 2 in flight (saw ${max})`);
    assert.ok(ms <= CAP_DEADLINE_MS + MARGIN_MS, `${ms.toFixed(0)} ms`);
    const h = await fetch(`${capped.authUrl}/healthz`);
    assert.equal(h.status, 200);
  });

  test('an exchange that waited its whole deadline for a slot is never sent (it could only burn the code) and its transaction stays usable (SECURITY.md S8)', async () => {
    // The late-slot race showed up in about half of the runs before the fix; three rounds.
    for (let round = 0; round < 3; round++) {
      const { go, rs, arrivals, codes } = await saturate();
      assert.ok(arrivals.every((t) => t < CAP_DEADLINE_MS - 200), `provider saw requests at +${arrivals.join(', +')} ms`);
      assert.equal(arrivals.length, 2);
      // The two never sent: same cookie, same code → now they go through, once each.
      let retried = 0;
      for (let i = 0; i < go.length; i++) {
        const cleared = rs[i].headers.getSetCookie().some((h) => h.startsWith('__Host-authsplit-tx-') && /Max-Age=0/i.test(h));
        // Consumed exactly when the code reached the provider.
        assert.equal(cleared, codes.includes(go[i].code), `exchange ${i}: tx consumed iff its code was sent`);
        if (cleared) continue;
        const again = await go[i]();
        assert.equal(again.status, 200, again.text);
        retried++;
      }
      assert.equal(retried, 2, 'exactly the two exchanges that never left kept their transaction');
      assert.equal(fp.count('token'), 2, 'one call each');
      fp.reset();
    }
  });
});

test(
  'a code redeemed at the provider is never sent again, even when the userinfo call after it got no slot (SECURITY.md S8, RFC 6749 §4.1.2)',
  async () => {
    // One slot. A's token call holds it briefly; B queues behind and then hangs in it, so A's userinfo
    // call gets no slot in time.
    const one = await startServer({
      config: {
        server: { listen: '127.0.0.1:0', allowed_origins: [ORIGIN], cookie_key: randomCookieKey(), request_timeout_ms: 800, max_concurrent_requests: 1 },
        providers: { profile: provider({ userinfo_endpoint: fp.userinfoEndpoint }) },
      },
    });
    try {
      const open = async () => {
        const client = backendClient(one.authUrl, { origin: ORIGIN });
        const { verifier, challenge } = pkcePair();
        const state = randomToken();
        assert.equal((await client.post('/transactions', { provider: 'profile', state, code_challenge: challenge, code_challenge_method: 'S256' })).status, 201);
        const code = `code-${randomToken(8)}`;
        return { code, client, go: (o) => client.post('/token', { provider: 'profile', code, state, code_verifier: verifier }, o) };
      };
      const a = await open();
      const b = await open();
      const saved = a.client.jar.clone();
      fp.reset();
      fp.queueFault({ name: 'ok', delayMs: 150 }, 'never');
      const pa = a.go();
      await new Promise((r) => setTimeout(r, 20));
      const [ra] = await Promise.all([pa, b.go()]);
      assert.ok(ra.status >= 500, ra.text);
      assert.equal(fp.tokenCalls().filter((c) => c.form.code === a.code).length, 1, 'A\'s code was redeemed once');
      // The browser may retry what the server calls retryable; the code must not go out again.
      const again = await a.go();
      assert.equal(fp.tokenCalls().filter((c) => c.form.code === a.code).length, 1, `A's code sent again (retry answered ${again.status})`);
      // The failed reply cleared the tx cookie (so: missing) …
      assert.equal(again.json?.error, 'transaction_missing', again.text);
      // … and a browser that kept the old cookie is refused too.
      const replay = await a.go({ jar: saved });
      assert.equal(replay.json?.error, 'transaction_used', replay.text);
      assert.equal(fp.tokenCalls().filter((c) => c.form.code === a.code).length, 1);
    } finally {
      fp.reset();
      await one.close();
    }
  },
);

test('after the whole matrix: a normal exchange still works, nothing panicked, no secret in the log (SECURITY.md S14)', async () => {
  const { r } = await exchangeWith('ok');
  assert.equal(r.status, 200, r.text);
  await assertHealthy();
  const logs = srv.logs();
  assert.ok(!/panicked|RUST_BACKTRACE|stack backtrace/i.test(logs), 'no panic in the server log');
  // Every value that crossed to the provider during this file, and every token it issued.
  const enc = (s) => new URLSearchParams({ x: s }).toString().slice(2);
  const needles = new Map([
    [CLIENT_SECRET, 'client_secret'],
    [enc(CLIENT_SECRET), 'client_secret (form-encoded)'],
  ]);
  for (const c of fp.history) {
    if (c.headers.authorization) needles.set(c.headers.authorization.replace(/^\w+ /, ''), `${c.endpoint} Authorization`);
    for (const k of ['code', 'code_verifier', 'refresh_token', 'token']) if (c.form[k]) needles.set(c.form[k], k);
  }
  for (const t of [...fp.issued.access, ...fp.issued.refresh]) needles.set(t, 'issued token');
  assert.ok(needles.size > 100, `${needles.size} values searched`);
  const leaks = [...needles].filter(([v]) => logs.includes(v)).map(([v, k]) => `${k} ${v.slice(0, 10)}…`);
  assert.deepEqual(leaks, []);
});
