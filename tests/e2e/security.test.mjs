// Security properties of the real authsplit-server binary (SECURITY.md A, B, S and F rules;
// RFC 10017 §6.1.3): exact cookie attributes (also chunked long sessions and the dev mode),
// cookie integrity, CORS and Origin checks, the backend-input catalogue (SECURITY.md F2), refresh
// under rotation with concurrent callers, concurrent redemption of one code, logout racing a
// refresh, and — in headless Chromium with the real wasm package — the open-redirect guard of the
// browser half (returnTo), sessions with long refresh tokens, and a real foreign page.
//
// The provider is tests/support/faulty-provider.mjs answering `ok` (fresh random tokens,
// refresh-token rotation with reuse detection), so every upstream call is counted.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { resolve } from 'node:path';
import { createHash } from 'node:crypto';

import { startFaultyProvider } from '../support/faulty-provider.mjs';
import { startOnFreePort, startServer, randomCookieKey, REPO_ROOT } from '../support/server.mjs';
import { backendClient, pkcePair, randomToken, s256, CookieJar } from '../support/http.mjs';
import { launchBrowser, newLoopbackContext } from '../support/browser.mjs';

const SPA = 'http://127.0.0.1:5173';
const FOREIGN = ['http://evil.example', 'null', `${SPA}/`, 'http://127.0.0.1:5174', 'https://127.0.0.1:5173', 'http://127.0.0.1:5173.evil.example', 'http://localhost:5173'];
const TX = '__Host-authsplit-tx';
// One tx cookie per sign-in, named after its state (parallel tabs, SECURITY.md F1).
const txName = (state) => `${TX}-${createHash('sha256').update(state).digest('hex').slice(0, 16)}`;
const SESSION = '__Host-authsplit-session';

let fp;
let srv;
let port;

function providerCfg(redirectUri, extra = {}) {
  return {
    client_id: 'sec-client',
    client_secret: `sec-secret-${randomToken(16)}`,
    redirect_uri: redirectUri,
    authorization_endpoint: fp.authorizationEndpoint,
    token_endpoint: fp.tokenEndpoint,
    revocation_endpoint: fp.revocationEndpoint,
    ...extra,
  };
}

before(async () => {
  fp = await startFaultyProvider();
  // The redirect URI must name the server's own port (the browser test completes a sign-in on
  // that origin).
  ({ port, srv } = await startOnFreePort((app) => ({
    config: {
      server: {
        allowed_origins: [SPA],
        request_timeout_ms: 3000,
        static_dir: resolve(REPO_ROOT, 'web/example/dist'),
      },
      providers: { fp: providerCfg(`${app}/rt-callback`) },
    },
  })));
});

after(async () => {
  await srv?.close();
  await fp?.close();
});

const client = (o = {}) => backendClient(srv.authUrl, { origin: SPA, ...o });

async function transaction(c = client(), { verifier, challenge } = pkcePair()) {
  const state = randomToken();
  const r = await c.post('/transactions', { provider: 'fp', state, code_challenge: challenge, code_challenge_method: 'S256' });
  assert.equal(r.status, 201, r.text);
  return { c, r, state, verifier };
}

async function signIn() {
  const { c, state, verifier } = await transaction();
  const r = await c.post('/token', { provider: 'fp', code: `code-${randomToken()}`, state, code_verifier: verifier });
  assert.equal(r.status, 200, r.text);
  return { c, r, state };
}

/** `name=value; A; B=c` → { name, value, attrs: Map(lower-case attribute → value) }. */
function parseSetCookie(h) {
  const [pair, ...rest] = h.split(';');
  const i = pair.indexOf('=');
  const attrs = new Map();
  for (const a of rest) {
    const [k, ...v] = a.trim().split('=');
    attrs.set(k.toLowerCase(), v.join('='));
  }
  return { name: pair.slice(0, i).trim(), value: pair.slice(i + 1).trim(), attrs };
}

/** POST `chunks` × `size` bytes chunked over a raw socket; resolves with the status and body. */
function rawChunkedPost(p, path, chunks, size) {
  return new Promise((resolveRes, reject) => {
    const sock = net.connect(p, '127.0.0.1');
    let got = '';
    let i = 0;
    let timer;
    sock.on('data', (d) => (got += d));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n([^]*)$/.exec(got);
      if (!m) return reject(new Error(`no HTTP response: ${JSON.stringify(got.slice(0, 200))}`));
      resolveRes({ status: Number(m[1]), text: m[2] });
    });
    sock.write(
      `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${p}\r\norigin: ${SPA}\r\ncontent-type: application/json\r\n` +
        'x-authsplit: 1\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n',
    );
    const chunk = 'x'.repeat(size);
    const pump = () => {
      if (sock.destroyed) return;
      // Over the limit after `chunks` chunks: stop writing (no terminating chunk) and wait.
      if (i++ >= chunks) return;
      sock.write(`${size.toString(16)}\r\n${chunk}\r\n`, () => setTimeout(pump, 30));
    };
    pump();
    timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('no answer within 10 s'));
    }, 10_000);
  });
}

