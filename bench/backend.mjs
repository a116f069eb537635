// Benchmarks 3 and 4: backend token exchange and cold start. Not tests.
//
// 3. wrk (THREADS=2, CONNS=50, DURATION per run) against the same fast stub token endpoint on
//    127.0.0.1 (the `stub_token_endpoint` binary of crates/authsplit-test-support, a constant token response):
//    - the stub called directly (what the loopback + stub can do at all),
//    - authsplit-server release: full sign-ins (POST /auth/transactions, then POST /auth/token
//      with that transaction's cookie — lua/signin.lua) with each store (`[store] url`: memory,
//      SQLite in a temporary data dir, Redis — a redis-server on a free loopback port started
//      and stopped here by tests/support/redis.mjs), and /token alone (cookies collected
//      first — lua/collect.lua + lua/token.lua),
//    - (a) Node express + openid-client 6.8.9 (peers/express-openid-client.mjs),
//    - (b) FastAPI + fastapi-oauth20 0.0.3 under uvicorn (peers/fastapi_oauth20_app.py);
//    requests/s, p50/p99 latency (wrk), peak RSS (VmHWM of the server process after the run;
//    each contender is started fresh for its run), and CPU per operation: utime + stime (plus
//    any children's) from /proc/PID/stat of the server, of the stub and of redis-server, read
//    right before wrk starts and right after it exits, ÷ operations completed.
//    Allocator: full sign-ins (memory store) with the default binary and with
//    target/release/authsplit-server-system-alloc (built by run.sh with --no-default-features:
//    the system allocator), alternating, ALLOC_ROUNDS rounds each.
//    Profile: `perf record -g -p PID` of the default binary under the full sign-in load (memory
//    store, PERF_SECONDS), self time grouped by library / module (PERF=0 skips it).
//    Before timing, each contender's exchange is sent once to a recording endpoint so the
//    report can show they make the same token request with the same client authentication.
//    Added latency: an open-loop Node client at a fixed RATE (default 1000 req/s, keep-alive)
//    sends LAT_SECONDS of POST /token to the stub directly, then of POST /auth/token through
//    authsplit-server (fresh transaction cookie each); p50/p99 of each and the difference.
// 4. Cold start: spawn the release binary → first 200 from GET /auth/healthz (polling
//    connects back-to-back), median of COLD_RUNS; binary size as built and stripped.
//
//   node bench/backend.mjs [out.json]   (bench/run.sh builds the binaries first)
//   ONLY=stores,alloc,perf node bench/backend.mjs   (a subset of steps, for trying things out)
//   AB='base=/tmp/old-server;new=target/release/authsplit-server;w1=target/release/authsplit-server|TOKIO_WORKER_THREADS=1' \
//     ONLY=ab node bench/backend.mjs   (A/B: full sign-ins, memory store, AB_ROUNDS alternating
//     rounds of each named binary, optionally with extra environment; median CPU per sign-in)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { start, stop, stopAll, freePort, peakRssKiB, median, percentile, cpuMeter, loadavg, clockTicks } from './lib/util.mjs';
import { request, startRecorder } from './lib/http.mjs';
import { profileCpu } from './lib/perf.mjs';
import { startRedis } from '../tests/support/redis.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const env = process.env;
const DURATION = env.DURATION ?? '15s';
const THREADS = Number(env.THREADS ?? 2);
const CONNS = Number(env.CONNS ?? 50);
const WRK_TIMEOUT = env.WRK_TIMEOUT ?? '5s';
const RATE = Number(env.RATE ?? 1000);
const LAT_SECONDS = Number(env.LAT_SECONDS ?? 10);
const COLD_RUNS = Number(env.COLD_RUNS ?? 20);
const ALLOC_ROUNDS = Number(env.ALLOC_ROUNDS ?? 3);
const AB_ROUNDS = Number(env.AB_ROUNDS ?? 3);
// `label=binary[|NAME=value,…]` entries separated by `;` (the ONLY=ab step).
const AB = (env.AB ?? '').split(';').filter(Boolean).map((e) => {
  const [head, envPart = ''] = e.split('|');
  const [label, bin] = head.split('=');
  const extra = Object.fromEntries(envPart.split(',').filter(Boolean).map((kv) => kv.split('=')));
  return { label, bin: resolve(root, bin), env: extra };
});
const PERF = env.PERF !== '0';
const PERF_SECONDS = Number(env.PERF_SECONDS ?? 10);
const ONLY = env.ONLY ? new Set(env.ONLY.split(',')) : null;
const step = (name) => !ONLY || ONLY.has(name);
// SERVER_BIN: another build of the server (e.g. target/debug/… to check the steps quickly).
const BIN = resolve(root, env.SERVER_BIN ?? 'target/release/authsplit-server');
const BIN_SYSTEM_ALLOC = join(root, 'target/release/authsplit-server-system-alloc');
const STUB_BIN = join(root, 'target/release/stub_token_endpoint');
const PY = join(here, '.venv/bin/python');
const dir = mkdtempSync(join(tmpdir(), 'authsplit-bench-'));

