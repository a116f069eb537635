// Secrets never leak (SECURITY.md S14, A1, B10; RFC 10017 §6.2): flows with known secret
// values — client secrets, the cookie key, authorization codes, PKCE verifiers, the access and
// refresh tokens the (faulty) provider issues — through the real authsplit-server binary running
// with RUST_LOG=trace, capturing every byte it writes to stdout/stderr and every response status,
// header and body the browser side receives. Error paths included: providers that echo the code,
// verifier, client secret, Authorization header or refresh token in error_description, in an
// HTML page, or in a 500 page.
//
// Rules asserted:
// - no secret of any kind in any log line (trace level included);
// - client secret, cookie key, Authorization header value, verifier, code: in no response;
// - refresh token: in no response at all — body, header or (encrypted) Set-Cookie;
// - access token: only as `access_token` in a 200 reply of /token or /refresh, never in a header,
//   an error body or any other reply.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { startFaultyProvider } from '../support/faulty-provider.mjs';
import { startServer } from '../support/server.mjs';
import { backendClient, pkcePair, randomToken } from '../support/http.mjs';

const ORIGIN = 'http://127.0.0.1:5173';
const REDIRECT_URI = `${ORIGIN}/callback`;
const rand = (n = 32) => randomBytes(n).toString('base64url');

// Known secret values (long and random: a substring search cannot hit by chance).
const SECRET_BASIC = `cs_basic_${rand(30)}`;
const SECRET_POST = `cs_post_${rand(30)}`;
const COOKIE_KEY = randomBytes(64).toString('base64');
/** A value the provider puts in its own response headers (cookies, debug headers). */
const PROVIDER_HEADER_SECRET = `ph_${rand(30)}`;

let fp;
const enc = (s) => new URLSearchParams({ x: s }).toString().slice(2);
const basicValue = (id, secret) => Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64');

function provider(extra = {}) {
  return {
    client_id: 'leak-client',
    client_secret: SECRET_BASIC,
    client_auth: 'client_secret_basic',
    redirect_uri: REDIRECT_URI,
    authorization_endpoint: fp.authorizationEndpoint,
    token_endpoint: fp.tokenEndpoint,
    userinfo_endpoint: fp.userinfoEndpoint,
    revocation_endpoint: fp.revocationEndpoint,
    ...extra,
  };
}


function found(haystack, list) {
  return list.filter(({ v }) => v && haystack.includes(v)).map(({ kind, v }) => `${kind} ${JSON.stringify(v.slice(0, 12))}…`);
}

before(async () => {
  fp = await startFaultyProvider();
});

after(async () => {
  await fp?.close();
});