// ---------------------------------------------------------------------------------------------
describe('cookies (RFC 10017 §6.1.3.2; RFC 6265bis §4.1.3.2 __Host- prefix)', () => {
  /** Attributes every authsplit cookie carries in the secure default mode. */
  function assertHostCookie(h, name, { maxAge }) {
    const c = parseSetCookie(h);
    assert.equal(c.name, name);
    assert.ok(c.attrs.has('secure'), `Secure: ${h}`);
    assert.ok(c.attrs.has('httponly'), `HttpOnly: ${h}`);
    assert.equal(c.attrs.get('samesite'), 'Strict', h);
    assert.equal(c.attrs.get('path'), '/', h);
    assert.ok(!c.attrs.has('domain'), `no Domain: ${h}`);
    assert.equal(c.attrs.get('max-age'), String(maxAge), h);
    const allowed = new Set(['secure', 'httponly', 'samesite', 'path', 'max-age', 'expires']);
    assert.deepEqual([...c.attrs.keys()].filter((k) => !allowed.has(k)), [], `no other attribute: ${h}`);
    if (maxAge === 0) {
      assert.equal(c.value, '', 'a removal carries no value');
      assert.ok(Date.parse(c.attrs.get('expires')) < Date.now(), 'removal expires in the past');
    } else {
      assert.ok(c.value.length > 40, 'an opaque encrypted value');
      assert.ok(!c.attrs.has('expires') || Date.parse(c.attrs.get('expires')) > Date.now());
    }
    return c;
  }

  test('transaction cookie: __Host-, Secure, HttpOnly, SameSite=Strict, Path=/, no Domain, Max-Age = TTL', async () => {
    const { r, state } = await transaction();
    const hs = r.headers.getSetCookie();
    assert.equal(hs.length, 1);
    const c = assertHostCookie(hs[0], txName(state), { maxAge: 600 });
    // Encrypted: neither state nor challenge readable in it.
    assert.ok(!/state|challenge|S256/.test(Buffer.from(decodeURIComponent(c.value), 'base64').toString('latin1')));
  });

  test('session cookie after sign-in, and the removal of the tx cookie, with the same attributes', async () => {
    const { r, state } = await signIn();
    const hs = r.headers.getSetCookie();
    const tx = hs.find((h) => h.startsWith(`${txName(state)}=`));
    const session = hs.find((h) => h.startsWith(`${SESSION}=`));
    assert.ok(tx && session, hs.join('\n'));
    assertHostCookie(tx, txName(state), { maxAge: 0 });
    assertHostCookie(session, SESSION, { maxAge: 1209600 });
  });

  test('logout removes both cookies with the same attributes (a __Host- removal needs Secure + Path=/)', async () => {
    const { c } = await signIn();
    const { state } = await transaction(c); // a sign-in pending in another tab
    const r = await c.post('/logout', {});
    assert.equal(r.status, 200, r.text);
    const hs = r.headers.getSetCookie();
    assertHostCookie(hs.find((h) => h.startsWith(`${SESSION}=`)), SESSION, { maxAge: 0 });
    assertHostCookie(hs.find((h) => h.startsWith(`${txName(state)}=`)), txName(state), { maxAge: 0 });
  });

  test('a long session (9000-char refresh token) stays server-side: one __Host- session cookie < 4096 bytes with the same attributes, no token in it; the refresh presents the token intact; stale chunk cookies are deleted', async () => {
    const long = `rt-${'L'.repeat(9000)}`;
    const reply = (rt) => (rec, req, res) => {
      const b = JSON.stringify({ access_token: `at-${randomToken()}`, token_type: 'Bearer', refresh_token: rt });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(b);
    };
    fp.setFault(reply(long));
    try {
      const { c, r } = await signIn();
      const sessionCookies = r.headers.getSetCookie().filter((h) => h.startsWith(SESSION));
      assert.equal(sessionCookies.length, 1, sessionCookies.map((h) => h.split('=')[0]).join());
      assertHostCookie(sessionCookies[0], SESSION, { maxAge: 1209600 });
      assert.ok(sessionCookies[0].split(';')[0].length < 4096, `${sessionCookies[0].split(';')[0].length} bytes`);
      assert.ok(!sessionCookies.join('').includes('LLLLLLLLLL'), 'the token is not readable in the cookies');
      // Chunk cookies an earlier cookie format left in the browser are deleted on the next write.
      c.jar.cookies.set(`${SESSION}-1`, 'stale');
      c.jar.cookies.set(`${SESSION}-2`, 'stale');
      fp.setFault(reply(`rt-short-${randomToken()}`));
      const rr = await c.post('/refresh', {});
      assert.equal(rr.status, 200, rr.text);
      assert.equal(fp.tokenCalls('refresh_token').at(-1).form.refresh_token, long, 'the long token came back intact');
      const hs = rr.headers.getSetCookie();
      for (const i of [1, 2]) {
        const del = hs.find((h) => h.startsWith(`${SESSION}-${i}=`));
        assert.ok(del, `chunk ${i} deleted`);
        assertHostCookie(del, `${SESSION}-${i}`, { maxAge: 0 });
      }
      assert.deepEqual([...c.jar.cookies.keys()].filter((k) => k.startsWith(SESSION)), [SESSION]);
      assert.equal((await c.post('/refresh', {})).status, 200, 'the session keeps working');
    } finally {
      fp.setFault('ok');
    }
  });

  test('cookies are authenticated: tampered, swapped (session value as tx) or foreign-key cookies are refused, 0 calls', async () => {
    const { c, state, verifier } = await transaction();
    const good = c.jar.cookies.get(txName(state));
    const body = { provider: 'fp', code: 'code-tamper-1', state, code_verifier: verifier };
    fp.reset();
    // one flipped character
    const flipped = good.slice(0, 10) + (good[10] === 'A' ? 'B' : 'A') + good.slice(11);
    const j1 = new CookieJar();
    j1.cookies.set(txName(state), flipped);
    const r1 = await c.post('/token', body, { jar: j1 });
    assert.equal(r1.json.error, 'transaction_missing');
    // a valid session cookie value presented as the tx cookie (names are authenticated)
    const { c: signed } = await signIn();
    fp.reset();
    const j2 = new CookieJar();
    j2.cookies.set(txName(state), signed.jar.cookies.get(SESSION));
    const r2 = await c.post('/token', body, { jar: j2 });
    assert.equal(r2.json.error, 'transaction_missing');
    // a tx cookie made by a server with another key
    const other = await startServer({
      config: {
        server: { listen: '127.0.0.1:0', allowed_origins: [SPA], cookie_key: randomCookieKey() },
        providers: { fp: providerCfg('http://127.0.0.1:9/cb') },
      },
    });
    try {
      const oc = backendClient(other.authUrl, { origin: SPA });
      const { verifier: v2, challenge: ch2 } = pkcePair();
      const st2 = randomToken();
      assert.equal((await oc.post('/transactions', { provider: 'fp', state: st2, code_challenge: ch2, code_challenge_method: 'S256' })).status, 201);
      const r3 = await c.post('/token', { provider: 'fp', code: 'code-tamper-3', state: st2, code_verifier: v2 }, { jar: oc.jar });
      assert.equal(r3.json.error, 'transaction_missing');
    } finally {
      await other.close();
    }
    assert.equal(fp.count(), 0, 'none of these reached the provider');
    // The untouched cookie still works.
    const ok = await c.post('/token', body);
    assert.equal(ok.status, 200, ok.text);
  });

  test('insecure_dev_cookies: drops only Secure and the __Host- prefix (HttpOnly, SameSite=Strict, Path=/ stay) and warns', async () => {
    const dev = await startServer({
      config: {
        server: { listen: '127.0.0.1:0', allowed_origins: [SPA], cookie_key: randomCookieKey(), insecure_dev_cookies: true },
        providers: { fp: providerCfg('http://127.0.0.1:9/cb') },
      },
    });
    try {
      const dc = backendClient(dev.authUrl, { origin: SPA });
      const { challenge } = pkcePair();
      const r = await dc.post('/transactions', { provider: 'fp', state: randomToken(), code_challenge: challenge, code_challenge_method: 'S256' });
      assert.equal(r.status, 201);
      const c = parseSetCookie(r.headers.getSetCookie()[0]);
      assert.match(c.name, /^authsplit-tx-[0-9a-f]{16}$/);
      assert.ok(!c.attrs.has('secure'));
      assert.ok(c.attrs.has('httponly'));
      assert.equal(c.attrs.get('samesite'), 'Strict');
      assert.equal(c.attrs.get('path'), '/');
      assert.ok(!c.attrs.has('domain'));
      assert.match(dev.logs(), /WARN.*insecure_dev_cookies/);
    } finally {
      await dev.close();
    }
    assert.doesNotMatch(srv.logs(), /insecure_dev_cookies is on/, 'the secure default does not warn');
  });
});