const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'; // RFC 7636 Appendix B
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const STATE = 'st-0123456789abcdefghijklmnopqrstuvwxyzABCDE';
// The SPA's origin: that of the configured redirect URI, which the server accepts by default
// (`allow_same_origin`).
const APP_ORIGIN = 'https://app.example';
const TX_BODY = JSON.stringify({ provider: 'stub', state: STATE, code_challenge: CHALLENGE, code_challenge_method: 'S256' });
const TOKEN_BODY = JSON.stringify({ provider: 'stub', code: 'bench-code', state: STATE, code_verifier: VERIFIER });

const log = (...a) => console.error('[backend]', ...a);

// One wrk run. `cpu` names the processes whose CPU time is measured over the run
// ({server: pid, stub: pid, …} → r.cpuUs in µs, each process with its children); the load
// average is read before and after (r.load).
function wrk(url, script, { extraEnv = {}, duration = DURATION, cpu = {}, onStart } = {}) {
  return new Promise((resolve, reject) => {
    const args = [`-t${THREADS}`, `-c${CONNS}`, `-d${duration}`, `--timeout`, WRK_TIMEOUT, '-s', join(here, 'lua', script), url];
    const loadBefore = loadavg();
    const meter = cpuMeter(cpu);
    const p = spawn('wrk', args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    onStart?.(p);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => {
      const cpuUs = meter.stop();
      const line = out.split('\n').find((l) => l.startsWith('BENCHJSON '));
      if (code !== 0 || !line) return reject(new Error(`wrk ${script} failed (${code}): ${out}\n${err}`));
      const r = JSON.parse(line.slice('BENCHJSON '.length));
      r.rps = r.requests / (r.duration_us / 1e6);
      r.seconds = r.duration_us / 1e6;
      r.wrkArgs = args.slice(0, 6).join(' ');
      r.cpuUs = cpuUs;
      r.load = { before: loadBefore, after: loadavg() };
      resolve(r);
    });
  });
}

// `store`: the `[store] url` (default "memory:"); a SQLite store gets its own data dir.
function authsplitConfig(tokenBase, name, store = 'memory:') {
  const path = join(dir, `${name}.toml`);
  const dataDir = join(dir, `data-${name}`);
  writeFileSync(
    path,
    `[store]
url = "${store}"
data_dir = "${dataDir}"
[server]
listen = "127.0.0.1:0"
dev_generate_cookie_key = true
max_used_transactions = 10000000
[providers.stub]
authorization_endpoint = "${tokenBase}/authorize"
token_endpoint = "${tokenBase}/token"
client_id = "bench client"
client_secret = "a+b:c%d/e f"
redirect_uri = "https://app.example/callback"
`,
  );
  return path;
}