// The same flows and searches with each log format of the binary (--log-format text|json).
for (const format of ['text', 'json']) {
  describe(`log format ${format}`, () => {
    let srv;
    /** Every value that must not leak, by kind. */
    const used = { codes: new Set(), verifiers: new Set() };
    /** Every response the browser side received: { label, path, status, headers: [[k,v]…], text }. */
    const responses = [];

    before(async () => {
      srv = await startServer({
        config: {
          server: {
            listen: '127.0.0.1:0',
            allowed_origins: [ORIGIN],
            connect_timeout_ms: 500,
            request_timeout_ms: 1500,
          },
          providers: {
            basic: provider(),
            post: provider({ client_auth: 'client_secret_post', client_secret: SECRET_POST }),
            github: provider({ token_response: { error_in_200: true } }),
          },
        },
        args: ['--log-format', format],
        // Secrets from the environment, as documented (never in the file)…
        env: {
          RUST_LOG: 'trace',
          AUTHSPLIT__SERVER__COOKIE_KEY: COOKIE_KEY,
        },
      });
    });

    after(async () => {
      await srv?.close();
    });

    /** A backend client that records every response. */
    function browser(label) {
      const c = backendClient(srv.authUrl, { origin: ORIGIN });
      const rec = (path, r) => {
        responses.push({ label, path, status: r.status, headers: [...r.headers], setCookie: r.headers.getSetCookie(), text: r.text, json: r.json });
        return r;
      };
      return {
        jar: c.jar,
        post: async (path, body, o) => rec(path, await c.post(path, body, o)),
        get: async (path, o) => rec(path, await c.get(path, o)),
      };
    }

    /** Registers a transaction and redeems `code` with a fault queued at the token endpoint. */
    async function exchange(label, providerId, fault, { code = `code_${rand(32)}` } = {}) {
      const b = browser(label);
      const { verifier, challenge } = pkcePair();
      const state = randomToken();
      used.codes.add(code);
      used.verifiers.add(verifier);
      const t = await b.post('/transactions', { provider: providerId, state, code_challenge: challenge, code_challenge_method: 'S256' });
      assert.equal(t.status, 201, t.text);
      fp.queueFault(fault);
      const r = await b.post('/token', { provider: providerId, code, state, code_verifier: verifier });
      return { b, r, code, verifier };
    }

    describe('flows with known secrets (all captured)', () => {
      test('sign-in (userinfo), two rotated refreshes and logout with revocation', async () => {
        fp.reset();
        const base = fp.issued.refresh.length;
        const { b, r } = await exchange('happy', 'basic', 'ok');
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.user?.subject, 'fp-user-1', 'userinfo was called with the access token');
        assert.equal(fp.count('userinfo'), 1);
        for (let i = 0; i < 2; i++) {
          const rr = await b.post('/refresh', {});
          assert.equal(rr.status, 200, rr.text);
        }
        const lo = await b.post('/logout', {});
        assert.equal(lo.status, 200, lo.text);
        assert.equal(lo.json.revoked, true);
        assert.equal(fp.count('revocation'), 1);
        // What the provider received carried the secrets (so the search below is meaningful).
        const tokenCalls = fp.tokenCalls();
        assert.equal(tokenCalls.length, 3);
        assert.equal(tokenCalls[0].basic.secret, SECRET_BASIC);
        assert.equal(tokenCalls[1].form.refresh_token, fp.issued.refresh[base]);
        assert.equal(tokenCalls[2].form.refresh_token, fp.issued.refresh[base + 1]);
      });

      test('provider response headers (Set-Cookie, debug headers) are never passed to the browser', async () => {
        const headers = {
          'set-cookie': `provider_sid=${PROVIDER_HEADER_SECRET}; Path=/; HttpOnly`,
          'x-debug-secret': PROVIDER_HEADER_SECRET,
          'www-authenticate': `Bearer realm="${PROVIDER_HEADER_SECRET}"`,
        };
        const withHeaders = (status) => ({ name: status === 200 ? 'ok' : 'invalid_grant', headers });
        for (const status of [200, 400]) {
          const { r } = await exchange(`provider headers ${status}`, 'basic', withHeaders(status));
          assert.equal(r.status, status, r.text);
          assert.ok(!r.headers.getSetCookie().some((h) => h.startsWith('provider_sid')));
          assert.equal(r.headers.get('x-debug-secret'), null);
          assert.equal(r.headers.get('www-authenticate'), null);
        }
      });

      test('sign-in with client_secret_post', async () => {
        const { r } = await exchange('post', 'post', 'ok');
        assert.equal(r.status, 200, r.text);
        assert.equal(fp.tokenCalls().at(-1).form.client_secret, SECRET_POST);
      });

      for (const [providerId, fault, status] of [
        ['basic', 'invalid_grant_echo', 400],
        ['post', 'invalid_grant_echo', 400],
        ['github', 'github_echo', 400],
        ['basic', 'html_echo', 502],
        ['post', 'html_echo', 502],
        ['basic', 'server_error_echo', 502],
        ['post', 'server_error_echo', 502],
      ]) {
        test(`provider echoes secrets: ${fault} via ${providerId} → ${status}, typed error`, async () => {
          const { r } = await exchange(`echo ${fault} ${providerId}`, providerId, fault);
          assert.equal(r.status, status, r.text);
          assert.equal(typeof r.json.error, 'string');
          // The provider really echoed them (the search below is meaningful).
          const call = fp.tokenCalls().at(-1);
          assert.equal(call.fault, fault);
        });
      }

      test('refresh error echoing the refresh token (400 invalid_grant) ends the session', async () => {
        const { b, r } = await exchange('refresh echo', 'basic', 'ok');
        assert.equal(r.status, 200, r.text);
        fp.queueFault('invalid_grant_echo');
        const rr = await b.post('/refresh', {});
        assert.equal(rr.status, 400, rr.text);
        assert.equal(rr.json.error, 'invalid_grant');
      });

      test('bad requests carrying secret-looking values are refused without echoing them', async () => {
        const b = browser('bad input');
        const { verifier, challenge } = pkcePair();
        const state = randomToken();
        await b.post('/transactions', { provider: 'basic', state, code_challenge: challenge, code_challenge_method: 'S256' });
        // wrong verifier (pkce_mismatch), then a verifier breaking the grammar, then unknown field
        // and broken JSON carrying a code.
        const wrong = pkcePair().verifier;
        used.verifiers.add(wrong);
        const code = `code_${rand(32)}`;
        used.codes.add(code);
        const before = fp.count();
        const r1 = await b.post('/token', { provider: 'basic', code, state, code_verifier: wrong });
        assert.equal(r1.json.error, 'pkce_mismatch');
        const longV = rand(100).slice(0, 129);
        used.verifiers.add(longV);
        const r2 = await b.post('/token', { provider: 'basic', code, state, code_verifier: longV });
        assert.equal(r2.json.error, 'invalid_verifier');
        const r3 = await b.post('/token', { provider: 'basic', code, state, code_verifier: verifier, client_secret: SECRET_BASIC });
        assert.equal(r3.json.error, 'invalid_request');
        const r4 = await b.post('/token', undefined, { rawBody: `{"provider":"basic","code":"${code}","code_verifier":"${verifier}"` });
        assert.equal(r4.json.error, 'invalid_request');
        used.verifiers.add(verifier);
        assert.equal(fp.count(), before, 'none of these reached the provider');
      });
    });

    /** Every needle that must not be found, by name. */
    function needles() {
      const n = [];
      const add = (kind, v) => n.push({ kind, v });
      for (const [id, s] of [['leak-client', SECRET_BASIC], ['leak-client', SECRET_POST]]) {
        add('client_secret', s);
        add('client_secret (form-encoded)', enc(s));
        add('Authorization header value', basicValue(id, s));
      }
      add('cookie_key', COOKIE_KEY);
      add('provider response header', PROVIDER_HEADER_SECRET);
      add('cookie_key (hex)', Buffer.from(COOKIE_KEY, 'base64').toString('hex'));
      for (const c of used.codes) add('code', c);
      for (const v of used.verifiers) add('code_verifier', v);
      for (const c of fp.issued.codes) add('code', c);
      return n;
    }
    const accessTokens = () => fp.issued.access;
    const refreshTokens = () => fp.issued.refresh;


    describe('nothing leaked (SECURITY.md S14)', () => {
      test('the captured material is real: trace logs were written and flows ran', () => {
        const logs = srv.logs();
        assert.ok(/TRACE|DEBUG/.test(logs), 'RUST_LOG=trace took effect');
        assert.ok(logs.length > 10_000, `log volume ${logs.length} bytes`);
        assert.ok(responses.length >= 20, `${responses.length} responses recorded`);
        assert.ok(refreshTokens().length >= 4 && accessTokens().length >= 4);
      });

      test('no secret, code, verifier, access or refresh token in any log line (trace level)', () => {
        const logs = srv.logs();
        const all = [
          ...needles(),
          ...accessTokens().map((v) => ({ kind: 'access_token', v })),
          ...refreshTokens().map((v) => ({ kind: 'refresh_token', v })),
        ];
        assert.deepEqual(found(logs, all), []);
      });

      test('no client secret, cookie key, Authorization value, code or verifier in any response', () => {
        const leaks = [];
        for (const r of responses) {
          const hay = `${r.headers.map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${r.text}`;
          for (const f of found(hay, needles())) leaks.push(`${r.label} ${r.path} ${r.status}: ${f}`);
        }
        assert.deepEqual(leaks, []);
      });

      test('the refresh token never reaches the browser: no body, no header, not in Set-Cookie', () => {
        const leaks = [];
        const list = refreshTokens().map((v) => ({ kind: 'refresh_token', v }));
        for (const r of responses) {
          const hay = `${r.headers.map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${r.text}`;
          for (const f of found(hay, list)) leaks.push(`${r.label} ${r.path} ${r.status}: ${f}`);
          // Not in any JSON member name either.
          assert.ok(!/refresh_token/.test(r.text) || r.status >= 400, `${r.label} ${r.path}: no refresh_token member`);
        }
        assert.deepEqual(leaks, []);
        // The session cookie exists and is opaque (encrypted): it carries the token, unreadable.
        const sessions = responses.flatMap((r) => r.setCookie).filter((h) => /^__Host-authsplit-session=[^;]+/.test(h));
        assert.ok(sessions.length >= 3, 'session cookies were set');
      });

      test('every response is uncacheable (SECURITY.md S9: Cache-Control: no-store, Pragma: no-cache)', () => {
        const bad = responses.filter((r) => !r.headers.some(([k, v]) => k === 'cache-control' && v === 'no-store') || !r.headers.some(([k, v]) => k === 'pragma' && v === 'no-cache'));
        assert.deepEqual(bad.map((r) => `${r.label} ${r.path} ${r.status}`), []);
      });

      test('access tokens only as `access_token` of a 200 /token or /refresh reply', () => {
        const leaks = [];
        const list = accessTokens().map((v) => ({ kind: 'access_token', v }));
        for (const r of responses) {
          const headers = r.headers.map(([k, v]) => `${k}: ${v}`).join('\n');
          for (const f of found(headers, list)) leaks.push(`${r.label} ${r.path} ${r.status} header: ${f}`);
          const allowed = r.status === 200 && ['/token', '/refresh'].includes(r.path) ? r.json?.access_token : undefined;
          const body = allowed ? r.text.replace(JSON.stringify(allowed), '""') : r.text;
          for (const f of found(body, list)) leaks.push(`${r.label} ${r.path} ${r.status} body: ${f}`);
        }
        assert.deepEqual(leaks, []);
      });
    });
  });
}