// ---------------------------------------------------------------------------------------------
describe('Origin and CORS (RFC 10017 §6.1.3.3; Fetch standard CORS protocol)', () => {
  test('preflight from the allowed origin: credentialed CORS for exactly that origin and x-authsplit', async () => {
    const r = await fetch(`${srv.authUrl}/token`, {
      method: 'OPTIONS',
      headers: { origin: SPA, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-authsplit' },
    });
    assert.ok(r.status === 200 || r.status === 204, String(r.status));
    assert.equal(r.headers.get('access-control-allow-origin'), SPA);
    assert.equal(r.headers.get('access-control-allow-credentials'), 'true');
    assert.match(r.headers.get('access-control-allow-headers') ?? '', /x-authsplit/i);
    assert.match(r.headers.get('access-control-allow-methods') ?? '', /POST/);
  });

  for (const origin of FOREIGN) {
    test(`foreign origin ${JSON.stringify(origin)}: no CORS approval on preflight or response, POST refused, no tokens, 0 calls`, async () => {
      const pre = await fetch(`${srv.authUrl}/token`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-authsplit' },
      });
      // No Access-Control-Allow-Origin = no approval (tower-http sends Allow-Credentials on every
      // preflight; without a matching Allow-Origin the browser grants nothing).
      assert.equal(pre.headers.get('access-control-allow-origin'), null);
      // A real, bound transaction and a signed-in session in the jar: the foreign origin still
      // gets nothing.
      const { c, state, verifier } = await transaction();
      const { c: signed } = await signIn();
      fp.reset();
      const checks = [
        await c.post('/token', { provider: 'fp', code: 'code-foreign', state, code_verifier: verifier }, { origin }),
        await signed.post('/refresh', {}, { origin }),
        await signed.post('/logout', {}, { origin }),
        await c.post('/transactions', { provider: 'fp', state: randomToken(), code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }, { origin }),
      ];
      for (const r of checks) {
        assert.equal(r.status, 401, r.text);
        assert.equal(r.json.error, 'origin_rejected');
        assert.equal(r.headers.get('access-control-allow-origin'), null);
        assert.ok(!('access_token' in r.json));
        assert.deepEqual(r.headers.getSetCookie(), [], 'no cookie set or cleared');
      }
      const cfg = await fetch(`${srv.authUrl}/config`, { headers: { origin } });
      assert.equal(cfg.headers.get('access-control-allow-origin'), null);
      assert.equal(fp.count(), 0, 'nothing reached the provider');
      // The legitimate origin can still use the same transaction and session afterwards.
      assert.equal((await c.post('/token', { provider: 'fp', code: 'code-after', state, code_verifier: verifier })).status, 200);
      assert.equal((await signed.post('/refresh', {})).status, 200);
    });
  }

  test('no Origin header at all → 401 origin_rejected, 0 calls', async () => {
    const { c, state, verifier } = await transaction();
    fp.reset();
    const r = await c.post('/token', { provider: 'fp', code: 'code-no-origin', state, code_verifier: verifier }, { origin: null });
    assert.equal(r.status, 401);
    assert.equal(r.json.error, 'origin_rejected');
    assert.equal(fp.count(), 0);
  });

  test('same origin (Origin equals the server\'s own origin, allow_same_origin default) is accepted', async () => {
    const c = backendClient(srv.authUrl, { origin: srv.url });
    const { r } = await transaction(c);
    assert.equal(r.status, 201);
  });
});