async function startAuthsplit(tokenBase, name, { store, bin = BIN, env: extraEnv = {} } = {}) {
  const s = await start(bin, ['--config', authsplitConfig(tokenBase, name, store)], {
    re: /authsplit-server listening on (http:\/\/\S+)/,
    env: { RUST_LOG: 'warn', ...extraEnv },
    name: 'authsplit-server',
  });
  return { child: s.child, url: s.match[1] };
}
const startStub = async () => {
  const s = await start(STUB_BIN, ['127.0.0.1:0'], { re: /stub listening on (http:\/\/\S+)/, name: 'stub' });
  return { child: s.child, url: s.match[1] };
};
const startExpress = async (tokenUrl) => {
  const s = await start(process.execPath, [join(here, 'peers/express-openid-client.mjs'), '127.0.0.1:0', tokenUrl], {
    re: /express listening on (http:\/\/\S+)/, name: 'express', env: { NODE_ENV: 'production' },
  });
  return { child: s.child, url: s.match[1] };
};
const startFastapi = async (tokenUrl) => {
  const s = await start(PY, [join(here, 'peers/fastapi_oauth20_app.py'), '127.0.0.1:0', tokenUrl], {
    re: /fastapi listening on (http:\/\/\S+)/, name: 'fastapi', timeoutMs: 90000,
  });
  return { child: s.child, url: s.match[1] };
};

const jsonHeaders = (origin, cookie) => ({
  'content-type': 'application/json',
  'x-authsplit': '1',
  origin,
  ...(cookie ? { cookie } : {}),
});

async function authsplitSignIn(url, agent) {
  const tx = await request(`${url}/auth/transactions`, { method: 'POST', headers: jsonHeaders(APP_ORIGIN), body: TX_BODY, agent });
  if (tx.status !== 201) throw new Error(`transactions: ${tx.status} ${tx.body}`);
  const cookie = String(tx.headers['set-cookie']).split(';')[0];
  const tok = await request(`${url}/auth/token`, { method: 'POST', headers: jsonHeaders(APP_ORIGIN, cookie), body: TOKEN_BODY, agent });
  return tok;
}

// What each contender sends to the token endpoint (checked once, not timed).
function describeTokenRequest(seen) {
  if (!seen) return null;
  const auth = seen.headers.authorization ?? '';
  let basic = null;
  if (auth.startsWith('Basic ')) basic = Buffer.from(auth.slice(6), 'base64').toString();
  const form = new URLSearchParams(seen.body);
  return {
    method: seen.method,
    contentType: seen.headers['content-type'],
    basicCredentials: basic === null ? null : basic === 'bench+client:a%2Bb%3Ac%25d%2Fe+f' ? 'form-encoded (RFC 6749 §2.3.1)' : basic === 'bench client:a+b:c%d/e f' ? 'raw, not form-encoded' : 'other',
    params: [...form.keys()].sort(),
    codeVerifierSent: form.get('code_verifier') === VERIFIER,
    secretInBody: form.has('client_secret'),
  };
}

