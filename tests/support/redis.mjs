// A real `redis-server` (Debian's package, installed by scripts/setup.sh) for the suites: on a
// free loopback port, with a temporary directory and no persistence, started and stopped by
// the test itself (by PID; also SIGKILLed if the test process exits). Never the system service.
//
//   const redis = await startRedis();
//   redis.url            // 'redis://127.0.0.1:PORT/0'
//   await redis.kill()   // SIGKILL, as a crash would
//   await redis.start()  // again on the same port (empty: nothing was persisted)
//   await redis.close()  // stop and remove the directory

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';

import { freePort } from './server.mjs';

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

/** Whether something on `port` answers PING with +PONG (one attempt, ≤ 500 ms). */
function pong(port) {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/**
 * Starts `redis-server` on a free port (a few ports are tried if one is taken meanwhile).
 * @returns {Promise<{ url: string, port: number, pid: () => number|undefined, running: () => boolean,
 *   kill: () => Promise<void>, start: () => Promise<void>, close: () => Promise<void>, logs: () => string }>}
 */
export async function startRedis() {
  const dir = await mkdtemp(join(tmpdir(), 'authsplit-redis-'));
  let child = null;
  let exited = null;
  let port = 0;
  const out = [];

  async function spawnOn(p) {
    const c = spawn(
      'redis-server',
      ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    live.add(c);
    c.stdout.on('data', (d) => out.push(d.toString()));
    c.stderr.on('data', (d) => out.push(d.toString()));
    exited = new Promise((res) =>
      c.once('exit', () => {
        live.delete(c);
        res();
      }),
    );
    let gone = false;
    exited.then(() => {
      gone = true;
    });
    const until = Date.now() + 5000;
    while (Date.now() < until && !gone) {
      if (await pong(p)) {
        child = c;
        return true;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    c.kill('SIGKILL');
    await exited;
    return false;
  }

  for (let i = 0; i < 5 && !child; i++) {
    port = await freePort();
    await spawnOn(port);
  }
  if (!child) throw new Error(`redis-server did not start (installed? see scripts/setup.sh):\n${out.join('')}`);

  const api = {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    pid: () => child?.pid,
    running: () => child !== null,
    logs: () => out.join(''),
    async kill() {
      if (!child) return;
      child.kill('SIGKILL');
      await exited;
      child = null;
    },
    async start() {
      if (child) return;
      if (!(await spawnOn(port))) throw new Error(`redis-server did not restart on ${port}:\n${out.join('')}`);
    },
    async close() {
      await api.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return api;
}
