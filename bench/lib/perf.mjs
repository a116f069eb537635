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
 * Where a sample's symbol belongs. Self time only (`--no-children`): with LTO and inlining, a
 * function's cost lands in the caller it was inlined into. Symbols are demangled Rust paths,
 * so most are grouped by the crate that owns the function (`<X as Trait>::f` → X's crate;
 * `drop_in_place<X>` → X's crate); a few symbol rules come first (allocator, formatting, …).
 */
const SYMBOL_RULES = [
  ['kernel (syscalls, loopback TCP, scheduling)', (dso, sym, mode) => mode === 'k' || dso.startsWith('[kernel')],
  ['allocator (malloc / free, mimalloc)', (dso, sym) => /^(__libc_|_int_|__GI___libc_)?(malloc|free|cfree|calloc|realloc)\b|^_int_|^tcache|^malloc_|^unlink_chunk|^sysmalloc|^arena_|^systrim|^_?mi_|^__rust_(alloc|dealloc|realloc)|^__r[dg]l?_/.test(sym) || /mimalloc/.test(dso)],
  ['Vec / String growth (RawVec)', (dso, sym) => /raw_vec|RawVec/.test(sym)],
  ['libc memcpy / memmove / memset / memcmp / strlen', (dso, sym) => /^libc|^ld-linux/.test(dso) && /mem(cpy|move|set|cmp|chr)|str(len|cmp|chr)/.test(sym)],
  ['libc, other (syscall wrappers, locks)', (dso) => /^libc|^ld-linux|^libpthread|^libgcc|^\[vdso\]/.test(dso)],
  ['core::fmt / time formatting', (dso, sym) => /core::fmt|alloc::fmt|\btime::format/.test(sym)],
  ['hashing / hash maps', (dso, sym) => /core::hash|hashbrown/.test(sym)],
];
const CRATE_GROUPS = [
  ['crypto (AES-GCM, SHA-256, …)', /^(aes|aes_gcm|ghash|polyval|sha2|ring|chacha20|hmac|aead|cipher|ctr|subtle|getrandom|rand_core|crypto_common|universal_hash|jsonwebtoken)$/],
  ['store (SQLite, Redis client, memory store)', /^(authsplit_store|rusqlite|libsqlite3_sys|redis|combine)$/],
  ['url parsing / form encoding', /^(url|idna|idna_adapter|form_urlencoded|percent_encoding|icu_\w+)$/],
  ['outbound client (reqwest, hyper-util client)', /^(reqwest|hyper_util::client|hyper_rustls|rustls)$/],
  ['hyper / httparse / http (HTTP/1)', /^(hyper|hyper_util|httparse|http|http_body|http_body_util|bytes|httpdate)$/],
  ['axum / tower (routing, extractors, middleware)', /^(axum|axum_core|tower|tower_http|tower_layer|tower_service|matchit)$/],
  ['tokio / futures (runtime, I/O driver, wakers)', /^(tokio|mio|futures_util|futures_core|futures_channel|parking_lot|parking_lot_core|crossbeam_\w+)$/],
  ['serde / serde_json', /^(serde|serde_json|serde_core)$/],
  ['tracing', /^(tracing|tracing_core|tracing_subscriber)$/],
  ['cookie / base64', /^(cookie|base64|base64ct)$/],
  ['authsplit (own code after inlining)', /^(authsplit_server|authsplit_core)$/],
];
const OTHER = 'other (core / std: str search, UTF-8 checks, clocks, …)';

/** The crate owning a demangled Rust symbol ('hyper_util::client' kept apart from the rest). */
function ownerCrate(sym) {
  const s = sym.replace(/^core::ptr::drop_in_place</, '');
  const m = s.match(/[A-Za-z_][A-Za-z0-9_]*(?=::)/);
  if (!m) return null;
  return m[0] === 'hyper_util' && s.slice(m.index).startsWith('hyper_util::client') ? 'hyper_util::client' : m[0];
}

function groupOf(dso, sym, mode) {
  const r = SYMBOL_RULES.find(([, test]) => test(dso, sym, mode));
  if (r) return r[0];
  const c = ownerCrate(sym);
  return (c && CRATE_GROUPS.find(([, re]) => re.test(c))?.[0]) ?? OTHER;
}

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
  const { stdout } = await run('perf', ['report', '-i', path, '--stdio', '--no-children', '--show-nr-samples', '--sort', 'dso,symbol', '-g', 'none', '--percent-limit', '0'], { maxBuffer: 1 << 26 });
  const event = stdout.match(/of event '([^']+)'/)?.[1] ?? null;
  const rows = [];
  for (const l of stdout.split('\n')) {
    // '  12.34%   567  libc.so.6  [.] malloc   -   -' (perf 6 pads with empty '-' columns)
    const m = l.match(/^\s+([\d.]+)%\s+(\d+)\s+(\S+)\s+\[(.)\]\s+(.*?)(?:\s+-)*\s*$/);
    if (m) rows.push({ percent: Number(m[1]), samples: Number(m[2]), dso: m[3], mode: m[4], sym: m[5] });
  }
  const samples = rows.reduce((n, r) => n + r.samples, 0);
  const groups = new Map();
  for (const r of rows) {
    const g = groupOf(r.dso, r.sym, r.mode);
    if (!groups.has(g)) groups.set(g, { name: g, percent: 0, samples: 0, top: [] });
    const e = groups.get(g);
    e.percent += r.percent;
    e.samples += r.samples;
    e.top.push({ sym: shorten(r.sym), dso: r.dso, percent: r.percent });
  }
  const list = [...groups.values()].sort((a, b) => b.percent - a.percent);
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
