// Spawns the real `authsplit-server` binary with a temporary TOML config and captures its logs.
//
//   const srv = await startServer({ config: { ... } });   // a config object → TOML
//   srv.url      // 'http://127.0.0.1:PORT' (from the "listening on" line)
//   srv.logs()   // everything the process wrote to stdout + stderr so far
//   await srv.close()
//
// The binary is never built here: scripts/test.sh builds it once. Path: env
// AUTHSPLIT_SERVER_BIN, default target/debug/authsplit-server.

import { spawn } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, randomInt } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';

import { stringify as toToml } from 'smol-toml';

import { BASIC_CLIENT, POST_CLIENT } from './op.mjs';

/** Repository root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The server binary the tests run. */
export const SERVER_BIN = resolve(
  REPO_ROOT,
  process.env.AUTHSPLIT_SERVER_BIN || 'target/debug/authsplit-server',
);

/** The exact start-up line the binary prints (server contract). */
const READY_RE = /authsplit-server listening on (http:\/\/([0-9.]+):(\d+))/;

/** Every child still running, killed synchronously if the test process exits. */
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    for (const child of live) child.kill('SIGKILL');
    process.exit(130);
  });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for when a URL containing the port must be
 * known before the process that listens on it starts (the SPA's redirect URI served by
 * authsplit-server itself). It is picked at random below the kernel's ephemeral range
 * (`/proc/sys/net/ipv4/ip_local_port_range`), where no bind to port 0 and no outgoing connection
 * of the suites running alongside can land in the moment between this check and the server's
 * bind; only another explicit bind to the same port could, which the random pick makes unlikely.
 * Prefer port 0 plus `op.setRedirectUris` when the redirect URI does not depend on the server's
 * own port.
 * @returns {Promise<number>}
 */
export async function freePort() {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {}
  const base = 10000;
  for (let i = 0; i < 50 && low > base + 1000; i++) {
    const port = base + randomInt(low - base);
    if ((await listenOnce(port)) !== null) return port;
  }
  return listenOnce(0);
}

/** Binds `port` on 127.0.0.1 and releases it: the bound port, or null when it is taken. */
async function listenOnce(port) {
  const s = createNetServer();
  const ok = await new Promise((res) => {
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => res(true));
  });
  if (!ok) return null;
  const bound = s.address().port;
  await new Promise((res) => s.close(res));
  return bound;
}

/** A fresh random cookie key (64 bytes, base64) for one server run. */
export function randomCookieKey() {
  return randomBytes(64).toString('base64');
}

/**
 * Start `authsplit-server --config <tmp.toml> [extraArgs…]` and wait for its ready line.
 *
 * @param {object} opts
 * @param {object} [opts.config] The config as a plain object (serialised to TOML).
 * @param {string} [opts.configToml] The config as TOML text (instead of `config`).
 * @param {string[]} [opts.args] Extra command-line arguments (e.g. `['--static-dir', dir]`).
 * @param {Record<string,string>} [opts.env] Extra environment (e.g. AUTHSPLIT__… overrides).
 * @param {string} [opts.bin] Binary path (default SERVER_BIN).
 * @param {number} [opts.readyTimeoutMs=15000]
 * @param {boolean} [opts.echo=false] Also copy the child's output to this process' stderr
 *   (env AUTHSPLIT_TEST_ECHO=1 does the same).
 * @param {string} [opts.dir] Write the config into this directory (kept on close) instead of a
 *   fresh temporary one: a binary without `[store]` keeps its SQLite file there, so a restart
 *   with the same `dir` finds it.
 * @returns {Promise<Server>}
 */
