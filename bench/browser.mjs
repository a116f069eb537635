// Benchmark 2, in headless Chromium (playwright-core, /usr/bin/chromium):
//  (a) login() call → navigation issued: PKCE + state + nonce + sessionStorage + the real HTTP
//      `POST /auth/transactions` to a stub on the static server + location.assign. The
//      navigation is observed with the Navigation API's `navigate` event and cancelled there
//      (preventDefault), so the page stays and the next run starts at once. Median of N.
//  (b) operations/s, sequential, for a fixed time after a warm-up, in the same page and the
//      same loop harness: oauth4webapi generateRandomCodeVerifier + await
//      calculatePKCECodeChallenge (WebCrypto) against authsplit's generateRandomCodeVerifier +
//      calculatePKCECodeChallenge (wasm, synchronous; awaited like the peer's, so both pay the
//      loop's microtask), alternately in 5 rounds of OPS_MS/2 each (each contender's best round,
//      and the median of the per-round ratios); authsplit's also in a plain synchronous loop, as a caller uses it; and a
//      whole login() with the registration answered in memory
//      (window.fetch replaced by a function returning a Response) and the navigation cancelled:
//      PKCE + state + nonce + storage + URL building + navigation call.
//  (c) cold init: a fresh browser context (empty HTTP cache) per run; time of `await init()`
//      (fetch + compile + instantiate of the .wasm) and of import() + init(). Median of N.
//
//   node bench/browser.mjs [out.json]     env: LOGIN_RUNS=200 OPS_MS=3000 INIT_RUNS=30
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { startStatic } from './lib/static-server.mjs';
import { median, percentile } from './lib/util.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const LOGIN_RUNS = Number(process.env.LOGIN_RUNS ?? 200);
const OPS_MS = Number(process.env.OPS_MS ?? 3000);
const INIT_RUNS = Number(process.env.INIT_RUNS ?? 30);
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

const o4w = await build({
  stdin: { contents: "export * from 'oauth4webapi';", resolveDir: here, loader: 'js' },
  bundle: true,
  minify: true,
  format: 'esm',
  write: false,
  logLevel: 'silent',
});

