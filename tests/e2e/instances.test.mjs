// Three instances of the real authsplit-server binary behind one "load balancer" (each browser's
// requests spread across them), sharing one real redis-server through `[store] url` (issue 13;
// docs/DEPLOYMENT.md). Every guarantee that needs memory — a transaction redeemed at most once,
// one refresh per session, logout is final — must hold across instances and restarts, and with
// Redis down every call that could burn a code or a refresh token fails closed with a typed 503
// before any upstream call. Upstream calls are counted at tests/support/faulty-provider.mjs.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startFaultyProvider } from '../support/faulty-provider.mjs';
import { startServer, randomCookieKey } from '../support/server.mjs';
import { startRedis } from '../support/redis.mjs';
import { backendClient, CookieJar, pkcePair, randomToken } from '../support/http.mjs';

const SPA = 'http://127.0.0.1:5173';
const COOKIE_KEY = randomCookieKey();
const SECRET = `inst-secret-${randomToken(16)}`;

let fp;
let redis;
/** @type {Awaited<ReturnType<typeof startServer>>[]} */
let servers = [];

function config() {
  return {
    server: { listen: '127.0.0.1:0', allowed_origins: [SPA], cookie_key: COOKIE_KEY, request_timeout_ms: 3000 },
    store: { url: `${redis.url}?prefix=inst-${process.pid}:` },
    providers: {
      fp: {
        client_id: 'inst-client',
        client_secret: SECRET,
        redirect_uri: `${SPA}/callback`,
        authorization_endpoint: fp.authorizationEndpoint,
        token_endpoint: fp.tokenEndpoint,
        revocation_endpoint: fp.revocationEndpoint,
      },
    },
  };
}

const startAll = async () => {
  servers = await Promise.all([0, 1, 2].map(() => startServer({ config: config() })));
};
const closeAll = async () => {
  await Promise.all(servers.map((s) => s.close()));
};

before(async () => {
  fp = await startFaultyProvider();
  redis = await startRedis();
  await startAll();
});

after(async () => {
  await closeAll();
  await redis?.close();
  await fp?.close();
});

/** One browser: one cookie jar, requests to instance `i % 3`. */
function browser(jar = new CookieJar()) {
  const on = (i) => backendClient(servers[i % 3].authUrl, { origin: SPA, jar });
  return { jar, on };
}

async function transaction(b, i = 0) {
  const { verifier, challenge } = pkcePair();
  const state = randomToken();
  const r = await b.on(i).post('/transactions', { provider: 'fp', state, code_challenge: challenge, code_challenge_method: 'S256' });
  assert.equal(r.status, 201, r.text);
  return { body: { provider: 'fp', code: `code-${randomToken()}`, state, code_verifier: verifier } };
}