// ---------------------------------------------------------------------------------------------
describe('backend input catalogue (SECURITY.md F2 "Backend input"; S2–S3)', () => {
  test('1 MB body → 413 body_too_large (Content-Length), and a chunked body over the limit → 413, no cookie, 0 calls', async () => {
    fp.reset();
    const big = JSON.stringify({ provider: 'fp', code: 'x'.repeat(1024 * 1024), state: 's', code_verifier: 'v' });
    for (const path of ['/token', '/transactions', '/refresh']) {
      const r = await client().post(path, undefined, { rawBody: big });
      assert.equal(r.status, 413, `${path}: ${r.text}`);
      assert.equal(r.json.error, 'body_too_large');
      assert.deepEqual(r.headers.getSetCookie(), []);
    }
    // Chunked (no Content-Length): the limit applies while reading. A raw socket sending 3 × 4 KiB
    // (over the 8 KiB limit) at a gentle pace and then waiting: the server answers 413 mid-body and
    // closes without draining, so a client still writing would get a TCP RST that can discard the
    // 413 before it is read (Node's http/fetch report a network error then).
    const res = await rawChunkedPost(srv.port, '/auth/token', 3, 4096);
    assert.equal(res.status, 413, res.text);
    assert.equal(JSON.parse(res.text).error, 'body_too_large');
    assert.equal(fp.count(), 0);
  });

  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', null]) {
    test(`Content-Type ${ct ?? '(none)'} → 415 unsupported_media_type, 0 calls`, async () => {
      const { c, state, verifier } = await transaction();
      fp.reset();
      const headers = ct === null ? {} : { 'content-type': ct };
      const res = await fetch(`${srv.authUrl}/token`, {
        method: 'POST',
        headers: { origin: SPA, 'x-authsplit': '1', cookie: c.jar.header(), ...headers },
        body: ct === null ? new Blob([JSON.stringify({ provider: 'fp', code: 'c', state, code_verifier: verifier })]) : JSON.stringify({ provider: 'fp', code: 'c', state, code_verifier: verifier }),
      });
      assert.equal(res.status, 415);
      assert.equal((await res.json()).error, 'unsupported_media_type');
      assert.equal(fp.count(), 0);
    });
  }

  // RFC 7636 §4.1: code-verifier = 43*128unreserved; unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
  const A = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~';
  const verifierOf = (n, extra = '') => (extra + A.repeat(3)).slice(0, n);
  for (const [label, v] of [
    ['42 chars', verifierOf(42)],
    ['129 chars', verifierOf(129)],
    ['43 chars with +', verifierOf(43, '+')],
    ['43 chars with /', verifierOf(43, '/')],
    ['43 chars with =', verifierOf(43, '=')],
    ['43 chars with %', verifierOf(43, '%')],
    ['43 chars with a space', verifierOf(43, ' ')],
    ['43 chars with non-ASCII', verifierOf(43, 'é')],
    ['empty', ''],
  ]) {
    test(`verifier ${label} → 400 invalid_verifier before any outbound call (RFC 7636 §4.1)`, async () => {
      // The challenge matches the bad verifier, so only the grammar check can refuse it.
      const { c, state } = await transaction(client(), { verifier: v, challenge: s256(v) });
      fp.reset();
      const r = await c.post('/token', { provider: 'fp', code: 'code-v', state, code_verifier: v });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error, 'invalid_verifier');
      assert.equal(fp.count(), 0);
      assert.ok(!r.text.includes(v) || v === '', 'the verifier is not echoed');
    });
  }

  for (const n of [43, 128]) {
    test(`verifier of exactly ${n} unreserved chars is accepted (RFC 7636 §4.1 bounds)`, async () => {
      const v = verifierOf(n);
      const { c, state } = await transaction(client(), { verifier: v, challenge: s256(v) });
      fp.reset();
      const r = await c.post('/token', { provider: 'fp', code: `code-${n}`, state, code_verifier: v });
      assert.equal(r.status, 200, r.text);
      assert.equal(fp.tokenCalls()[0].form.code_verifier, v);
    });
  }

  test('missing or wrong CSRF header → 401 csrf_header_missing on every POST, no cookie, 0 calls', async () => {
    const { c, state, verifier } = await transaction();
    const { c: signed } = await signIn();
    fp.reset();
    for (const headers of [{}, { 'x-authsplit': '0' }, { 'x-authsplit': 'true' }]) {
      for (const [cl, path, body] of [
        [c, '/token', { provider: 'fp', code: 'code-csrf', state, code_verifier: verifier }],
        [client(), '/transactions', { provider: 'fp', state: randomToken(), code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }],
        [signed, '/refresh', {}],
        [signed, '/logout', {}],
      ]) {
        const r = await cl.post(path, body, { csrf: false, headers });
        assert.equal(r.status, 401, `${path} ${JSON.stringify(headers)}: ${r.text}`);
        assert.equal(r.json.error, 'csrf_header_missing');
        assert.deepEqual(r.headers.getSetCookie(), []);
      }
    }
    assert.equal(fp.count(), 0);
  });

  test('unknown provider → 400 unknown_provider at /transactions and /token, 0 calls', async () => {
    fp.reset();
    const r1 = await client().post('/transactions', { provider: 'nope', state: randomToken(), code_challenge: pkcePair().challenge, code_challenge_method: 'S256' });
    assert.equal(r1.status, 400);
    assert.equal(r1.json.error, 'unknown_provider');
    assert.deepEqual(r1.headers.getSetCookie(), []);
    const { c, state, verifier } = await transaction();
    const r2 = await c.post('/token', { provider: 'nope', code: 'code-u', state, code_verifier: verifier });
    assert.equal(r2.status, 400);
    assert.equal(r2.json.error, 'unknown_provider');
    assert.equal(fp.count(), 0);
  });

  test('other malformed requests → 400 typed errors, 0 calls (plain PKCE method, bad challenge, overlong/odd state, bad nonce, bad JSON, duplicated members, wrong types, unknown field, overlong code)', async () => {
    fp.reset();
    const { challenge } = pkcePair();
    const cases = [
      ['/transactions', { provider: 'fp', state: randomToken(), code_challenge: challenge, code_challenge_method: 'plain' }, 'invalid_request'],
      ['/transactions', { provider: 'fp', state: randomToken(), code_challenge: 'short', code_challenge_method: 'S256' }, null],
      ['/transactions', { provider: 'fp', state: randomToken(), code_challenge: challenge, code_challenge_method: 'S256', extra: 1 }, 'invalid_request'],
      // state and nonce: bounded, URL-safe characters only (core random.rs: 1–512 of [A-Za-z0-9-._~]).
      ['/transactions', { provider: 'fp', state: 'A'.repeat(4000), code_challenge: challenge, code_challenge_method: 'S256' }, 'invalid_request'],
      ['/transactions', { provider: 'fp', state: `${randomToken()}<script>`, code_challenge: challenge, code_challenge_method: 'S256' }, 'invalid_request'],
      ['/transactions', { provider: 'fp', state: randomToken(), code_challenge: challenge, code_challenge_method: 'S256', nonce: 'a b' }, 'invalid_request'],
      ['/transactions', { provider: 'fp', state: randomToken(), code_challenge: `${challenge}=`, code_challenge_method: 'S256' }, null],
    ];
    for (const [path, body, code] of cases) {
      const r = await client().post(path, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      if (code) assert.equal(r.json.error, code);
      assert.deepEqual(r.headers.getSetCookie(), []);
    }
    const bad = await client().post('/token', undefined, { rawBody: '{"provider":"fp",' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, 'invalid_request');
    // Duplicated members are ambiguous (which one did the checks see?): refused.
    const { c: dc, state: ds, verifier: dv } = await transaction();
    for (const rawBody of [
      `{"provider":"fp","provider":"nope","code":"c","state":"${ds}","code_verifier":"${dv}"}`,
      `{"provider":"fp","code":"c1","code":"c2","state":"${ds}","code_verifier":"${dv}"}`,
      `{"provider":"fp","code":"c","state":"${ds}","code_verifier":"${dv}","code_verifier":"${dv}"}`,
      '[]',
      'null',
      '"x"',
      '{"provider":null,"code":"c","state":"s","code_verifier":"v"}',
      '{"provider":"fp","code":1,"state":"s","code_verifier":"v"}',
    ]) {
      const r = await dc.post('/token', undefined, { rawBody });
      assert.equal(r.status, 400, `${rawBody}: ${r.text}`);
      assert.equal(r.json.error, 'invalid_request', rawBody);
    }
    const { c, state, verifier } = await transaction();
    const long = await c.post('/token', { provider: 'fp', code: 'c'.repeat(4096), state, code_verifier: verifier });
    assert.equal(long.status, 400, long.text);
    assert.equal(long.json.error, 'invalid_request');
    assert.equal(fp.count(), 0);
  });
});