async function preflight() {
  const rec = await startRecorder();
  const out = {};
  try {
    log('preflight authsplit');
    const a = await startAuthsplit(rec.url, 'preflight');
    const r = await authsplitSignIn(a.url);
    out.authsplit = { status: r.status, request: describeTokenRequest(rec.seen.at(-1)) };
    await stop(a.child);
    log('preflight express');
    const e = await startExpress(`${rec.url}/token`);
    const re = await request(`${e.url}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: TOKEN_BODY });
    out.express = { status: re.status, request: describeTokenRequest(rec.seen.at(-1)) };
    await stop(e.child);
    log('preflight fastapi');
    const f = await startFastapi(`${rec.url}/token`);
    const rf = await request(`${f.url}/callback?code=bench-code&state=${STATE}&code_verifier=${VERIFIER}`);
    out.fastapi = { status: rf.status, request: describeTokenRequest(rec.seen.at(-1)) };
    await stop(f.child);
  } finally {
    await rec.close();
  }
  for (const [k, v] of Object.entries(out)) {
    if (v.status !== 200) throw new Error(`preflight: ${k} answered ${v.status}`);
  }
  return out;
}

// Open-loop client at a fixed rate (keep-alive): latency from sending to the end of the response.
function fixedRate({ rate, seconds, warmup, make, ok }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const total = Math.round(rate * seconds) + warmup;
  const lat = [];
  let errors = 0;
  let sent = 0;
  let finished = 0;
  let maxLagMs = 0;
  return new Promise((resolveAll) => {
    const t0 = performance.now();
    const fire = (i) => {
      const { url, method, headers, body } = make(i);
      const ts = performance.now();
      const req = http.request(url, { method, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          const t = performance.now();
          if (ok(res.statusCode)) {
            if (i >= warmup) lat.push(t - ts);
          } else errors++;
          if (++finished === total) {
            agent.destroy();
            resolveAll({ n: lat.length, errors, p50Ms: percentile(lat, 50), p90Ms: percentile(lat, 90), p99Ms: percentile(lat, 99), maxMs: Math.max(...lat), achievedRate: (total * 1000) / (performance.now() - t0), maxSendLagMs: maxLagMs });
          }
        });
      });
      req.on('error', () => {
        errors++;
        if (++finished === total) { agent.destroy(); resolveAll({ n: lat.length, errors }); }
      });
      req.end(body);
    };
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - t0) * rate) / 1000) + 1);
      if (sent < due) maxLagMs = Math.max(maxLagMs, now - (t0 + (sent * 1000) / rate));
      while (sent < due) fire(sent++);
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}

async function collectCookies(url, n, conc = 32) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
  const cookies = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < n) {
        next++;
        const r = await request(`${url}/auth/transactions`, { method: 'POST', headers: jsonHeaders(APP_ORIGIN), body: TX_BODY, agent });
        if (r.status === 201) cookies.push(String(r.headers['set-cookie']).split(';')[0]);
      }
    }),
  );
  agent.destroy();
  return cookies;
}

async function coldStart(stubUrl) {
  const cfg = authsplitConfig(stubUrl, 'cold');
  const runs = [];
  for (let i = 0; i < COLD_RUNS + 1; i++) {
    const port = await freePort();
    const t0 = performance.now();
    const child = spawn(BIN, ['--config', cfg, '--listen', `127.0.0.1:${port}`], { env: { ...env, RUST_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'ignore'] });
    let tLine = null;
    child.stdout.on('data', () => { tLine ??= performance.now() - t0; });
    let tReady = null;
    const deadline = t0 + 10000;
    while (performance.now() < deadline) {
      try {
        const r = await request(`http://127.0.0.1:${port}/auth/healthz`, { agent: false });
        if (r.status === 200) { tReady = performance.now() - t0; break; }
      } catch { /* not listening yet */ }
      await new Promise((r) => setImmediate(r));
    }
    await stop(child);
    if (tReady === null) throw new Error('cold start: no answer within 10 s');
    if (i >= 1) runs.push({ readyMs: tReady, lineMs: tLine }); // first run warms the page cache
  }
  return {
    n: runs.length,
    medianMs: median(runs.map((r) => r.readyMs)),
    p90Ms: percentile(runs.map((r) => r.readyMs), 90),
    minMs: Math.min(...runs.map((r) => r.readyMs)),
    listeningLineMedianMs: median(runs.map((r) => r.lineMs)),
  };
}

function binarySize() {
  const stripped = join(dir, 'authsplit-server.stripped');
  execFileSync('strip', ['-o', stripped, BIN]);
  return { path: 'target/release/authsplit-server', bytes: statSync(BIN).size, strippedBytes: statSync(stripped).size, builtAt: statSync(BIN).mtime.toISOString() };
}

// CPU per operation of each measured process: µs ÷ ops (null when not measured).
function perOp(r, ops) {
  r.ops = ops;
  r.cpuPerOpUs = Object.fromEntries(Object.entries(r.cpuUs).map(([k, us]) => [k, us === null || ops <= 0 ? null : us / ops]));
  return r;
}

