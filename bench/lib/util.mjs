// Shared helpers of the bench scripts (not tests).
import { gzipSync, constants } from 'node:zlib';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
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

/** Clock ticks per second of the `/proc/PID/stat` time fields (`getconf CLK_TCK`). */
let tck = null;
export function clockTicks() {
  if (tck === null) {
    tck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (!(tck > 0)) throw new Error(`getconf CLK_TCK gave ${tck}`);
  }
  return tck;
}

/**
 * `/proc/PID/stat` of one process → {ppid, ticks}: utime + stime of the process plus cutime +
 * cstime (children it has waited for). The command name (field 2) may hold spaces and
 * parentheses, so fields are counted from its closing parenthesis. null if the process is gone.
 */
function statOf(pid) {
  let s;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
}

/**
 * CPU time (µs, user + system) of `pid` and every live descendant, plus what reaped children
 * used. A child that exits between two samples moves from its own counters to its parent's
 * cutime / cstime, so the sum stays continuous.
 */
export function treeCpuUs(pid) {
  const self = statOf(pid);
  if (!self) return null;
  const parent = new Map();
  const ticks = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === pid) continue;
    const st = statOf(d);
    if (st) {
      parent.set(Number(d), st.ppid);
      ticks.set(Number(d), st.ticks);
    }
  }
  let total = self.ticks;
  const inTree = (p) => {
    for (let i = 0; i < 64 && p > 1; i++) {
      if (p === pid) return true;
      p = parent.get(p);
      if (p === undefined) return false;
    }
    return false;
  };
  for (const [p, t] of ticks) if (inTree(parent.get(p))) total += t;
  return (total * 1e6) / clockTicks();
}

/**
 * Starts a CPU meter over named process trees ({server: pid, stub: pid, …}); `stop()` → µs of
 * CPU each used since the start (null for one that was gone at either end).
 */
export function cpuMeter(pids) {
  const t0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, treeCpuUs(p)]));
  return {
    stop() {
      return Object.fromEntries(
        Object.entries(pids).map(([k, p]) => {
          const t1 = treeCpuUs(p);
          return [k, t0[k] === null || t1 === null ? null : t1 - t0[k]];
        }),
      );
    },
  };
}

/** The 1, 5 and 15 minute load averages (`/proc/loadavg`). */
export const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