// Short secrets. The core's redaction of provider text (token.rs `redact_snippet`,
// `sanitize_text`) is heuristic: runs of ≥20 token characters and `key=value` / `"key":value`
// syntax. A short client secret with form-encoding characters (the RFC 6749 §2.3.1 style secret
// `a+b:c%d/e f`) or a short authorization code echoed as free text is not recognised; only
// scrubbing the values the server itself sent can catch it. A separate server, so the main
// searches above stay exact.
describe('short secrets (heuristic redaction cannot recognise them)', () => {
  const SHORT_SECRET = 'a+b:c%d/e f';
  const SHORT_CODE = 'Xy7-short1';
  let s2;
  const resp = [];
  before(async () => {
    s2 = await startServer({
      config: {
        server: { listen: '127.0.0.1:0', allowed_origins: [ORIGIN], request_timeout_ms: 1500 },
        providers: { short: provider({ client_secret: SHORT_SECRET }) },
      },
      env: { RUST_LOG: 'trace', AUTHSPLIT__SERVER__COOKIE_KEY: COOKIE_KEY },
    });
  });
  after(async () => s2?.close());

  async function run(fault) {
    const c = backendClient(s2.authUrl, { origin: ORIGIN });
    const { verifier, challenge } = pkcePair();
    const state = randomToken();
    await c.post('/transactions', { provider: 'short', state, code_challenge: challenge, code_challenge_method: 'S256' });
    fp.queueFault(fault);
    const r = await c.post('/token', { provider: 'short', code: SHORT_CODE, state, code_verifier: verifier });
    resp.push({ fault, r, hay: `${[...r.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${r.text}` });
    return { c, r };
  }
  const shortNeedles = [
    { kind: 'client_secret', v: SHORT_SECRET },
    { kind: 'client_secret (form-encoded)', v: enc(SHORT_SECRET) },
    { kind: 'code', v: SHORT_CODE },
    // PHP-style JSON ("/" written as "\/") in a raw body, e.g. a logged snippet — and that
    // again escaped by the log formatter (Debug / JSON string: "\" → "\\").
    { kind: 'client_secret (JSON-escaped)', v: SHORT_SECRET.replace(/\//g, '\\/') },
    { kind: 'client_secret (JSON-escaped, log-escaped)', v: SHORT_SECRET.replace(/\//g, '\\\\/') },
  ];

  test('flows that do not echo: sign-in, refresh, logout, typed errors — no short secret anywhere', async () => {
    const { c, r } = await run('ok');
    assert.equal(r.status, 200, r.text);
    assert.equal(fp.tokenCalls().at(-1).basic.secret, SHORT_SECRET);
    assert.equal((await c.post('/refresh', {})).status, 200);
    assert.equal((await c.post('/logout', {})).status, 200);
    for (const f of ['invalid_grant', 'html', 'server_error_500', 'invalid_client_401']) {
      const o = await run(f);
      assert.ok(o.r.status >= 400);
    }
    assert.deepEqual(found(s2.logs(), shortNeedles), []);
    assert.deepEqual(resp.flatMap((x) => found(x.hay, shortNeedles).map((f) => `${x.fault}: ${f}`)), []);
  });

  for (const fault of ['invalid_grant_echo', 'server_error_json_echo', 'server_error_echo', 'html_echo']) {
    test(`${fault}: a provider echoing the short secret and code → not in the browser body`, async () => {
      const { r } = await run(fault);
      assert.ok(r.status >= 400, r.text);
      const x = resp.at(-1);
      assert.deepEqual(found(x.hay, shortNeedles), []);
    });
  }
  test('…and not in any log line, not even JSON-escaped (PHP writes "/" as "\\/")', () => {
    assert.ok(resp.some((x) => x.fault.endsWith('_echo')));
    assert.deepEqual(found(s2.logs(), shortNeedles), []);
  });
});