// ---------------------------------------------------------------------------------------------
describe('refresh under rotation (SECURITY.md S10; RFC 9700 §4.14.2)', () => {
  test('N=10 concurrent refreshes of one session → exactly ONE upstream refresh, all succeed, and the session survives', async () => {
    const { c } = await signIn();
    const rt0 = fp.issued.refresh.at(-1);
    fp.reset();
    // slow enough that all ten overlap
    fp.setFault({ name: 'ok', delayMs: 400 });
    const N = 10;
    const jars = Array.from({ length: N }, () => c.jar.clone());
    const rs = await Promise.all(jars.map((jar) => c.post('/refresh', {}, { jar })));
    fp.setFault('ok');
    for (const r of rs) assert.equal(r.status, 200, r.text);
    assert.equal(fp.tokenCalls('refresh_token').length, 1, 'exactly one upstream refresh');
    assert.equal(fp.tokenCalls('refresh_token')[0].form.refresh_token, rt0);
    const at = new Set(rs.map((r) => r.json.access_token));
    assert.equal(at.size, 1, 'everyone got the one new access token');
    const rt1 = fp.issued.refresh.at(-1);
    assert.ok(fp.refreshTokenIsActive(rt1) && !fp.refreshTokenIsActive(rt0), 'rotated at the provider');
    // Every caller's cookie now carries the rotated token: any of them can refresh later, once.
    const later = await c.post('/refresh', {}, { jar: jars[7] });
    assert.equal(later.status, 200, later.text);
    assert.equal(fp.tokenCalls('refresh_token').length, 2);
    assert.equal(fp.tokenCalls('refresh_token')[1].form.refresh_token, rt1, 'the stored token is the rotated one');
    assert.notEqual(later.json.access_token, [...at][0]);
    assert.ok(fp.refreshTokenIsActive(fp.issued.refresh.at(-1)), 'the grant is alive at the provider');
  });

  test('N=10 concurrent POST /token with one transaction and one code → exactly ONE upstream exchange, one success (RFC 6749 §4.1.2, §10.5)', async () => {
    const { c, state, verifier } = await transaction();
    fp.reset();
    fp.setFault({ name: 'ok', delayMs: 300 });
    const body = { provider: 'fp', code: `code-race-${randomToken(8)}`, state, code_verifier: verifier };
    const rs = await Promise.all(Array.from({ length: 10 }, () => c.post('/token', body, { jar: c.jar.clone() })));
    fp.setFault('ok');
    assert.equal(fp.tokenCalls('authorization_code').length, 1, 'the code reached the provider once');
    const statuses = rs.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, ...Array(9).fill(400)], JSON.stringify(rs.map((r) => r.json?.error)));
    for (const r of rs.filter((x) => x.status === 400)) assert.equal(r.json.error, 'transaction_used');
  });

  test('N=10 concurrent refreshes of ten different sessions → ten upstream refreshes (no cross-session sharing)', async () => {
    const sessions = [];
    for (let i = 0; i < 10; i++) sessions.push((await signIn()).c);
    fp.reset();
    const rs = await Promise.all(sessions.map((c) => c.post('/refresh', {})));
    for (const r of rs) assert.equal(r.status, 200, r.text);
    assert.equal(fp.tokenCalls('refresh_token').length, 10);
    assert.equal(new Set(rs.map((r) => r.json.access_token)).size, 10);
  });
});

