// Shared helpers of the bench scripts (not tests).
import { gzipSync, constants } from 'node:zlib';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** gzip -9 length of a buffer. */
export const gz9 = (buf) => gzipSync(buf, { level: constants.Z_BEST_COMPRESSION }).length;

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

/** Nearest-rank percentile (p in 0..100). */
export const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1 (bind :0, read, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Spawns a process and resolves once a stdout line matches `re` (→ the match), or rejects on
 * exit/timeout. The child is tracked so `stopAll()` can end it.
 */
const children = new Set();
export function start(cmd, args, { re, env, cwd, timeoutMs = 20000, name = cmd } = {}) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let err = '';
  child.stderr.on('data', (d) => {
    err = (err + d).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => {
      reject(new Error(`${name}: no ${re} within ${timeoutMs} ms\n${out}\n${err}`));
    }, timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      // complete lines only (a chunk may end mid-line)
      const m = out.slice(0, out.lastIndexOf('\n') + 1).match(re);
      if (m) {
        clearTimeout(t);
        resolve({ child, match: m, stderr: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${name} exited (${code}) before ready\n${out}\n${err}`));
    });
  });
}

/** SIGTERM a child and wait for its exit (SIGKILL after 5 s). */
export function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const k = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(k);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function stopAll() {
  await Promise.all([...children].map(stop));
}

/** Peak resident set size (VmHWM) of a pid, in KiB, from /proc (null if unavailable). */
export async function peakRssKiB(pid) {
  const { readFile } = await import('node:fs/promises');
  try {
    const s = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = s.match(/^VmHWM:\s+(\d+) kB/m);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