const srv = await startStatic({
  webDir: join(root, 'web'),
  vendor: { 'oauth4webapi.js': Buffer.from(o4w.outputFiles[0].contents) },
});
let browser;
try {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: FLAGS, headless: true });
  const result = { chromium: browser.version(), runs: { login: LOGIN_RUNS, opsMs: OPS_MS, init: INIT_RUNS } };

  // ---- (a) + (b) in one page ------------------------------------------------------------
  const ctx = await browser.newContext();
  // The in-memory backend's `POST /transactions` reply for a request body: the authorization
  // URL with the request's state, challenge and nonce, as the backend answers it.
  await ctx.addInitScript(() => {
    window.benchReply = (origin, body) => {
      const b = JSON.parse(body);
      return JSON.stringify({
        authorization_url: `${origin}/authorize?response_type=code&client_id=bench-client&scope=openid+profile&state=${b.state}&code_challenge=${b.code_challenge}&code_challenge_method=S256&nonce=${b.nonce}`,
        issuer: origin,
        require_iss: false,
        expires_in: 600,
      });
    };
  });
  const page = await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(`${srv.url}/`);
  const isolated = await page.evaluate(() => self.crossOriginIsolated);

  const txBefore = srv.counts.transactions;
  const login = await page.evaluate(async (runs) => {
    const { init, AuthClient } = await import('/web/index.js');
    await init();
    const client = new AuthClient({ backendUrl: '/auth', provider: 'stub' });
    let onNav = null;
    let navs = 0;
    let lastUrl = '';
    navigation.addEventListener('navigate', (e) => {
      const t = performance.now();
      navs++;
      lastUrl = e.destination.url;
      e.preventDefault();
      onNav?.(t);
    });
    const times = [];
    for (let i = 0; i < runs + 20; i++) {
      sessionStorage.clear();
      const nav = new Promise((r) => (onNav = r));
      const t0 = performance.now();
      const done = client.login({ returnTo: '/account' });
      // A login() that fails (or ends) without navigating must end the run, not hang it.
      const t1 = await Promise.race([nav, done.then(() => Promise.reject(new Error('login() ended without navigating')))]);
      await done;
      if (i >= 20) times.push(t1 - t0); // 20 warm-up runs
    }
    return { times, navs, lastUrl };
  }, LOGIN_RUNS);
  const u = new URL(login.lastUrl);
  if (u.origin + u.pathname !== `${srv.url}/authorize` || u.searchParams.get('code_challenge_method') !== 'S256') {
    throw new Error(`login navigated to an unexpected URL: ${u.origin}${u.pathname}`);
  }
  if (login.navs !== LOGIN_RUNS + 20 || srv.counts.transactions - txBefore !== LOGIN_RUNS + 20) {
    throw new Error(`login runs incomplete: ${login.navs} navigations, ${srv.counts.transactions - txBefore} registrations`);
  }
  result.login = {
    n: login.times.length,
    medianMs: median(login.times),
    p90Ms: percentile(login.times, 90),
    minMs: Math.min(...login.times),
    crossOriginIsolated: isolated,
  };

  const ops = await page.evaluate(async (ms) => {
    const o = await import('/vendor/oauth4webapi.js');
    const a = await import('/web/index.js');
    const { AuthClient } = a;
    await a.init();
    const loop = async (fn, dur = ms) => {
      const warm = performance.now() + Math.min(500, dur / 4);
      while (performance.now() < warm) await fn();
      let n = 0;
      const t0 = performance.now();
      let t = t0;
      while (t - t0 < dur) {
        await fn();
        n++;
        t = performance.now();
      }
      return { n, ms: t - t0, opsPerSec: (n * 1000) / (t - t0) };
    };
    let check = '';
    let checkA = '';
    const o4wOnce = async () => {
      const v = o.generateRandomCodeVerifier();
      check = await o.calculatePKCECodeChallenge(v);
    };
    const authsplitOnce = async () => {
      const v = a.generateRandomCodeVerifier();
      checkA = a.calculatePKCECodeChallenge(v);
    };
    // Alternate (peer, authsplit, peer, authsplit, …: 5 rounds of ms/2 each) so drift in machine
    // load hits both alike; each contender's figure is its best round, and the median of the
    // per-round ratios is kept too (robust to a round disturbed by other processes).
    const best = (...runs) => runs.reduce((x, y) => (x.opsPerSec >= y.opsPerSec ? x : y));
    const o4wRuns = [];
    const authsplitRuns = [];
    const roundLoop = async (fn) => {
      const r = await loop(fn, ms / 2);
      return r;
    };
    for (let i = 0; i < 5; i++) {
      o4wRuns.push(await roundLoop(o4wOnce));
      authsplitRuns.push(await roundLoop(authsplitOnce));
    }
    const pkceRoundRatios = authsplitRuns.map((r, i) => r.opsPerSec / o4wRuns[i].opsPerSec).sort((x, y) => x - y);
    const pkceMedianRatio = pkceRoundRatios[2];
    const o4wPkce = best(...o4wRuns);
    const authsplitPkce = best(...authsplitRuns);
    // authsplit's functions are synchronous: also timed as a caller uses them, in a plain loop
    // (no await per operation; oauth4webapi's challenge is a promise, so it has no such form).
    const syncLoop = (fn) => {
      const warm = performance.now() + Math.min(500, ms / 4);
      while (performance.now() < warm) fn();
      let n = 0;
      const t0 = performance.now();
      let t = t0;
      while (t - t0 < ms) {
        fn();
        n++;
        t = performance.now();
      }
      return { n, ms: t - t0, opsPerSec: (n * 1000) / (t - t0) };
    };
    const authsplitPkceSync = syncLoop(() => {
      checkA = a.calculatePKCECodeChallenge(a.generateRandomCodeVerifier());
    });
    // Same verifier → same challenge (RFC 7636 Appendix B vector) in both libraries.
    const vB = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    const sameChallenge =
      a.calculatePKCECodeChallenge(vB) === (await o.calculatePKCECodeChallenge(vB)) &&
      a.calculatePKCECodeChallenge(vB) === 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
    const o4wPkceState = await loop(async () => {
      const v = o.generateRandomCodeVerifier();
      check = await o.calculatePKCECodeChallenge(v);
      o.generateRandomState();
      o.generateRandomState(); // nonce
    });
    // The same sign-in start written with oauth4webapi (what a SPA using it does on the click:
    // PKCE + state + nonce, a sessionStorage record, the authorization URL, the navigation).
    const o4wLogin = await loop(async () => {
      sessionStorage.clear();
      const v = o.generateRandomCodeVerifier();
      const challenge = await o.calculatePKCECodeChallenge(v);
      const state = o.generateRandomState();
      const nonce = o.generateRandomNonce();
      sessionStorage.setItem(`o4w.tx.${state}`, JSON.stringify({ v, state, nonce, returnTo: '/account', createdAt: Date.now() }));
      const u = new URL(`${location.origin}/authorize`);
      u.searchParams.set('response_type', 'code');
      u.searchParams.set('client_id', 'bench-client');
      u.searchParams.set('redirect_uri', `${location.origin}/callback`);
      u.searchParams.set('scope', 'openid profile');
      u.searchParams.set('state', state);
      u.searchParams.set('nonce', nonce);
      u.searchParams.set('code_challenge', challenge);
      u.searchParams.set('code_challenge_method', 'S256');
      location.assign(u.href);
    });
    // authsplit: login() with the registration answered in memory — the backend's reply for this
    // request's state, challenge and nonce (the backend builds the authorization URL).
    const realFetch = window.fetch;
    let fetches = 0;
    window.fetch = (_url, init) => {
      fetches++;
      return Promise.resolve(new Response(benchReply(location.origin, init.body), { status: 201, headers: { 'content-type': 'application/json' } }));
    };
    let navs = 0;
    navigation.addEventListener('navigate', () => navs++);
    const client = new AuthClient({ backendUrl: '/auth', provider: 'stub' });
    const navsBefore = navs;
    const authsplitLogin = await loop(async () => {
      sessionStorage.clear();
      await client.login();
    });
    window.fetch = realFetch;
    // What the navigation call alone costs in this set-up (the same cancelled navigation).
    const target = `${location.origin}/authorize?client_id=bench-client&response_type=code`;
    const navOnly = await loop(async () => {
      location.assign(target);
    });
    return {
      o4wPkce, authsplitPkce, authsplitPkceSync, o4wRuns, authsplitRuns, pkceRoundRatios, pkceMedianRatio, sameChallenge, o4wPkceState, o4wLogin, authsplitLogin, navOnly, fetches,
      navs: navs - navsBefore, checkLen: check.length, checkALen: checkA.length,
    };
  }, OPS_MS);
  if (ops.checkLen !== 43) throw new Error('oauth4webapi challenge has an unexpected length');
  if (ops.checkALen !== 43 || !ops.sameChallenge) throw new Error('authsplit challenge differs from oauth4webapi\'s / RFC 7636 Appendix B');
  if (ops.navs < ops.authsplitLogin.n) throw new Error(`authsplit login loop: ${ops.navs} navigations for ${ops.authsplitLogin.n}+ runs`);
  result.ops = ops;

  // (b') Where a login() spends its time: a second, profiled pass of the same loop (the V8
  // sampling profiler through CDP, 50 µs interval; not used for ops/s). Self time of the wasm
  // module's functions per login() = everything authsplit computes in Rust (verifier, SHA-256
  // challenge, state, nonce, URL, storage record), an upper bound of its PKCE cost.
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 50 });
  await cdp.send('Profiler.start');
  const profiled = await page.evaluate(async (ms) => {
    const { AuthClient } = await import('/web/index.js');
    const realFetch = window.fetch;
    window.fetch = (_url, init) => Promise.resolve(new Response(benchReply(location.origin, init.body), { status: 201, headers: { 'content-type': 'application/json' } }));
    const client = new AuthClient({ backendUrl: '/auth', provider: 'stub' });
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      sessionStorage.clear();
      await client.login();
      n++;
    }
    window.fetch = realFetch;
    return { n, ms: performance.now() - t0 };
  }, Math.max(1000, OPS_MS / 2));
  const { profile } = await cdp.send('Profiler.stop');
  await cdp.detach();
  const nodes = new Map(profile.nodes.map((nd) => [nd.id, nd]));
  const selfUs = new Map();
  const fnUs = new Map(); // self time per function (name @ file:line), for the breakdown
  profile.samples.forEach((id, i) => {
    const cf = nodes.get(id).callFrame;
    const fk = `${cf.functionName || '(anonymous)'} @ ${cf.url.split('/').pop() || '-'}:${cf.lineNumber + 1}`;
    fnUs.set(fk, (fnUs.get(fk) ?? 0) + (profile.timeDeltas[i] ?? 0));
    const k = cf.url.endsWith('.wasm') || cf.functionName.startsWith('wasm-function') ? 'wasm'
      : cf.functionName === 'assign' ? 'location.assign'
      : cf.functionName === '(idle)' ? 'idle'
      : cf.functionName === '(garbage collector)' ? 'gc'
      : cf.functionName === '(program)' ? 'program'
      : 'other JS + browser APIs';
    selfUs.set(k, (selfUs.get(k) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const totalUs = [...selfUs.values()].reduce((x, y) => x + y, 0);
  result.loginProfile = {
    logins: profiled.n,
    wallMs: profiled.ms,
    perLoginUs: Object.fromEntries([...selfUs].map(([k, v]) => [k, v / profiled.n])),
    topFunctionsUs: [...fnUs].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, v]) => [k, Math.round((v / profiled.n) * 10) / 10]),
    sampledMs: totalUs / 1000,
  };
  await ctx.close();

  // ---- (c) cold init ---------------------------------------------------------------------
  const init = [];
  for (let i = 0; i < INIT_RUNS + 2; i++) {
    const c = await browser.newContext();
    const p = await c.newPage();
    await p.goto(`${srv.url}/blank.html`);
    const r = await p.evaluate(async () => {
      const t0 = performance.now();
      const m = await import('/web/index.js');
      const t1 = performance.now();
      await m.init();
      const t2 = performance.now();
      const wasm = performance.getEntriesByType('resource').find((e) => e.name.endsWith('.wasm'));
      return { importMs: t1 - t0, initMs: t2 - t1, totalMs: t2 - t0, wasmFetchMs: wasm ? wasm.responseEnd - wasm.startTime : null };
    });
    await c.close();
    if (i >= 2) init.push(r); // 2 warm-up runs (browser process start-up effects)
  }
  result.init = {
    n: init.length,
    initMedianMs: median(init.map((r) => r.initMs)),
    initP90Ms: percentile(init.map((r) => r.initMs), 90),
    importPlusInitMedianMs: median(init.map((r) => r.totalMs)),
    wasmFetchMedianMs: median(init.map((r) => r.wasmFetchMs)),
  };
  result.pageErrors = pageErrors;

  const outPath = process.argv[2];
  if (outPath) writeFileSync(outPath, JSON.stringify(result, null, 2));
  const f = (x) => x.toFixed(3);
  console.log(`login() → navigation: median ${f(result.login.medianMs)} ms (p90 ${f(result.login.p90Ms)}, n=${result.login.n}, crossOriginIsolated=${isolated})`);
  console.log(`verifier+S256 challenge: authsplit ${ops.authsplitPkce.opsPerSec.toFixed(0)} ops/s, oauth4webapi ${ops.o4wPkce.opsPerSec.toFixed(0)} ops/s (best rounds: authsplit ÷ oauth4webapi ${(ops.authsplitPkce.opsPerSec / ops.o4wPkce.opsPerSec).toFixed(2)}×; median of the 5 per-round ratios ${ops.pkceMedianRatio.toFixed(2)}×); rounds: authsplit ${ops.authsplitRuns.map((r) => r.opsPerSec.toFixed(0)).join(', ')}, oauth4webapi ${ops.o4wRuns.map((r) => r.opsPerSec.toFixed(0)).join(', ')}; authsplit in a plain synchronous loop: ${ops.authsplitPkceSync.opsPerSec.toFixed(0)} ops/s`);
  console.log(`oauth4webapi verifier+challenge+state+nonce: ${ops.o4wPkceState.opsPerSec.toFixed(0)} ops/s`);
  console.log(`authsplit login() in memory: ${ops.authsplitLogin.opsPerSec.toFixed(0)} ops/s; oauth4webapi sign-in start: ${ops.o4wLogin.opsPerSec.toFixed(0)} ops/s; location.assign alone (cancelled): ${ops.navOnly.opsPerSec.toFixed(0)} ops/s`);
  console.log(`login() profile, µs per login: ${JSON.stringify(Object.fromEntries(Object.entries(result.loginProfile.perLoginUs).map(([k, v]) => [k, Math.round(v)])))}`);
  console.log(`login() profile, top functions (self µs per login): ${result.loginProfile.topFunctionsUs.map(([k, v]) => `${k} ${v}`).join('; ')}`);
  console.log(`cold init(): median ${f(result.init.initMedianMs)} ms; import()+init(): ${f(result.init.importPlusInitMedianMs)} ms (n=${result.init.n})`);
  if (pageErrors.length) console.log('page errors:', pageErrors);
} finally {
  await browser?.close();
  await srv.close();
}