describe('sessions are never silently lost or resurrected (SECURITY.md S10)', () => {
  test('a session cookie copied before logout is dead afterwards: 401 session_ended, 0 upstream calls', async () => {
    const { c } = await signIn();
    const copy = c.jar.clone();
    const lo = await c.post('/logout', {});
    assert.equal(lo.status, 200, lo.text);
    assert.equal(lo.json.revoked, true);
    fp.reset();
    const r = await c.post('/refresh', {}, { jar: copy });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error, 'session_ended');
    assert.equal(fp.count(), 0, 'the replayed cookie did not reach the provider');
  });

  test(
    'logout while a refresh is in flight: afterwards no session in the browser and no live refresh token at the provider',
    async () => {
      const { c } = await signIn();
      const before = fp.issued.refresh.length - 1;
      // The provider rotates at once but answers after 500 ms (a real provider commits first).
      fp.setFault({ name: 'ok', answerDelayMs: 500 });
      const refreshing = c.post('/refresh', {});
      await new Promise((r) => setTimeout(r, 100));
      const lo = await c.post('/logout', {});
      const rr = await refreshing;
      fp.setFault('ok');
      assert.equal(lo.status, 200, lo.text);
      assert.ok([200, 400, 401].includes(rr.status), rr.text);
      const live = fp.issued.refresh.slice(before).filter((t) => fp.refreshTokenIsActive(t));
      assert.deepEqual(live, [], 'every refresh token of the grant is revoked or consumed');
      assert.ok(!c.jar.cookies.has(SESSION), 'no session cookie survives the logout');
      const again = await c.post('/refresh', {});
      assert.equal(again.status, 401, again.text);
    },
  );
});

