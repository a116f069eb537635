// A small, configurable, misbehaving OAuth 2.0 authorization server for fault injection
// (SECURITY.md F3 "Token endpoint replies"). node:http on 127.0.0.1, port 0.
//
//   const fp = await startFaultyProvider();
//   fp.setFault('html');                 // every token request from now on answers an HTML page
//   fp.queueFault('ok', 'never');        // or: one fault per request, in order, then the default
//   fp.count('token')                    // requests received by the token endpoint
//   fp.calls                             // every request: endpoint, method, headers, body, form…
//   await fp.close()
//
// Endpoints (all relative to fp.url):
//   GET  /authorize   auto-approves: 302 to redirect_uri?code=<fresh code>&state=…  (browser tests)
//   POST /token       the fault under test (authorization_code and refresh_token grants)
//   GET  /userinfo    200 {sub,name,…} for an access token this server issued, else 401;
//                     setUserinfoFault(name) makes it answer any fault below instead
//   POST /revoke      200 (RFC 7009 §2.2), revokes the token; setRevocationFault(name) makes it
//                     answer any fault below instead
//   GET  /elsewhere   the target of the `redirect` fault (must never be called: redirects are
//                     never followed, SECURITY.md S5)
//   GET  /.well-known/openid-configuration   a discovery document (no issuer check needed by
//                     the plain OAuth 2.0 tests; present for completeness)
//   GET  /jwks        the key of its ID tokens
//
// With `startFaultyProvider({ idTokens: { clientId } })` it is an OpenID provider too (issuer =
// fp.url): the `ok` answers of the authorization_code and refresh_token grants carry an RS256
// ID token for `clientId` (sub `fp-user-1`; the authorization request's nonce on sign-in, none
// on refresh). The `ok` option `idTokenClaims` overrides claims of that answer's ID token
// (e.g. `{ sub: 'someone-else' }`).
//
// Faults (names for setFault / queueFault; an object `{ name, …options }` works too; every fault
// takes the option `headers`: extra response headers):
//   ok                 200 JSON token response with fresh random tokens (recorded in `issued`);
//                      refresh grants rotate the refresh token and detect reuse (a consumed
//                      refresh token → 400 invalid_grant, like oidc-provider). Options: delayMs
//                      (decide and answer after the delay), answerDelayMs (decide — rotate — at
//                      once, answer after the delay).
//   html               200 text/html login page
//   html_echo          200 text/html page that echoes the code, verifier, client secret and a
//                      fresh access/refresh token (leak tests)
//   text_json          200 text/plain carrying a valid token JSON
//   github_error       200 JSON {"error":"bad_verification_code",…} (GitHub)
//   github_echo        the same, error_description echoing the code/secret
//   wechat_errcode     200 JSON {"errcode":40029,"errmsg":"invalid code"} (WeChat)
//   broken_json        200 application/json `{"access_token": "abc` (syntax error)
//   truncated_json     200 application/json, well-framed, JSON cut mid-way
//   truncated_body     Content-Length larger than what is sent, then the connection closes
//   null_json / array_json            200 `null` / `[]`
//   no_access_token / numeric_access_token / empty_access_token
//   unknown_token_type ("mac") / no_token_type
//   string_expires_in  expires_in "3600"
//   invalid_grant      400 {"error":"invalid_grant"}
//   invalid_grant_echo 400 invalid_grant whose error_description echoes code, verifier, secret,
//                      refresh token
//   invalid_client_401 401 + WWW-Authenticate: Basic + {"error":"invalid_client"}
//   unauthorized_401   401 + WWW-Authenticate, empty body
//   redirect           302 Location: <fp.url>/elsewhere
//   rate_limited_seconds / rate_limited_date / rate_limited_garbage   429 + Retry-After
//   unavailable_seconds / unavailable_date / unavailable_garbage      503 + Retry-After
//                      (unavailable_seconds: option retryAfter, default 42)
//   server_error_500   500 text/plain "Internal Server Error"
//   server_error_json  500 {"error":"server_error"}
//   server_error_echo  500 text/plain echoing the client secret and code
//   server_error_json_echo  500 JSON {"error":"server_error",...} echoing them, with "/" escaped
//                      as "\/" (PHP json_encode style)
//   huge_body          200 JSON, 10 MB, with Content-Length
//   huge_chunked       200 JSON, 10 MB, chunked (no Content-Length)
//   reset_before_headers   TCP RST as soon as the request arrived
//   reset_after_headers    200 headers + part of the body, then TCP RST
//   slow_body          200 headers at once, then one byte every `intervalMs` (default 200) forever
//   slow_headers       headers only after `delayMs` (default 60 s), i.e. like never
//   huge_header        200 with a 1 MiB header
//   garbage_http       a reply that is not HTTP
//   close_delimited_ok a valid `ok` answer without Content-Length, ended by closing (legal HTTP/1.1)
//   never              never answers (the socket stays open until close())
//
// Every request is recorded in `calls`: { n, at, endpoint, method, path, query, headers (lower-
// case), body (text), form (object, for form bodies), grantType, clientAuth
// ('client_secret_basic'|'client_secret_post'|'none'|'both'), basic ({id, secret} decoded per
// RFC 6749 §2.3.1), fault }.

