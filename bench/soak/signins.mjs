// Load driver of bench/soak/slow-provider.sh: TOTAL full sign-ins against authsplit-server,
// CONCURRENCY at a time (node:http, one keep-alive socket per worker), with a hard time limit.
// A sign-in: POST /auth/transactions (a fresh random state, the S256 challenge of a fresh
// verifier) → 201 + transaction cookie → POST /auth/token with the cookie, state, verifier and a
// code. Records every reply by step, status and `error` code, and the duration of each step.
// Writes a JSON summary to OUT (and prints it).
//
//   node bench/soak/signins.mjs URL PROVIDER TOTAL CONCURRENCY LIMIT_S OUT.json
//
// A client-side timeout (CLIENT_TIMEOUT_MS, default 30000: three times the server's default
// request_timeout_ms) counts as `client_timeout`: the server did not answer in time at all.
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const [url, provider, totalS, concS, limitS, out] = process.argv.slice(2);
const total = Number(totalS);
const concurrency = Number(concS);
const limitMs = Number(limitS) * 1000;
if (!url || !provider || !(total > 0) || !(concurrency > 0) || !(limitMs > 0) || !out) {
  console.error('usage: node signins.mjs URL PROVIDER TOTAL CONCURRENCY LIMIT_S OUT.json');
  process.exit(2);
}
const clientTimeoutMs = Number(process.env.CLIENT_TIMEOUT_MS ?? 30000);
// The SPA's origin: the redirect URI's, which the server accepts by default (allow_same_origin).
const origin = process.env.SOAK_ORIGIN ?? 'https://app.example';
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency + 8 });
const b64u = (b) => b.toString('base64url');

function post(path, body, cookie) {
  return new Promise((resolve) => {
    const data = JSON.stringify(body);
    const started = performance.now();
    const headers = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(data),
      'x-authsplit': '1',
      origin,
    };
    if (cookie) headers.cookie = cookie;
    const req = http.request(`${url}${path}`, { method: 'POST', agent, headers, timeout: clientTimeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, json, ms: performance.now() - started });
      });
      res.on('error', (e) => resolve({ status: 'response_error', error: e.code ?? String(e), ms: performance.now() - started }));
    });
    req.on('timeout', () => req.destroy(new Error('client_timeout')));
    req.on('error', (e) =>
      resolve({ status: e.message === 'client_timeout' ? 'client_timeout' : 'socket_error', error: e.code ?? e.message, ms: performance.now() - started }),
    );
    req.end(data);
  });
}

const outcomes = {}; // "step status error" -> count
const durations = {}; // "step status error" -> [ms]
function note(step, r) {
  const k = `${step} ${r.status} ${r.json?.error ?? r.error ?? ''}`.trim();
  outcomes[k] = (outcomes[k] ?? 0) + 1;
  (durations[k] ??= []).push(r.ms);
}

let started = 0;
let completed = 0;
let succeeded = 0;
let inFlight = 0;
let maxInFlight = 0;
const t0 = performance.now();
const deadline = t0 + limitMs;
let timeUp = false;

async function signIn() {
  const verifier = b64u(randomBytes(32));
  const challenge = b64u(createHash('sha256').update(verifier).digest());
  const state = b64u(randomBytes(24));
  const tx = await post('/auth/transactions', { provider, state, code_challenge: challenge, code_challenge_method: 'S256' });
  note('transactions', tx);
  const setCookie = tx.headers?.['set-cookie']?.[0];
  if (tx.status !== 201 || !setCookie) return false;
  const cookie = setCookie.split(';')[0];
  const tok = await post('/auth/token', { provider, code: `soak-${b64u(randomBytes(16))}`, state, code_verifier: verifier }, cookie);
  note('token', tok);
  return tok.status === 200 && typeof tok.json?.access_token === 'string';
}

async function worker() {
  while (started < total) {
    if (performance.now() >= deadline) {
      timeUp = true;
      return;
    }
    started += 1;
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    if (await signIn()) succeeded += 1;
    inFlight -= 1;
    completed += 1;
  }
}

const progress = setInterval(() => {
  process.stderr.write(`  t=${((performance.now() - t0) / 1000).toFixed(0)}s started ${started} completed ${completed} ok ${succeeded} in flight ${inFlight}\n`);
}, 5000);
// The hard limit also covers sign-ins already started: after LIMIT_S + 35 s, give up on them.
const hard = setTimeout(() => {
  process.stderr.write('hard time limit reached with sign-ins still in flight\n');
  finish(true);
}, limitMs + 35000);

function pct(a, p) {
  if (!a.length) return null;
  const s = [...a].sort((x, y) => x - y);
  return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]);
}

function finish(abandoned) {
  clearInterval(progress);
  clearTimeout(hard);
  const stats = {};
  for (const [k, v] of Object.entries(durations)) {
    stats[k] = { count: v.length, p50_ms: pct(v, 50), p99_ms: pct(v, 99), max_ms: pct(v, 100) };
  }
  const summary = {
    total_requested: total,
    concurrency,
    started,
    completed,
    succeeded,
    abandoned_in_flight: abandoned ? inFlight : 0,
    max_concurrent_signins: maxInFlight,
    time_limit_hit: timeUp,
    wall_s: Number(((performance.now() - t0) / 1000).toFixed(2)),
    outcomes: stats,
  };
  writeFileSync(out, JSON.stringify(summary, null, 1) + '\n');
  agent.destroy();
  process.exit(0);
}

await Promise.all(Array.from({ length: concurrency }, worker));
finish(false);