// ---------------------------------------------------------------------------------------------
describe('in Chromium with the real wasm package: returnTo open redirect (SECURITY.md B9), long sessions, a foreign page', () => {
  let browser;
  let context;
  let page;
  before(async () => {
    browser = await launchBrowser();
    context = await newLoopbackContext(browser);
    page = await context.newPage();
    await page.goto(`${srv.url}/rt-page`);
  });
  after(async () => {
    await browser?.close();
  });

  const BAD = [
    '//evil.example',
    '/\\evil.example',
    '/%09/evil.example',
    'https://evil.example',
    'http://evil.example/',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    '%2F%2Fevil.example',
    '/%2F/evil.example',
    '/%2f%2fevil.example',
    '/%5Cevil.example',
    '/%255C%255Cevil.example',
    '/%252F%252Fevil.example',
    '\\\\evil.example',
    ' //evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    'evil.example',
    '',
  ];

  test(`${BAD.length} unsafe returnTo values → invalid_return_to before any network request or storage write`, async () => {
    const requests = [];
    page.on('request', (r) => requests.push(r.url()));
    const out = await page.evaluate(async (bad) => {
      const m = await import('/authsplit/index.js');
      await m.init();
      const c = new m.AuthClient({ backendUrl: '/auth', provider: 'fp' });
      const before = sessionStorage.length;
      const res = [];
      for (const b of bad) {
        try {
          await c.login({ returnTo: b });
          res.push([b, 'no error']);
        } catch (e) {
          res.push([b, e.code]);
        }
      }
      return { res, storageDelta: sessionStorage.length - before };
    }, BAD);
    for (const [b, code] of out.res) assert.equal(code, 'invalid_return_to', `returnTo ${JSON.stringify(b)}`);
    assert.equal(out.storageDelta, 0, 'nothing stored');
    assert.deepEqual(requests.filter((u) => u.includes('/auth/transactions')), [], 'no request was made');
  });

  // 3500: one cookie would exceed 4096 bytes; 9000: three chunks; 30000: more than the server
  // accepts (a typed error is fine, a silent loss is not).
  for (const len of [2000, 3500, 9000, 30000]) {
    test(`a ${len}-char refresh token: a 200 sign-in leaves a working session in Chromium (or a typed error, never a silent loss)`, async () => {
      const ctx = await newLoopbackContext(browser);
      try {
        const p = await ctx.newPage();
        await p.goto(`${srv.authUrl}/healthz`);
        fp.setFault((rec, req, res) => {
          const b = JSON.stringify({ access_token: `at-${randomToken()}`, token_type: 'Bearer', refresh_token: `rt-${'r'.repeat(len)}` });
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(b);
        });
        const { verifier, challenge } = pkcePair();
        const out = await p.evaluate(
          async ({ verifier, challenge, state }) => {
            const post = (path, b) =>
              fetch(`/auth${path}`, {
                method: 'POST',
                credentials: 'include',
                headers: { 'content-type': 'application/json', 'x-authsplit': '1' },
                body: JSON.stringify(b),
              }).then(async (r) => ({ status: r.status, body: await r.json() }));
            const t = await post('/transactions', { provider: 'fp', state, code_challenge: challenge, code_challenge_method: 'S256' });
            const k = await post('/token', { provider: 'fp', code: 'code-long-rt', state, code_verifier: verifier });
            const rf = await post('/refresh', {});
            return { t, k, rf };
          },
          { verifier, challenge, state: randomToken() },
        );
        fp.setFault('ok');
        assert.equal(out.t.status, 201);
        if (out.k.status === 200) {
          assert.equal(out.rf.status, 200, `sign-in said 200 but the session is gone: ${JSON.stringify(out.rf.body)}`);
        } else {
          assert.equal(typeof out.k.body.error, 'string', 'a typed error instead of a silent loss');
        }
      } finally {
        fp.setFault('ok');
        await ctx.close();
      }
    });
  }

  test('a same-origin returnTo survives the round trip; a returnTo tampered in sessionStorage falls back to /', async () => {
    // Full sign-in: login → POST /auth/transactions → provider /authorize (auto-approve) →
    // /rt-callback?code&state → handleCallback → POST /auth/token.
    fp.reset();
    await Promise.all([
      page.waitForURL(/\/rt-callback\?/),
      page.evaluate(async () => {
        const m = await import('/authsplit/index.js');
        await m.init();
        await new m.AuthClient({ backendUrl: '/auth', provider: 'fp' }).login({ returnTo: '/account?tab=1#top' });
      }),
    ]);
    const ok = await page.evaluate(async () => {
      const m = await import('/authsplit/index.js');
      await m.init();
      const r = await new m.AuthClient({ backendUrl: '/auth', provider: 'fp' }).handleCallback();
      return r.returnTo;
    });
    assert.equal(ok, '/account?tab=1#top');
    assert.equal(fp.tokenCalls('authorization_code').length, 1);

    // Now tamper: rewrite the stored returnTo to //evil.example before the callback is handled.
    await Promise.all([
      page.waitForURL(/\/rt-callback\?/),
      page.evaluate(async () => {
        const m = await import('/authsplit/index.js');
        await m.init();
        await new m.AuthClient({ backendUrl: '/auth', provider: 'fp' }).login({ returnTo: '/fine' });
      }),
    ]);
    const tampered = await page.evaluate(async () => {
      let n = 0;
      for (let i = 0; i < sessionStorage.length; i++) {
        const k = sessionStorage.key(i);
        const v = sessionStorage.getItem(k);
        if (v && v.includes('"returnTo"')) {
          sessionStorage.setItem(k, v.replace(/"returnTo":"[^"]*"/, '"returnTo":"//evil.example"'));
          n++;
        }
      }
      const m = await import('/authsplit/index.js');
      await m.init();
      const r = await new m.AuthClient({ backendUrl: '/auth', provider: 'fp' }).handleCallback();
      return { n, returnTo: r.returnTo };
    });
    assert.equal(tampered.n, 1, 'the stored transaction was found and rewritten');
    assert.equal(tampered.returnTo, '/', 'an unsafe stored returnTo is never used');
  });

  test('a real foreign page (other origin, same site: the session cookie IS sent) cannot refresh, sign in or log out', async () => {
    // The browser holds a session for the server from the sign-ins above.
    const own = await page.evaluate(async () => {
      const r = await fetch('/auth/refresh', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json', 'x-authsplit': '1' }, body: '{}' });
      return r.status;
    });
    assert.equal(own, 200, 'the SPA origin itself can refresh');
    const evil = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>evil</title><form id="f" method="POST" enctype="text/plain"><input name="{}" value=""></form>');
    });
    await new Promise((r) => evil.listen(0, '127.0.0.1', r));
    const evilPage = await context.newPage();
    try {
      await evilPage.goto(`http://127.0.0.1:${evil.address().port}/`);
      const sent = [];
      evilPage.on('request', async (r) => {
        if (r.url().endsWith('/auth/refresh') && r.method() === 'POST') sent.push((await r.allHeaders()).cookie ?? '');
      });
      fp.reset();
      const out = await evilPage.evaluate(async (auth) => {
        const res = {};
        const tryFetch = async (name, path, init) => {
          try {
            const r = await fetch(auth + path, init);
            res[name] = `status ${r.status} type ${r.type}`;
          } catch (e) {
            res[name] = `blocked: ${e.name}`;
          }
        };
        const json = { 'content-type': 'application/json', 'x-authsplit': '1' };
        // CORS-preflighted requests: refused by the browser (no approval for this origin).
        await tryFetch('refresh', '/refresh', { method: 'POST', credentials: 'include', headers: json, body: '{}' });
        await tryFetch('logout', '/logout', { method: 'POST', credentials: 'include', headers: json, body: '{}' });
        await tryFetch('transactions', '/transactions', { method: 'POST', credentials: 'include', headers: json, body: '{}' });
        // "Simple" requests need no preflight but cannot carry x-authsplit or a JSON content type.
        await tryFetch('simple', '/refresh', { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{}' });
        return res;
      }, srv.authUrl);
      assert.match(out.refresh, /^blocked/, JSON.stringify(out));
      assert.match(out.logout, /^blocked/, JSON.stringify(out));
      assert.match(out.transactions, /^blocked/, JSON.stringify(out));
      assert.equal(out.simple, 'status 0 type opaque', 'an opaque answer the page cannot read');
      // A top-level cross-origin form POST (no preflight, no custom header).
      await evilPage.evaluate((auth) => {
        const f = document.getElementById('f');
        f.action = `${auth}/refresh`;
        f.submit();
      }, srv.authUrl);
      await evilPage.waitForURL(/\/auth\/refresh$/);
      const body = JSON.parse(await evilPage.textContent('body'));
      assert.ok(['csrf_header_missing', 'unsupported_media_type', 'origin_rejected'].includes(body.error), JSON.stringify(body));
      assert.equal(fp.count('token'), 0, 'no refresh reached the provider');
      assert.ok(sent.some((c) => c.includes(`${SESSION}=`)), `the browser did send the session cookie (${sent.length} requests)`);
    } finally {
      await evilPage.close();
      await new Promise((r) => evil.close(r));
    }
    const still = await page.evaluate(async () => {
      const r = await fetch('/auth/refresh', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json', 'x-authsplit': '1' }, body: '{}' });
      return r.status;
    });
    assert.equal(still, 200, 'the session survived and was never logged out by the foreign page');
  });
});

describe('deadlines: the backend gives up before the browser does (SECURITY.md S15)', () => {
  let def; // a server with the default timeouts (request_timeout_ms 10000)
  let browser;
  let page;
  before(async () => {
    ({ srv: def } = await startOnFreePort((app) => ({
      config: {
        server: { allowed_origins: [SPA], static_dir: resolve(REPO_ROOT, 'web/example/dist') },
        providers: { fp: providerCfg(`${app}/rt-callback`) },
      },
    })));
    browser = await launchBrowser();
    page = await (await newLoopbackContext(browser)).newPage();
    await page.goto(`${def.url}/rt-page`);
  });
  after(async () => {
    fp.reset();
    await browser?.close();
    await def?.close();
  });

  /** Signs in up to the callback, then handles it against a provider that never answers. */
  async function callbackAgainstHangingProvider(options) {
    fp.reset();
    await Promise.all([
      page.waitForURL(/\/rt-callback\?/),
      page.evaluate(async () => {
        const m = await import('/authsplit/index.js');
        await m.init();
        await new m.AuthClient({ backendUrl: '/auth', provider: 'fp' }).login();
      }),
    ]);
    fp.setFault('never');
    return page.evaluate(async (o) => {
      const m = await import('/authsplit/index.js');
      await m.init();
      const t0 = performance.now();
      try {
        await new m.AuthClient({ backendUrl: '/auth', provider: 'fp', ...o }).handleCallback();
        return { code: null };
      } catch (e) {
        return { code: e.code, message: e.message, ms: performance.now() - t0 };
      }
    }, options);
  }

  test('with the defaults on both sides a hanging provider is reported by the backend (504 provider_timeout at ≈10 s), not by the browser deadline (20 s)', async () => {
    const r = await callbackAgainstHangingProvider({});
    assert.equal(r.code, 'provider_timeout', JSON.stringify(r));
    assert.ok(r.ms >= 9000 && r.ms < 19000, `${Math.round(r.ms)} ms`);
    assert.equal(fp.count('token'), 1, 'the exchange was sent once, never retried');
  });

  test('the browser has its own deadline: timeoutMs below the backend\'s → backend_unreachable when it passes', async () => {
    const r = await callbackAgainstHangingProvider({ timeoutMs: 1000 });
    assert.equal(r.code, 'backend_unreachable', JSON.stringify(r));
    assert.match(r.message, /did not answer within 1000 ms/);
    assert.ok(r.ms >= 900 && r.ms < 5000, `${Math.round(r.ms)} ms`);
  });
});