// Full sign-ins against a fresh authsplit-server (one store, one binary): wrk + CPU of the
// server, the stub and (Redis store) redis-server.
async function signinRun(stub, name, { store, bin, env: extraEnv, redisPid, duration, onStart } = {}) {
  const a = await startAuthsplit(stub.url, name, { store, bin, env: extraEnv });
  try {
    const cpu = { server: a.child.pid, stub: stub.child.pid, ...(redisPid ? { redis: redisPid } : {}) };
    const r = await wrk(`${a.url}/auth/transactions`, 'signin.lua', { extraEnv: { BENCH_ORIGIN: APP_ORIGIN }, cpu, duration, onStart: onStart && ((p) => onStart(a, p)) });
    r.peakRssKiB = await peakRssKiB(a.child.pid);
    r.signinsPerSec = r.signin_ok / r.seconds;
    if (r.signin_ok === 0) throw new Error(`${name}: no sign-in completed (${r.tx_ok} transactions, ${r.other} other answers)`);
    return perOp(r, r.signin_ok);
  } finally {
    await stop(a.child);
  }
}

// Whether a binary links mimalloc (its allocator symbols are in the symbol table).
function allocatorOf(bin) {
  try {
    const syms = execFileSync('nm', ['--defined-only', bin], { encoding: 'utf8', maxBuffer: 1 << 28 });
    return /\bmi_free\b/.test(syms) ? 'mimalloc' : 'system (glibc malloc)';
  } catch {
    return 'unknown';
  }
}