export async function startServer(opts) {
  const {
    config,
    configToml,
    args = [],
    env = {},
    bin = SERVER_BIN,
    readyTimeoutMs = 15000,
    echo = process.env.AUTHSPLIT_TEST_ECHO === '1',
    dir: keep,
  } = opts;
  if (!existsSync(bin)) {
    throw new Error(
      `authsplit-server binary not found at ${bin}: build it first (cargo build -p authsplit-server) ` +
        'or set AUTHSPLIT_SERVER_BIN',
    );
  }
  const text = configToml ?? toToml(config);
  const dir = keep ?? (await mkdtemp(join(tmpdir(), 'authsplit-test-')));
  const removeDir = () => (keep ? Promise.resolve() : rm(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'authsplit.toml');
  await writeFile(configPath, text, { mode: 0o600 });

  const child = spawn(bin, ['--config', configPath, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, RUST_BACKTRACE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);

  /** @type {{ stream: 'stdout'|'stderr', text: string }[]} */
  const chunks = [];
  let exited = null;
  const exitPromise = new Promise((res) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      res(exited);
    });
  });

  let ready;
  const readyPromise = new Promise((res, rej) => {
    let buf = '';
    const onData = (stream) => (data) => {
      const s = data.toString('utf8');
      chunks.push({ stream, text: s });
      if (echo) process.stderr.write(`[authsplit-server ${stream}] ${s}`);
      if (!ready) {
        buf += s;
        const m = READY_RE.exec(buf);
        if (m) {
          ready = { url: m[1], port: Number(m[3]) };
          res(ready);
        }
      }
    };
    child.stdout.on('data', onData('stdout'));
    child.stderr.on('data', onData('stderr'));
    child.on('error', rej);
    exitPromise.then((e) => {
      if (!ready) rej(new Error(`authsplit-server exited before ready (${JSON.stringify(e)}):\n${logs()}`));
    });
  });
  const logs = () => chunks.map((c) => c.text).join('');

  let timer;
  try {
    await Promise.race([
      readyPromise,
      new Promise((_, rej) => {
        timer = setTimeout(
          () => rej(new Error(`authsplit-server not ready within ${readyTimeoutMs} ms:\n${logs()}`)),
          readyTimeoutMs,
        );
      }),
    ]);
  } catch (e) {
    child.kill('SIGKILL');
    await exitPromise;
    await removeDir();
    throw e;
  } finally {
    clearTimeout(timer);
  }

  let closing;
  return {
    url: ready.url,
    port: ready.port,
    /** `${url}/auth` — where the router is mounted. */
    authUrl: `${ready.url}/auth`,
    configPath,
    configText: text,
    pid: child.pid,
    /** All stdout + stderr so far. */
    logs,
    /** stdout and stderr separately. */
    stdout: () => chunks.filter((c) => c.stream === 'stdout').map((c) => c.text).join(''),
    stderr: () => chunks.filter((c) => c.stream === 'stderr').map((c) => c.text).join(''),
    /** Whether the process is still running. */
    running: () => exited === null,
    /** SIGTERM, then SIGKILL after 3 s; removes the temporary config. Idempotent. */
    close() {
      closing ??= (async () => {
        if (exited === null) {
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exitPromise;
          clearTimeout(t);
        }
        await removeDir();
        return exited;
      })();
      return closing;
    },
  };
}

/**
 * A `[providers.<id>]` table for one of the fixture OP's clients (see crates/authsplit-server
 * src/config.rs): discovery by issuer, scopes `openid profile email offline_access`,
 * `prompt=consent` (oidc-provider only issues refresh tokens then), userinfo on.
 *
 * @param {{ issuer: string }} op the fixture OP
 * @param {'basic'|'post'} which which client (BASIC_CLIENT or POST_CLIENT)
 * @param {string} redirectUri the registered redirect URI
 * @param {object} [extra] more provider keys (e.g. { post_logout_redirect_uri })
 */
export function opProvider(op, which, redirectUri, extra = {}) {
  const client = which === 'post' ? POST_CLIENT : BASIC_CLIENT;
  return {
    name: which === 'post' ? 'Local OIDC (client_secret_post)' : 'Local OIDC (client_secret_basic)',
    issuer: op.issuer,
    client_id: client.id,
    client_secret: client.secret,
    client_auth: client.method,
    redirect_uri: redirectUri,
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    prompt: 'consent',
    ...extra,
  };
}