/** Polls `cond` every 20 ms for at most 3 s; whether it became true. */
async function waitFor(cond) {
  for (let i = 0; i < 150; i++) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

async function signIn(b = browser(), i = 0) {
  const { body } = await transaction(b, i);
  const r = await b.on(i + 1).post('/token', body);
  assert.equal(r.status, 200, r.text);
  return b;
}

describe('three instances on one Redis', () => {
  test('a transaction replayed on any instance → transaction_used, zero extra upstream calls', async () => {
    const b = browser();
    const { body } = await transaction(b, 0);
    const before = b.jar.clone();
    fp.reset();
    const first = await b.on(1).post('/token', body);
    assert.equal(first.status, 200, first.text);
    assert.equal(fp.tokenCalls('authorization_code').length, 1);
    for (const i of [0, 1, 2]) {
      const r = await backendClient(servers[i].authUrl, { origin: SPA, jar: before.clone() }).post('/token', body);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error, 'transaction_used');
    }
    assert.equal(fp.tokenCalls('authorization_code').length, 1, 'the code reached the provider once');
  });

  test('one session refreshed concurrently on all three → exactly one upstream refresh, everyone gets the new access token', async () => {
    const b = await signIn();
    const rt0 = fp.issued.refresh.at(-1);
    fp.reset();
    fp.setFault({ name: 'ok', delayMs: 400 });
    const rs = await Promise.all(
      Array.from({ length: 9 }, (_, i) => backendClient(servers[i % 3].authUrl, { origin: SPA, jar: b.jar.clone() }).post('/refresh', {})),
    );
    fp.setFault('ok');
    for (const r of rs) assert.equal(r.status, 200, r.text);
    assert.equal(fp.tokenCalls('refresh_token').length, 1, 'exactly one upstream refresh');
    assert.equal(fp.tokenCalls('refresh_token')[0].form.refresh_token, rt0);
    assert.equal(new Set(rs.map((r) => r.json.access_token)).size, 1);
    assert.ok(fp.refreshTokenIsActive(fp.issued.refresh.at(-1)), 'the rotated grant is alive');
  });

  test('logout on one instance → the session is dead on every instance, also after every instance restarts', async () => {
    const b = await signIn();
    const copy = b.jar.clone();
    const lo = await b.on(2).post('/logout', {});
    assert.equal(lo.status, 200, lo.text);
    fp.reset();
    for (const i of [0, 1, 2]) {
      const r = await backendClient(servers[i].authUrl, { origin: SPA, jar: copy.clone() }).post('/refresh', {});
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json.error, 'session_ended');
    }
    await closeAll();
    await startAll();
    for (const i of [0, 1, 2]) {
      const r = await backendClient(servers[i].authUrl, { origin: SPA, jar: copy.clone() }).post('/refresh', {});
      assert.equal(r.status, 401, r.text);
    }
    assert.equal(fp.count('token'), 0, 'no upstream call for a dead session');
  });

  test('a second sign-in in one browser ends the first session on every instance: its refresh token is revoked, a copy of its cookie never refreshes again', async () => {
    const b = await signIn(browser(), 0);
    const firstRt = fp.issued.refresh.at(-1);
    const firstCopy = b.jar.clone();
    // The same browser (its session cookie still in the jar) signs in again on another instance.
    await signIn(b, 1);
    assert.ok(await waitFor(() => !fp.refreshTokenIsActive(firstRt)), 'the first refresh token is revoked');
    fp.reset();
    for (const i of [0, 1, 2]) {
      const r = await backendClient(servers[i].authUrl, { origin: SPA, jar: firstCopy.clone() }).post('/refresh', {});
      assert.equal(r.status, 401, r.text);
      assert.equal(r.json.error, 'session_ended');
    }
    assert.equal(fp.count('token'), 0, 'the ended session costs no upstream call');
    const r = await b.on(2).post('/refresh', {});
    assert.equal(r.status, 200, r.text);
    assert.equal(fp.tokenCalls('refresh_token').length, 1, 'the second session refreshes');
  });

  test('Redis down → typed 503 store_unavailable with zero upstream calls; after it restarts the same code still signs in', async () => {
    const signedIn = await signIn();
    const b = browser();
    const { body } = await transaction(b, 0);
    fp.reset();
    await redis.kill();
    try {
      const t = await b.on(1).post('/token', body);
      assert.equal(t.status, 503, t.text);
      assert.equal(t.json.error, 'store_unavailable');
      const r = await signedIn.on(2).post('/refresh', {});
      assert.equal(r.status, 503, r.text);
      assert.equal(r.json.error, 'store_unavailable');
      const tx = await browser().on(0).post('/transactions', { provider: 'fp', state: randomToken(), code_challenge: pkcePair().challenge, code_challenge_method: 'S256' });
      assert.equal(tx.status, 503, tx.text);
      assert.equal(tx.json.error, 'store_unavailable');
      const h = await fetch(`${servers[0].authUrl}/healthz`);
      assert.equal(h.status, 503);
      assert.equal((await h.json()).store, 'unavailable');
      assert.equal(fp.count('token'), 0, 'nothing reached the provider');
    } finally {
      await redis.start();
    }
    // Recovery by itself: the code was never sent, so the same transaction still signs in.
    let t;
    for (let i = 0; i < 50; i++) {
      t = await b.on(2).post('/token', body);
      if (t.status !== 503) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(t.status, 200, t.text);
    assert.equal(fp.tokenCalls('authorization_code').length, 1);
    // Every instance reports the store healthy again by itself (each reconnects on its next use).
    for (const srv of servers) {
      let h;
      for (let i = 0; i < 50; i++) {
        h = await fetch(`${srv.authUrl}/healthz`);
        if (h.status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(h.status, 200);
      assert.deepEqual(await h.json(), { status: 'ok' });
    }
  });
});

describe('one instance on the embedded store (SQLite)', () => {
  test('a logout stays final across a restart; a live session still refreshes after it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'authsplit-sqlite-'));
    const cfg = { ...config(), store: { url: 'sqlite:', data_dir: dir } };
    let srv = await startServer({ config: cfg });
    try {
      const on = (jar) => backendClient(srv.authUrl, { origin: SPA, jar });
      const sign = async () => {
        const jar = new CookieJar();
        const { verifier, challenge } = pkcePair();
        const state = randomToken();
        const t = await on(jar).post('/transactions', { provider: 'fp', state, code_challenge: challenge, code_challenge_method: 'S256' });
        assert.equal(t.status, 201, t.text);
        const r = await on(jar).post('/token', { provider: 'fp', code: `code-${randomToken()}`, state, code_verifier: verifier });
        assert.equal(r.status, 200, r.text);
        return jar;
      };
      const ended = await sign();
      const endedCopy = ended.clone();
      const live = await sign();
      assert.equal((await on(ended).post('/logout', {})).status, 200);
      assert.match(srv.logs(), /session store opened.*sqlite|sqlite.*session store opened/);

      await srv.close();
      srv = await startServer({ config: cfg });
      fp.reset();
      const dead = await on(endedCopy.clone()).post('/refresh', {});
      assert.equal(dead.status, 401, dead.text);
      assert.equal(dead.json.error, 'session_ended');
      assert.equal(fp.count('token'), 0, 'an ended session costs no upstream call');
      const alive = await on(live).post('/refresh', {});
      assert.equal(alive.status, 200, alive.text);
      assert.equal(fp.tokenCalls('refresh_token').length, 1);
    } finally {
      await srv.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
