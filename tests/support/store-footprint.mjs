// How much the session store keeps per sign-in, measured with the real binary (the figures of
// docs/DEPLOYMENT.md "What is kept"). Not a test: run it by hand after building the binary.
//
//   node tests/support/store-footprint.mjs [sign-ins, default 1000]
//
// An OpenID sign-in at tests/support/faulty-provider.mjs (RS256 ID token, userinfo), so the
// session record holds what a real one does: user, access token, refresh token, ID token.
// Redis: `MEMORY USAGE` of each key one sign-in and one logout leave, and `used_memory` over
// all sign-ins. SQLite: the file (after a WAL checkpoint) before and after the sign-ins, then
// after logging every session out.

import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startFaultyProvider } from './faulty-provider.mjs';
import { startServer, randomCookieKey } from './server.mjs';
import { startRedis } from './redis.mjs';
import { backendClient, CookieJar, pkcePair, randomToken } from './http.mjs';

const N = Number(process.argv[2] ?? 1000);
const SPA = 'http://127.0.0.1:5173';
const CLIENT_ID = 'footprint-client';

async function signIn(srv) {
  const c = backendClient(srv.authUrl, { origin: SPA, jar: new CookieJar() });
  const { verifier, challenge } = pkcePair();
  const state = randomToken();
  const t = await c.post('/transactions', { provider: 'op', state, code_challenge: challenge, code_challenge_method: 'S256', nonce: randomToken() });
  if (t.status !== 201) throw new Error(t.text);
  const back = await fetch(t.json.authorization_url, { redirect: 'manual' });
  const code = new URL(back.headers.get('location')).searchParams.get('code');
  const r = await c.post('/token', { provider: 'op', code, state, code_verifier: verifier });
  if (r.status !== 200) throw new Error(r.text);
  return c;
}

async function many(srv, n) {
  const out = [];
  for (let i = 0; i < n; i += 10) out.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => signIn(srv)))));
  return out;
}

const fp = await startFaultyProvider({ idTokens: { clientId: CLIENT_ID } });
const config = (store) => ({
  server: { listen: '127.0.0.1:0', allowed_origins: [SPA], cookie_key: randomCookieKey() },
  store,
  providers: { op: { issuer: fp.url, client_id: CLIENT_ID, client_secret: `s-${randomToken(8)}`, redirect_uri: `${SPA}/callback` } },
});

// ---- Redis
const redis = await startRedis();
const cli = (...args) => execFileSync('redis-cli', ['-p', String(redis.port), ...args], { encoding: 'utf8' }).trim();
let srv = await startServer({ config: config({ url: `${redis.url}?prefix=fp:` }) });
try {
  const one = await signIn(srv);
  const kinds = {};
  for (const key of cli('--scan', '--pattern', 'fp:*').split('\n').filter(Boolean)) {
    kinds[key.split(':')[1]] = { key, bytes: Number(cli('MEMORY', 'USAGE', key, 'SAMPLES', '0')), ttl: Number(cli('PTTL', key)) };
  }
  await one.post('/logout', {});
  for (const key of cli('--scan', '--pattern', 'fp:end:*').split('\n').filter(Boolean)) {
    kinds.end = { key, bytes: Number(cli('MEMORY', 'USAGE', key, 'SAMPLES', '0')), ttl: Number(cli('PTTL', key)) };
  }
  const used = () => Number(/used_memory:(\d+)/.exec(cli('INFO', 'memory'))[1]);
  const before = used();
  await many(srv, N);
  const after = used();
  console.log(`redis: one sign-in leaves ${JSON.stringify(Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, { bytes: v.bytes, ttl_s: Math.round(v.ttl / 1000) }])))}`);
  console.log(`redis: used_memory grew ${after - before} B over ${N} sign-ins = ${Math.round((after - before) / N)} B per sign-in`);
} finally {
  await srv.close();
  await redis.close();
}

// ---- SQLite
const dir = await mkdtemp(join(tmpdir(), 'authsplit-footprint-'));
srv = await startServer({ config: config({ url: 'sqlite:', data_dir: dir }) });
const file = join(dir, 'authsplit.sqlite3');
const size = async () => {
  execFileSync('sqlite3', [file, 'PRAGMA wal_checkpoint(TRUNCATE);'], { encoding: 'utf8' });
  return (await stat(file)).size;
};
try {
  const before = await size();
  const sessions = await many(srv, N);
  const afterSignIns = await size();
  const row = execFileSync('sqlite3', [file, 'SELECT avg(length(record)) FROM sessions;'], { encoding: 'utf8' }).trim();
  for (const c of sessions) await c.post('/logout', {});
  const afterLogouts = await size();
  console.log(`sqlite: file ${before} B → ${afterSignIns} B after ${N} sign-ins (${Math.round((afterSignIns - before) / N)} B per sign-in; a session record is ${Math.round(Number(row))} B of JSON) → ${afterLogouts} B after logging them all out`);
} finally {
  await srv.close();
  await rm(dir, { recursive: true, force: true });
  await fp.close();
}