/**
 * A whole config for the fixture OP: providers `basic` and `post`, listening on 127.0.0.1:0,
 * a fresh random cookie key, `allowed_origins = [spaOrigin]`.
 *
 * @param {object} o
 * @param {{ issuer: string }} o.op
 * @param {string} o.redirectUri
 * @param {string} [o.spaOrigin] default: the redirect URI's origin
 * @param {object} [o.server] more `[server]` keys (transaction_ttl_secs, static_dir, demo_api,
 *   insecure_dev_cookies, …)
 * @param {object} [o.providers] more providers / overrides, by id
 */
export function opServerConfig({ op, redirectUri, spaOrigin, server = {}, providers = {} }) {
  return {
    server: {
      listen: '127.0.0.1:0',
      allowed_origins: [spaOrigin ?? new URL(redirectUri).origin],
      cookie_key: randomCookieKey(),
      ...server,
    },
    providers: {
      basic: opProvider(op, 'basic', redirectUri),
      post: opProvider(op, 'post', redirectUri),
      ...providers,
    },
  };
}

/**
 * authsplit-server on a loopback port its own configuration must name (the SPA's redirect URI
 * on the server's origin). `build(app, port)` returns `startServer`'s options for
 * `app = http://127.0.0.1:PORT`; `[server]` gets `listen` on that port, `allowed_origins = [app]`
 * and a fresh cookie key unless `build` sets them. A port another process took between
 * `freePort()` and the bind is replaced by another one (3 attempts).
 * @param {(app: string, port: number) => object | Promise<object>} build
 * @returns {Promise<{ app: string, port: number, srv: Server }>}
 */
export async function startOnFreePort(build) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const app = `http://127.0.0.1:${port}`;
    const opts = await build(app, port);
    opts.config.server = {
      listen: `127.0.0.1:${port}`,
      allowed_origins: [app],
      cookie_key: randomCookieKey(),
      ...opts.config.server,
    };
    try {
      return { app, port, srv: await startServer(opts) };
    } catch (e) {
      if (attempt >= 3 || !/could not listen|address|in use/i.test(String(e))) throw e;
    }
  }
}

/** The example SPA as scripts/build-web.sh builds it, served by the binary in the SPA suites. */
export const EXAMPLE_DIST = join(REPO_ROOT, 'web', 'example', 'dist');

/**
 * The example SPA (web/example) and the backend on one origin, the way the demo runs: the binary
 * on a free loopback port serving `EXAMPLE_DIST` and the demo API (`/api/hello`, `/api/me`), with
 * one provider `local` (display name "Local OIDC provider") for the fixture OP's `which` client,
 * the redirect URI `<app>/callback` and the post-logout redirect URI `<app>/signed-out` (the
 * example's RP-initiated logout return). The caller registers both at the OP
 * (`op.setRedirectUris`): several apps may share one OP.
 *
 * @param {object} o
 * @param {{ issuer: string }} o.op the fixture OP
 * @param {'basic'|'post'} [o.which='basic'] which OP client
 * @param {object} [o.server] more `[server]` keys (`mode: 'bff'`, …)
 * @param {object} [o.provider] more `[providers.local]` keys (`api`, `post_logout_redirect_uri`, …)
 * @returns {Promise<{ app: string, callback: string, signedOut: string, srv: Server }>}
 */
export async function startExampleApp({ op, which = 'basic', server = {}, provider = {} }) {
  if (!existsSync(join(EXAMPLE_DIST, 'index.html'))) {
    throw new Error(`${EXAMPLE_DIST} missing: run scripts/build-web.sh first`);
  }
  const { app, srv } = await startOnFreePort((app) => ({
    config: {
      server: { static_dir: EXAMPLE_DIST, demo_api: true, ...server },
      providers: {
        local: {
          ...opProvider(op, which, `${app}/callback`),
          name: 'Local OIDC provider',
          post_logout_redirect_uri: `${app}/signed-out`,
          ...provider,
        },
      },
    },
  }));
  return { app, callback: `${app}/callback`, signedOut: `${app}/signed-out`, srv };
}

/**
 * @typedef {Awaited<ReturnType<typeof startServer>>} Server
 */
