// `perf record -g` of one running process, and its self time grouped by what it is (kernel,
// allocator, libc, HTTP, crypto, …) for the "where the CPU goes" table. Not a test.
//
//   const prof = profileCpu(pid, '/tmp/x/perf.data');   // starts recording all its threads
//   …load…
//   const { groups, top, samples } = await prof.finish(); // stops (SIGINT) and reports
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const FREQ = 999; // Hz: not a multiple of the kernel tick, so samples do not lock onto it

/**
 * Groups, first match wins, tested on "<shared object> <symbol>" (perf demangles Rust
 * symbols, so module paths are visible). Self time only (`--no-children`): with LTO and
 * inlining, a function's cost lands in the caller it was inlined into.
 */
const GROUPS = [
  ['kernel (syscalls, loopback TCP, scheduling)', (dso, sym, mode) => mode === 'k' || dso.startsWith('[kernel')],
  ['allocator (malloc / free, mimalloc)', (dso, sym) => /^(__libc_|_int_|__GI___libc_)?(malloc|free|cfree|calloc|realloc)\b|^_int_|^tcache|^malloc_|^unlink_chunk|^sysmalloc|^arena_|^systrim|^_?mi_|^__rust_(alloc|dealloc|realloc)|^__r[dg]l?_/.test(sym) || /mimalloc/.test(dso)],
  ['Vec / String growth (RawVec)', (dso, sym) => /raw_vec|RawVec/.test(sym)],
  ['libc memcpy / memmove / memset / memcmp / strlen', (dso, sym) => /^libc|^ld-linux/.test(dso) && /mem(cpy|move|set|cmp|chr)|str(len|cmp|chr)/.test(sym)],
  ['libc, other (syscall wrappers, locks)', (dso) => /^libc|^ld-linux|^libpthread|^libgcc/.test(dso)],
  ['crypto (AES-GCM, SHA-256, …)', (dso, sym) => /\b(aes|aes_gcm|ghash|polyval|sha2|ring|chacha20|hmac|aead|cipher|ctr|subtle|getrandom|rand_core)::|Aes256|Sha256|sha256/.test(sym)],
  ['store (SQLite, Redis client, memory store)', (dso, sym) => /rusqlite|sqlite3|authsplit_store|redis::|combine::/.test(sym)],
  ['url parsing / form encoding', (dso, sym) => /\burl::|idna|form_urlencoded|percent_encoding/.test(sym)],
  ['core::fmt / time formatting', (dso, sym) => /core::fmt|alloc::fmt|fmt::Write|fmt::write|as core::fmt::|\btime::format/.test(sym)],
  ['outbound client (reqwest, hyper-util pool)', (dso, sym) => /reqwest|hyper_util::client/.test(sym)],
  ['hyper / httparse / http (HTTP/1)', (dso, sym) => /hyper|httparse|\bhttp::|http_body|\bbytes::/.test(sym)],
  ['axum / tower (routing, extractors, middleware)', (dso, sym) => /axum|tower|matchit/.test(sym)],
  ['serde / serde_json', (dso, sym) => /serde/.test(sym)],
  ['tracing', (dso, sym) => /tracing/.test(sym)],
  ['cookie / base64', (dso, sym) => /cookie::|base64/.test(sym)],
  ['tokio / mio (runtime, I/O driver)', (dso, sym) => /tokio|mio::|parking_lot|crossbeam|std::sync|std::thread|futures_/.test(sym)],
  ['hashing / hash maps', (dso, sym) => /hashbrown|core::hash|sip|HashMap|RandomState|foldhash|ahash/.test(sym)],
  ['authsplit (own code after inlining)', (dso, sym) => /authsplit/.test(sym)],
];

/** Starts `perf record -g -F 999 -p PID -o path` (all threads of the process). */
export function profileCpu(pid, path) {
  const rec = spawn('perf', ['record', '-g', '-F', String(FREQ), '-p', String(pid), '-o', path], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  rec.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
  const exited = new Promise((r) => rec.once('exit', (code, sig) => r({ code, sig })));
  return {
    async finish() {
      rec.kill('SIGINT');
      const to = setTimeout(() => rec.kill('SIGKILL'), 10000);
      const { code, sig } = await exited;
      clearTimeout(to);
      // perf writes its file on SIGINT and then ends by that signal (or with 0).
      if (!(code === 0 || sig === 'SIGINT') || !/Captured and wrote/.test(err)) return { error: `perf record ended ${code ?? sig}: ${err}` };
      return report(path);
    },
  };
}

async function report(path) {
  const { stdout } = await run('perf', ['report', '-i', path, '--stdio', '--no-children', '--sort', 'dso,symbol', '-g', 'none', '--percent-limit', '0'], { maxBuffer: 1 << 26 });
  const samples = Number(stdout.match(/^# Samples: (\S+)/m)?.[1]?.replace(/K$/, '000').replace(/M$/, '000000') ?? NaN);
  const event = stdout.match(/of event '([^']+)'/)?.[1] ?? null;
  const rows = [];
  for (const l of stdout.split('\n')) {
    // '  12.34%  libc.so.6  [.] malloc   -   -' (perf 6 pads with empty '-' columns)
    const m = l.match(/^\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*?)(?:\s+-)*\s*$/);
    if (m) rows.push({ percent: Number(m[1]), dso: m[2], mode: m[3], sym: m[4] });
  }
  const groups = new Map([...GROUPS.map(([n]) => [n, { name: n, percent: 0, top: [] }]), ['other', { name: 'other', percent: 0, top: [] }]]);
  for (const r of rows) {
    const g = GROUPS.find(([, test]) => test(r.dso, r.sym, r.mode))?.[0] ?? 'other';
    const e = groups.get(g);
    e.percent += r.percent;
    e.top.push({ sym: shorten(r.sym), dso: r.dso, percent: r.percent });
  }
  const list = [...groups.values()].filter((g) => g.percent > 0).sort((a, b) => b.percent - a.percent);
  for (const g of list) g.top = g.top.sort((a, b) => b.percent - a.percent).slice(0, 4);
  const { stdout: version } = await run('perf', ['--version']);
  return {
    perf: version.trim(),
    event,
    frequencyHz: FREQ,
    samples,
    groups: list,
    top: rows.sort((a, b) => b.percent - a.percent).slice(0, 25).map((r) => ({ ...r, sym: shorten(r.sym) })),
  };
}

/** A symbol without its hash suffix and with long generic arguments cut. */
function shorten(sym) {
  const s = sym.replace(/::h[0-9a-f]{16}$/, '');
  return s.length > 140 ? `${s.slice(0, 137)}…` : s;
}