let gitHead = null;
try { gitHead = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
const result = { startedAt: new Date().toISOString(), git: gitHead, loadAtStart: loadavg(), config: { DURATION, THREADS, CONNS, WRK_TIMEOUT, RATE, LAT_SECONDS, COLD_RUNS, ALLOC_ROUNDS, PERF_SECONDS, clockTicks: clockTicks() } };
let redis = null;
const onSignal = async () => { await stopAll(); await redis?.close(); rmSync(dir, { recursive: true, force: true }); process.exit(130); };
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
try {
  result.allocator = { default: allocatorOf(BIN), systemAllocBinary: existsSync(BIN_SYSTEM_ALLOC) ? allocatorOf(BIN_SYSTEM_ALLOC) : null };
  if (step('preflight')) {
    log('preflight: one exchange per contender against a recording token endpoint');
    result.preflight = await preflight();
  }
  const stub = await startStub();
  const stubTok = `${stub.url}/token`;

  if (step('stub')) {
    log(`stub direct (${DURATION})`);
    const d = await wrk(stubTok, 'stub.lua', { cpu: { stub: stub.child.pid } });
    result.stubDirect = perOp(d, d.requests - d.non2xx);
  }

  if (step('stores')) {
    result.stores = {};
    log(`authsplit full sign-ins, memory store (${DURATION})`);
    result.stores.memory = await signinRun(stub, 'signin-memory', { store: 'memory:' });
    log(`authsplit full sign-ins, SQLite store (${DURATION})`);
    result.stores.sqlite = await signinRun(stub, 'signin-sqlite', { store: 'sqlite:' });
    log(`authsplit full sign-ins, Redis store (${DURATION})`);
    redis = await startRedis();
    try {
      result.stores.redis = await signinRun(stub, 'signin-redis', { store: `${redis.url}?prefix=bench:`, redisPid: redis.pid() });
      result.stores.redis.redisVersion = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
    } finally {
      await redis.close();
      redis = null;
    }
    result.authsplitSignin = result.stores.memory;
  }

  if (step('token')) {
    log(`authsplit /token alone (collect ${DURATION}, then ${DURATION})`);
    const a = await startAuthsplit(stub.url, 'token');
    const extraEnv = { BENCH_ORIGIN: APP_ORIGIN, BENCH_DIR: dir };
    const cpu = { server: a.child.pid, stub: stub.child.pid };
    const collected = await wrk(`${a.url}/auth/transactions`, 'collect.lua', { extraEnv, cpu });
    const cookieCount = readdirSync(dir).filter((f) => f.startsWith('cookies-')).reduce((n, f) => n + readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).length, 0);
    result.authsplitTransactions = perOp({ ...collected, cookies: cookieCount }, cookieCount);
    result.authsplitToken = await wrk(`${a.url}/auth/token`, 'token.lua', { extraEnv, cpu });
    result.authsplitToken.peakRssKiB = await peakRssKiB(a.child.pid);
    perOp(result.authsplitToken, result.authsplitToken.requests - result.authsplitToken.non2xx);
    await stop(a.child);
  }

  if (step('peers')) {
    log(`express + openid-client (${DURATION})`);
    const e = await startExpress(stubTok);
    result.express = await wrk(`${e.url}/token`, 'express.lua', { cpu: { server: e.child.pid, stub: stub.child.pid } });
    result.express.peakRssKiB = await peakRssKiB(e.child.pid);
    perOp(result.express, result.express.requests - result.express.non2xx);
    await stop(e.child);

    log(`fastapi + fastapi-oauth20 (${DURATION})`);
    const f = await startFastapi(stubTok);
    result.fastapi = await wrk(`${f.url}/callback?code=bench-code&state=${STATE}&code_verifier=${VERIFIER}`, 'plain.lua', { cpu: { server: f.child.pid, stub: stub.child.pid } });
    result.fastapi.peakRssKiB = await peakRssKiB(f.child.pid);
    perOp(result.fastapi, result.fastapi.requests - result.fastapi.non2xx);
    await stop(f.child);
  }

  if (step('alloc') && existsSync(BIN_SYSTEM_ALLOC)) {
    // Alternating, so that a change of machine load hits both binaries alike.
    result.allocatorRuns = [];
    for (let i = 0; i < ALLOC_ROUNDS; i++) {
      for (const [allocator, bin] of [[result.allocator.systemAllocBinary, BIN_SYSTEM_ALLOC], [result.allocator.default, BIN]]) {
        log(`allocator round ${i + 1}: ${allocator} (${DURATION})`);
        const r = await signinRun(stub, `alloc-${i}`, { store: 'memory:', bin });
        result.allocatorRuns.push({ round: i + 1, allocator, binary: bin === BIN ? 'default' : 'system-alloc', ...r });
      }
    }
  }

  if (step('ab') && AB.length) {
    // Alternating, so that a change of machine load hits every entry alike.
    result.abRuns = [];
    for (let i = 0; i < AB_ROUNDS; i++) {
      for (const e of AB) {
        log(`A/B round ${i + 1}: ${e.label} (${DURATION})`);
        const r = await signinRun(stub, `ab-${e.label}-${i}`, { store: 'memory:', bin: e.bin, env: e.env });
        result.abRuns.push({ round: i + 1, label: e.label, ...r });
      }
    }
  }

  if (step('perf') && PERF) {
    let perfBin = null;
    try { perfBin = execFileSync('sh', ['-c', 'command -v perf'], { encoding: 'utf8' }).trim(); } catch { /* none */ }
    if (perfBin) {
      log(`perf record -g of the server under full sign-ins (${PERF_SECONDS} s)`);
      let prof = null;
      const r = await signinRun(stub, 'perf', {
        store: 'memory:',
        duration: `${PERF_SECONDS}s`,
        onStart: (a) => { prof = profileCpu(a.child.pid, join(dir, 'perf.data')); },
      });
      result.profile = { run: r, ...(await prof.finish()) };
    } else {
      result.profile = { skipped: 'perf not installed' };
    }
  }

  if (step('latency')) {
    log(`added latency at ${RATE} req/s (${LAT_SECONDS} s each)`);
    const a = await startAuthsplit(stub.url, 'latency');
    const warmup = Math.min(500, RATE);
    const cookies = await collectCookies(a.url, Math.round(RATE * LAT_SECONDS) + warmup + 10);
    const stubReq = {
      url: stubTok,
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        authorization: 'Basic YmVuY2grY2xpZW50OmElMkJiJTNBYyUyNWQlMkZlK2Y=',
      },
      body: `grant_type=authorization_code&code=bench-code&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&code_verifier=${VERIFIER}`,
    };
    const direct = await fixedRate({ rate: RATE, seconds: LAT_SECONDS, warmup, make: () => stubReq, ok: (s) => s === 200 });
    const through = await fixedRate({
      rate: RATE, seconds: LAT_SECONDS, warmup,
      make: (i) => ({ url: `${a.url}/auth/token`, method: 'POST', headers: jsonHeaders(APP_ORIGIN, cookies[i]), body: TOKEN_BODY }),
      ok: (s) => s === 200,
    });
    result.addedLatency = {
      rate: RATE, seconds: LAT_SECONDS, direct, through,
      p50AddedMs: through.p50Ms - direct.p50Ms,
      p99AddedMs: through.p99Ms - direct.p99Ms,
    };
    await stop(a.child);
  }

  if (step('cold')) {
    log(`cold start x${COLD_RUNS}`);
    result.coldStart = await coldStart(stub.url);
    result.binary = binarySize();
  }
  await stop(stub.child);
} finally {
  await stopAll();
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
}

