// Describes the machine and the state of the tree for docs/BENCHMARKS.md (bench/run.sh).
//   node bench/machine.mjs out.json
import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const sh = (cmd, trim = true) => {
  try {
    const o = execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return trim ? o.trim() : o.replace(/\n+$/, '');
  } catch {
    return null;
  }
};
const lscpu = sh('lscpu') ?? '';
const field = (name) => (lscpu.match(new RegExp(`^${name}:\\s+(.*)$`, 'm')) ?? [])[1] ?? null;
const out = {
  date: new Date().toISOString(),
  nproc: Number(sh('nproc')),
  cpuModel: field('Model name'),
  hypervisor: field('Hypervisor vendor'),
  threadsPerCore: field('Thread\\(s\\) per core'),
  memTotal: (sh('free -h') ?? '').split('\n').find((l) => l.startsWith('Mem:'))?.split(/\s+/)[1] ?? null,
  freeH: sh('free -h', false),
  kernel: sh('uname -sr'),
  os: (readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)"?/m) ?? [])[1] ?? null,
  node: process.version,
  rustc: sh('rustc -V'),
  python: sh('bench/.venv/bin/python -V'),
  wrk: (sh('wrk -v 2>&1 | head -1') ?? '').split(' [')[0] || null,
  chromium: sh('/usr/bin/chromium --version'),
  git: {
    head: sh('git rev-parse --short HEAD'),
    dirtyPaths: (sh('git status --porcelain -- crates web scripts') ?? '').split('\n').filter(Boolean).length,
  },
  wasmBuildStamp: (() => {
    try {
      return readFileSync('web/pkg/.build-stamp', 'utf8').trim().slice(0, 12);
    } catch {
      return null;
    }
  })(),
  loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
};
writeFileSync(process.argv[2], JSON.stringify(out, null, 2));
console.log(`${out.cpuModel} ×${out.nproc}, ${out.memTotal}, load ${out.loadavg.join(' ')}`);