import http from 'node:http';
import { randomBytes, generateKeyPairSync, createSign } from 'node:crypto';

/** 10 MB. */
const HUGE = 10 * 1024 * 1024;

const rand = (n = 32) => randomBytes(n).toString('base64url');

function decodeBasic(header) {
  const m = /^Basic\s+(.+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const raw = Buffer.from(m[1], 'base64').toString('utf8');
  const i = raw.indexOf(':');
  if (i < 0) return undefined;
  // RFC 6749 §2.3.1: form-urlencoded before base64.
  const dec = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
  try {
    return { id: dec(raw.slice(0, i)), secret: dec(raw.slice(i + 1)) };
  } catch {
    return { id: raw.slice(0, i), secret: raw.slice(i + 1), malformed: true };
  }
}

function json(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function text(res, status, body, contentType = 'text/plain; charset=utf-8', headers = {}) {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

/**
 * Start the faulty provider.
 *
 * @param {object} [opts]
 * @param {number} [opts.port=0]
 * @param {string} [opts.defaultFault='ok'] fault used when the queue is empty
 * @param {number} [opts.expiresIn=3600] expires_in of `ok` answers
 * @param {boolean} [opts.rotate=true] rotate refresh tokens on refresh (with reuse detection)
 */
export async function startFaultyProvider(opts = {}) {
  const { port = 0, expiresIn = 3600, rotate = true, idTokens = null } = opts;
  /** The ID token signing key (RS256), when `idTokens` is set. */
  const signing = idTokens ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : null;
  const KID = 'fp-key-1';
  /** The nonce of each issued code's authorization request. */
  const nonces = new Map();
  function idToken(claims) {
    const now = Math.floor(Date.now() / 1000);
    const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const body = { iss: api.url, sub: 'fp-user-1', aud: idTokens.clientId, iat: now, exp: now + 600, ...claims };
    for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
    const input = `${enc({ alg: 'RS256', typ: 'JWT', kid: KID })}.${enc(body)}`;
    const sig = createSign('RSA-SHA256').update(input).sign(signing.privateKey).toString('base64url');
    return `${input}.${sig}`;
  }
  let defaultFault = normalise(opts.defaultFault ?? 'ok');
  /** The userinfo endpoint's behaviour: `ok` (profile for issued tokens) or any fault. */
  let userinfoFault = { name: 'ok' };
  /** The revocation endpoint's behaviour: `ok` (RFC 7009 §2.2: 200, token revoked) or any fault. */
  let revocationFault = { name: 'ok' };
  /** @type {object[]} */
  const queue = [];
  /** @type {object[]} */
  const calls = [];
  /** Requests in progress and the highest number seen at once, per endpoint. */
  const inFlight = {};
  const maxInFlight = {};
  /** Every request ever received (not cleared by reset()). */
  const history = [];
  const sockets = new Set();
  const timers = new Set();
  /** Tokens this server issued (every value, so tests can search for them). */
  const issued = { codes: [], access: [], refresh: [] };
  /** Refresh tokens still usable (rotation consumes them). */
  const activeRefresh = new Set();
  /** Refresh tokens already consumed (reuse → invalid_grant). */
  const consumedRefresh = new Set();
  /** Access tokens userinfo accepts. */
  const activeAccess = new Set();
  let n = 0;

  function normalise(f) {
    if (typeof f === 'string') return { name: f };
    if (typeof f === 'function') return { name: 'custom', handler: f };
    if (f && typeof f.name === 'string') return f;
    throw new Error(`faulty-provider: bad fault ${JSON.stringify(f)}`);
  }

  function later(ms, fn) {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  }

  function issueTokens(rec, f = {}) {
    const at = `fp_at_${rand(32)}`;
    const rt = `fp_rt_${rand(32)}`;
    issued.access.push(at);
    issued.refresh.push(rt);
    activeAccess.add(at);
    activeRefresh.add(rt);
    const idt = idTokens ? { id_token: idToken({ nonce: nonces.get(rec.form.code), ...f.idTokenClaims }) } : {};
    return { access_token: at, token_type: 'Bearer', expires_in: expiresIn, refresh_token: rt, scope: 'read', ...idt };
  }

  /** The `ok` answer, with refresh-token rotation and reuse detection. */
  function ok(rec, res, f) {
    const [status, body] = okAnswer(rec, f);
    return json(res, status, body);
  }

  /** The `ok` outcome as [status, body]; state changes (rotation) happen here. */
  function okAnswer(rec, f = {}) {
    if (rec.grantType === 'refresh_token') {
      const old = rec.form.refresh_token;
      if (!activeRefresh.has(old)) {
        if (consumedRefresh.has(old)) {
          // Reuse of a rotated token: revoke the whole family (RFC 9700 §4.14.2).
          activeRefresh.clear();
        }
        return [400, { error: 'invalid_grant', error_description: 'grant request is invalid' }];
      }
      if (rotate) {
        activeRefresh.delete(old);
        consumedRefresh.add(old);
        return [200, issueTokens(rec, f)];
      }
      const at = `fp_at_${rand(32)}`;
      issued.access.push(at);
      activeAccess.add(at);
      return [200, { access_token: at, token_type: 'Bearer', expires_in: expiresIn, scope: 'read' }];
    }
    return [200, issueTokens(rec, f)];
  }

  function tokenBody(extra = {}) {
    return { access_token: `fp_at_${rand(32)}`, token_type: 'Bearer', expires_in: 3600, ...extra };
  }

  function echoText(rec) {
    const b = rec.basic ?? {};
    return (
      `code ${rec.form.code ?? ''} verifier ${rec.form.code_verifier ?? ''} ` +
      `refresh_token ${rec.form.refresh_token ?? ''} client_secret ${b.secret ?? rec.form.client_secret ?? ''} ` +
      `authorization ${rec.headers.authorization ?? ''}`
    );
  }

  function retryAfterDate(secs) {
    return new Date(Date.now() + secs * 1000).toUTCString();
  }

  /** @type {Record<string, (rec: object, req: http.IncomingMessage, res: http.ServerResponse, f: object) => void>} */
  const FAULTS = {
    ok: (rec, req, res, f) => {
      if (f.answerDelayMs) {
        // Decide (rotate) at once, answer later: the provider committed before replying.
        const [status, body] = okAnswer(rec, f);
        return later(f.answerDelayMs, () => json(res, status, body));
      }
      return f.delayMs ? later(f.delayMs, () => ok(rec, res, f)) : ok(rec, res, f);
    },
    html: (rec, req, res) =>
      text(res, 200, '<!doctype html><html><head><title>Sign in</title></head><body><form>Please sign in</form></body></html>', 'text/html; charset=utf-8'),
    html_echo: (rec, req, res) => {
      const at = `fp_at_${rand(32)}`;
      const rt = `fp_rt_${rand(32)}`;
      issued.access.push(at);
      issued.refresh.push(rt);
      text(
        res,
        200,
        `<html><body><p>Your token: ${at}</p><p>refresh: ${rt}</p><pre>${echoText(rec)}</pre>` +
          `<script>var t = {"access_token":"${at}","refresh_token":"${rt}"}</script></body></html>`,
        'text/html',
      );
    },
    text_json: (rec, req, res) => text(res, 200, JSON.stringify(tokenBody()), 'text/plain'),
    github_error: (rec, req, res) =>
      json(res, 200, {
        error: 'bad_verification_code',
        error_description: 'The code passed is incorrect or expired.',
        error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code',
      }),
    github_echo: (rec, req, res) =>
      json(res, 200, { error: 'bad_verification_code', error_description: `bad: ${echoText(rec)}` }),
    wechat_errcode: (rec, req, res) => json(res, 200, { errcode: 40029, errmsg: 'invalid code, rid: 6528f1c8-1a2b' }),
    broken_json: (rec, req, res) => json(res, 200, '{"access_token": "abc'),
    truncated_json: (rec, req, res) => json(res, 200, JSON.stringify(tokenBody()).slice(0, 30)),
    truncated_body: (rec, req, res) => {
      const body = JSON.stringify(tokenBody());
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length + 500 });
      res.write(body);
      // End the connection without the promised bytes.
      later(50, () => req.socket.destroy());
    },
    null_json: (rec, req, res) => json(res, 200, 'null'),
    array_json: (rec, req, res) => json(res, 200, '[]'),
    no_access_token: (rec, req, res) => json(res, 200, { token_type: 'Bearer', expires_in: 3600 }),
    numeric_access_token: (rec, req, res) => json(res, 200, { access_token: 12345, token_type: 'Bearer' }),
    empty_access_token: (rec, req, res) => json(res, 200, { access_token: '', token_type: 'Bearer' }),
    unknown_token_type: (rec, req, res) => json(res, 200, tokenBody({ token_type: 'mac' })),
    no_token_type: (rec, req, res) => {
      const b = tokenBody();
      delete b.token_type;
      json(res, 200, b);
    },
    string_expires_in: (rec, req, res) => json(res, 200, tokenBody({ expires_in: '3600' })),
    invalid_grant: (rec, req, res) =>
      json(res, 400, { error: 'invalid_grant', error_description: 'authorization code is invalid or expired' }),
    invalid_grant_echo: (rec, req, res) =>
      json(res, 400, { error: 'invalid_grant', error_description: `invalid ${echoText(rec)}` }),
    invalid_client_401: (rec, req, res) =>
      json(res, 401, { error: 'invalid_client', error_description: 'client authentication failed' }, {
        'www-authenticate': 'Basic realm="token"',
      }),
    unauthorized_401: (rec, req, res) => text(res, 401, '', 'text/plain', { 'www-authenticate': 'Basic realm="token"' }),
    redirect: (rec, req, res) => {
      res.writeHead(302, { location: `${api.url}/elsewhere`, 'content-length': 0 });
      res.end();
    },
    rate_limited_seconds: (rec, req, res) => json(res, 429, '', { 'retry-after': '7' }),
    rate_limited_date: (rec, req, res) => json(res, 429, '', { 'retry-after': retryAfterDate(120) }),
    rate_limited_garbage: (rec, req, res) => json(res, 429, '', { 'retry-after': 'soon-ish, maybe' }),
    unavailable_seconds: (rec, req, res, f) =>
      text(res, 503, 'Service Unavailable', 'text/plain', { 'retry-after': String(f.retryAfter ?? 42) }),
    unavailable_date: (rec, req, res) =>
      text(res, 503, 'Service Unavailable', 'text/plain', { 'retry-after': retryAfterDate(300) }),
    unavailable_garbage: (rec, req, res) => text(res, 503, 'Service Unavailable', 'text/plain', { 'retry-after': '-1;x' }),
    server_error_500: (rec, req, res) => text(res, 500, 'Internal Server Error'),
    server_error_json: (rec, req, res) => json(res, 500, { error: 'server_error', error_description: 'database down' }),
    server_error_echo: (rec, req, res) => text(res, 500, `Exception: ${echoText(rec)}`),
    // PHP's json_encode escapes "/" as "\/": the raw body holds the secret in escaped form.
    server_error_json_echo: (rec, req, res) =>
      json(res, 500, JSON.stringify({ error: 'server_error', error_description: `failed: ${echoText(rec)}` }).replace(/\//g, '\\/')),
    huge_body: (rec, req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': HUGE });
      streamHuge(res);
    },
    huge_chunked: (rec, req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      streamHuge(res);
    },
    reset_before_headers: (rec, req) => req.socket.resetAndDestroy(),
    reset_after_headers: (rec, req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 400 });
      res.write('{"access_token":"');
      later(50, () => req.socket.resetAndDestroy());
    },
    slow_body: (rec, req, res, f) => {
      const body = JSON.stringify(tokenBody()).padEnd(100_000, ' ');
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      let i = 0;
      const step = () => {
        if (req.socket.destroyed) return;
        if (i >= body.length) return res.end();
        res.write(body[i++]);
        later(f.intervalMs ?? 200, step);
      };
      step();
    },
    slow_headers: (rec, req, res, f) => later(f.delayMs ?? 60_000, () => ok(rec, res)),
    // 200 with a 1 MiB header (past any sane client header limit).
    huge_header: (rec, req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-padding': 'p'.repeat(1024 * 1024) });
      res.end(JSON.stringify(tokenBody()));
    },
    // Not HTTP at all.
    garbage_http: (rec, req) => {
      req.socket.end('HELLO THIS IS NOT HTTP\r\n\r\n{"access_token":"x"}');
    },
    // A valid token response framed HTTP/1.0-style: no Content-Length, the body ends at close.
    close_delimited_ok: (rec, req) => {
      const [status, body] = okAnswer(rec);
      req.socket.end(`HTTP/1.1 ${status} OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify(body)}`);
    },
    never: () => {},
  };

  function streamHuge(res) {
    // A syntactically endless JSON string: {"access_token":"xxxx…
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let sent = 0;
    res.write('{"access_token":"');
    sent += 17;
    const pump = () => {
      while (sent < HUGE && !res.socket?.destroyed && !res.destroyed) {
        const n = Math.min(chunk.length, HUGE - sent);
        sent += n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return res.once('drain', pump);
      }
      if (!res.socket?.destroyed) res.end();
    };
    pump();
  }

  async function readBody(req) {
    const parts = [];
    let size = 0;
    for await (const c of req) {
      size += c.length;
      if (size <= 1024 * 1024) parts.push(c);
    }
    return Buffer.concat(parts).toString('utf8');
  }

  function record(req, endpoint, body) {
    const url = new URL(req.url, 'http://x');
    const ct = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const form = ct === 'application/x-www-form-urlencoded' ? Object.fromEntries(new URLSearchParams(body)) : {};
    const basic = decodeBasic(req.headers.authorization);
    const inBody = 'client_secret' in form;
    const rec = {
      n: ++n,
      at: Date.now(),
      endpoint,
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      body,
      form,
      grantType: form.grant_type,
      basic,
      clientAuth: basic && inBody ? 'both' : basic ? 'client_secret_basic' : inBody ? 'client_secret_post' : 'none',
      fault: undefined,
    };
    calls.push(rec);
    history.push(rec);
    return rec;
  }

  const ENDPOINTS = {
    '/token': 'token',
    '/authorize': 'authorize',
    '/userinfo': 'userinfo',
    '/revoke': 'revocation',
    '/elsewhere': 'elsewhere',
    '/.well-known/openid-configuration': 'discovery',
    '/jwks': 'jwks',
  };

  const server = http.createServer(async (req, res) => {
    res.on('error', () => {});
    req.on('error', () => {});
    const path = new URL(req.url, 'http://x').pathname;
    const endpoint = ENDPOINTS[path] ?? 'unknown';
    let body;
    try {
      body = await readBody(req);
    } catch {
      return;
    }
    const rec = record(req, endpoint, body);
    // Requests being handled right now, per endpoint (for concurrency caps).
    inFlight[endpoint] = (inFlight[endpoint] ?? 0) + 1;
    maxInFlight[endpoint] = Math.max(maxInFlight[endpoint] ?? 0, inFlight[endpoint]);
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        inFlight[endpoint] -= 1;
      }
    };
    res.on('finish', finish);
    res.on('close', finish);
    switch (endpoint) {
      case 'token': {
        const f = queue.length ? queue.shift() : defaultFault;
        rec.fault = f.name;
        const handler = f.handler ?? FAULTS[f.name];
        if (!handler) return text(res, 500, `faulty-provider: unknown fault ${f.name}`);
        if (f.headers) {
          // Option `headers`: extra response headers on whatever the fault answers.
          const writeHead = res.writeHead.bind(res);
          res.writeHead = (status, h = {}) => writeHead(status, { ...h, ...f.headers });
        }
        try {
          return handler(rec, req, res, f);
        } catch (e) {
          return text(res, 500, `faulty-provider: ${e}`);
        }
      }
      case 'authorize': {
        const q = rec.query;
        const code = `fp_code_${rand(32)}`;
        issued.codes.push(code);
        if (q.nonce !== undefined) nonces.set(code, q.nonce);
        const to = new URL(q.redirect_uri);
        to.searchParams.set('code', code);
        if (q.state !== undefined) to.searchParams.set('state', q.state);
        res.writeHead(302, { location: to.href, 'content-length': 0 });
        return res.end();
      }
      case 'userinfo': {
        const uf = userinfoFault;
        rec.fault = uf.name;
        if (uf.name !== 'ok') {
          const handler = uf.handler ?? FAULTS[uf.name];
          if (!handler) return text(res, 500, `faulty-provider: unknown fault ${uf.name}`);
          return handler(rec, req, res, uf);
        }
        const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
        if (!m || !activeAccess.has(m[1])) {
          return json(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
        }
        return json(res, 200, { sub: 'fp-user-1', name: 'Faulty User', email: 'fp-user-1@example.test', email_verified: true });
      }
      case 'revocation':
        if (revocationFault.name !== 'ok') {
          rec.fault = revocationFault.name;
          const handler = revocationFault.handler ?? FAULTS[revocationFault.name];
          if (!handler) return text(res, 500, `faulty-provider: unknown fault ${revocationFault.name}`);
          return handler(rec, req, res, revocationFault);
        }
        activeRefresh.delete(rec.form.token);
        return json(res, 200, '');
      case 'discovery':
        return json(res, 200, {
          issuer: api.url,
          authorization_endpoint: `${api.url}/authorize`,
          token_endpoint: `${api.url}/token`,
          userinfo_endpoint: `${api.url}/userinfo`,
          revocation_endpoint: `${api.url}/revoke`,
          ...(idTokens
            ? {
                jwks_uri: `${api.url}/jwks`,
                response_types_supported: ['code'],
                subject_types_supported: ['public'],
                id_token_signing_alg_values_supported: ['RS256'],
                scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
              }
            : {}),
        });
      case 'jwks':
        if (!idTokens) return text(res, 404, 'not found');
        return json(res, 200, { keys: [{ ...signing.publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' }] });
      case 'elsewhere':
        return json(res, 200, tokenBody());
      default:
        return text(res, 404, 'not found');
    }
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (err, socket) => socket.destroy());

  await new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(port, '127.0.0.1', res);
  });
  const addr = server.address();
  const url = `http://127.0.0.1:${addr.port}`;

  let closing;
  const api = {
    url,
    port: addr.port,
    tokenEndpoint: `${url}/token`,
    authorizationEndpoint: `${url}/authorize`,
    userinfoEndpoint: `${url}/userinfo`,
    revocationEndpoint: `${url}/revoke`,
    /** Every recorded request since the last reset(). */
    calls,
    /** Every request since start (reset() does not clear it). */
    history,
    /** The most requests one endpoint was handling at the same time since the last reset(). */
    maxInFlight: (endpoint) => maxInFlight[endpoint] ?? 0,
    /** Every token value this server issued. */
    issued,
    /** Fault names this server knows. */
    faults: Object.keys(FAULTS),
    /** Sets the fault used when the queue is empty (and clears the queue). */
    setFault(f) {
      defaultFault = normalise(f);
      queue.length = 0;
    },
    /** The userinfo endpoint's behaviour from now on: 'ok' (the default) or any fault name. */
    setUserinfoFault(f) {
      userinfoFault = normalise(f);
    },
    /** The revocation endpoint's behaviour from now on: 'ok' (the default) or any fault name. */
    setRevocationFault(f) {
      revocationFault = normalise(f);
    },
    /** One fault per coming token request, in order; then the default again. */
    queueFault(...fs) {
      for (const f of fs) queue.push(normalise(f));
    },
    /** Requests received by `endpoint` ('token', 'userinfo', 'revocation', 'elsewhere', …), or all. */
    count(endpoint) {
      return endpoint ? calls.filter((c) => c.endpoint === endpoint).length : calls.length;
    },
    /** Token-endpoint requests with a given grant type. */
    tokenCalls(grantType) {
      return calls.filter((c) => c.endpoint === 'token' && (!grantType || c.grantType === grantType));
    },
    /** Forget recorded calls and queued faults; the default fault becomes `ok`. */
    reset() {
      calls.length = 0;
      queue.length = 0;
      for (const k of Object.keys(maxInFlight)) maxInFlight[k] = inFlight[k] ?? 0;
      defaultFault = { name: 'ok' };
      userinfoFault = { name: 'ok' };
      revocationFault = { name: 'ok' };
    },
    /** Whether a refresh token is still usable here. */
    refreshTokenIsActive: (rt) => activeRefresh.has(rt),
    /** Stops the server, cutting every open connection (never-answering requests too). */
    close() {
      closing ??= new Promise((res) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => res());
        for (const s of sockets) s.destroy();
        server.closeAllConnections?.();
      });
      return closing;
    },
  };
  return api;
}