const outPath = process.argv[2];
if (outPath) writeFileSync(outPath, JSON.stringify(result, null, 2));
const r0 = (x) => Math.round(x);
const ms = (us) => (us / 1000).toFixed(2);
const cpuLine = (x) => Object.entries(x.cpuPerOpUs ?? {}).map(([k, v]) => `${k} ${v === null ? 'n/a' : v.toFixed(1)} µs/op`).join(', ');
const line = (name, x) => x && console.log(`${name}: ${r0(x.ops / x.seconds)} ops/s (${r0(x.rps)} req/s) p50 ${ms(x.p50_us)} p99 ${ms(x.p99_us)} ms non2xx ${x.non2xx} timeouts ${x.timeouts}${x.other ? ` other ${x.other}` : ''} RSS ${x.peakRssKiB ?? '-'} KiB; CPU ${cpuLine(x)}; load ${x.load.before[0]}→${x.load.after[0]}`);
line('stub direct', result.stubDirect);
for (const [k, x] of Object.entries(result.stores ?? {})) line(`authsplit sign-ins, ${k} store`, x);
line('authsplit /transactions (collect)', result.authsplitTransactions);
line('authsplit /token alone', result.authsplitToken);
line('express', result.express);
line('fastapi', result.fastapi);
for (const x of result.allocatorRuns ?? []) line(`allocator round ${x.round} ${x.allocator}`, x);
for (const x of result.abRuns ?? []) line(`A/B round ${x.round} ${x.label}`, x);
for (const e of AB) {
  const runs = (result.abRuns ?? []).filter((x) => x.label === e.label);
  if (runs.length) console.log(`A/B ${e.label}: median server CPU ${median(runs.map((x) => x.cpuPerOpUs.server)).toFixed(1)} µs per sign-in, median ${r0(median(runs.map((x) => x.signinsPerSec)))} sign-ins/s, median p99 ${ms(median(runs.map((x) => x.p99_us)))} ms (${runs.length} rounds)`);
}
if (result.profile?.groups) console.log('profile:', result.profile.groups.map((g) => `${g.name} ${g.percent.toFixed(1)}%`).join(', '));
const L = result.addedLatency;
if (L) console.log(`fixed ${RATE}/s: direct p50 ${L.direct.p50Ms.toFixed(3)} p99 ${L.direct.p99Ms.toFixed(3)}; through p50 ${L.through.p50Ms.toFixed(3)} p99 ${L.through.p99Ms.toFixed(3)}; added p50 ${L.p50AddedMs.toFixed(3)} p99 ${L.p99AddedMs.toFixed(3)} ms`);
if (result.coldStart) console.log(`cold start median ${result.coldStart.medianMs.toFixed(1)} ms; binary ${result.binary.bytes} B (stripped ${result.binary.strippedBytes} B)`);
if (result.preflight) console.log('preflight:', JSON.stringify(result.preflight));
