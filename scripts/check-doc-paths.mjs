#!/usr/bin/env node
// Checks that the documentation stands on its own:
//
// 1. Every repository path cited in `docs/`, the READMEs, CHANGELOG.md and
//    authsplit.example.toml exists: markdown link targets (relative to the citing file) and
//    any `dir/…` token whose first segment is a top-level directory of the repository (relative
//    to the root, or to the citing file's directory). Paths git ignores (build outputs such as
//    target/ and web/pkg/) and templates (`<target>`, `*`, `{a,b}`, `…`) are not checked.
// 2. Every Rust function the docs name as `file.rs::name` (or `file.rs::{a, b}`) exists there.
// 3. Every rule id cited in the tree exists: "SECURITY.md S8" needs `<a id="S8">` in
//    docs/SECURITY.md, "TOOLCHAIN.md T2" an anchor in docs/TOOLCHAIN.md, and
//    "PROVIDERS.md § X" / "PM § X" a `### X` heading in docs/PROVIDERS.md.
// 4. Nothing cites files outside the repository: neither the external checklist's "§" section
//    citations nor paths into the external shared folder, in source, test, script or
//    documentation files. (The patterns are spelt so that this file does not match them.)
//
// Usage: node scripts/check-doc-paths.mjs [root]   (exit 1 and one line per problem)
// Its own test: node --test scripts/check-doc-paths.test.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Files whose cited paths must exist. */
const isDocFile = (f) =>
  (f.startsWith('docs/') && f.endsWith('.md')) ||
  /(^|\/)README\.md$/.test(f) ||
  f === 'CHANGELOG.md' ||
  f === 'authsplit.example.toml';

/** Files searched for rule-id citations and for citations of files outside the repository. */
const isTextFile = (f) => /\.(rs|md|js|mjs|cjs|ts|toml|sh|lua|json|in|html|yml|yaml)$/.test(f) && !/(^|\/)package-lock\.json$/.test(f);

/** Every file of the checkout: tracked plus untracked-but-not-ignored, so new files count. */
function listFiles(root) {
  const out = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' });
  return out.split('\0').filter((f) => f && existsSync(join(root, f)));
}

/** Whether git ignores `path` (a build output such as target/ or web/pkg/), existing or not. */
function isIgnored(root, path) {
  // A missing path may be a file or a directory; `dir/` patterns match only the second form.
  return [path, `${path}/`].some((p) => {
    try {
      execFileSync('git', ['check-ignore', '-q', '--no-index', p], { cwd: root, stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
}

const TEMPLATE = /[<>*{}$…]|\.\.\.|\bX\b/;

/** Trims what a sentence or a Rust path glues to a cited path. */
function cleanPath(p) {
  return p.replace(/#.*$/, '').replace(/::.*$/, '').replace(/[.,;:]+$/, '');
}

/** Paths cited in one documentation file: [file-relative link targets, root-relative tokens]. */
export function citedPaths(text, topDirs) {
  const links = [];
  for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const t = m[1];
    if (/^[a-z][a-z0-9+.-]*:/i.test(t) || t.startsWith('#')) continue; // URLs, mailto:, anchors
    links.push(t.replace(/#.*$/, ''));
  }
  const tokens = [];
  if (topDirs.length) {
    const dirs = topDirs.map((d) => d.replace(/[.]/g, '\\.')).join('|');
    const re = new RegExp(`(?<![\\w./-])((?:${dirs})/[^\\s\`'"()\\[\\]|,;]*)`, 'g');
    for (const m of text.matchAll(re)) tokens.push(cleanPath(m[1]));
  }
  return { links: links.filter((l) => l && !TEMPLATE.test(l)), tokens: tokens.filter((t) => t && !TEMPLATE.test(t)) };
}

/** Rule-id anchors (`<a id="S8">`) of a doc, and `### Heading` titles. */
const anchorsOf = (text) => new Set([...text.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]));
const headingsOf = (text) => new Set([...text.matchAll(/^#{2,4} (.+?)\s*$/gm)].map((m) => m[1]));

/** Runs every check on the checkout at `root`; returns the problems as `file:line: message`. */
export function check(root) {
  const files = listFiles(root);
  const topDirs = [...new Set(files.filter((f) => f.includes('/')).map((f) => f.split('/')[0]))];
  const problems = [];
  const lineOf = (text, index) => text.slice(0, index).split('\n').length;

  for (const f of files.filter(isDocFile)) {
    const text = readFileSync(join(root, f), 'utf8');
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      const { links, tokens } = citedPaths(line, topDirs);
      for (const l of links) {
        const p = normalize(join(dirname(f), l));
        if (p.startsWith('..') || existsSync(join(root, p)) || isIgnored(root, p)) continue;
        problems.push(`${f}:${i + 1}: link target \`${l}\` does not exist (${p})`);
      }
      for (const t of tokens) {
        const p = normalize(t);
        if (existsSync(join(root, p)) || existsSync(join(root, dirname(f), p)) || isIgnored(root, p)) continue;
        problems.push(`${f}:${i + 1}: cited path \`${t}\` does not exist`);
      }
    });
  }

  // Rust tests and functions named in the docs (`path.rs::name`, `file.rs::{a, b}`, a trailing
  // `…` for a prefix) exist as `fn name` in that file (a bare file name: any file of that name).
  const rsFiles = files.filter((f) => f.endsWith('.rs'));
  const fnCache = new Map();
  const fnsOf = (p) => {
    if (!fnCache.has(p)) fnCache.set(p, new Set([...readFileSync(join(root, p), 'utf8').matchAll(/\bfn\s+([A-Za-z0-9_]+)/g)].map((m) => m[1])));
    return fnCache.get(p);
  };
  for (const f of files.filter(isDocFile)) {
    const text = readFileSync(join(root, f), 'utf8');
    for (const m of text.matchAll(/`([\w./-]+\.rs)::(\{[^}`]*\}|[A-Za-z0-9_]+…?)`/g)) {
      const candidates = m[1].includes('/') ? rsFiles.filter((r) => r === normalize(m[1])) : rsFiles.filter((r) => r.split('/').pop() === m[1]);
      if (!candidates.length) continue; // a missing file is reported above
      for (const raw of m[2].replace(/^\{|\}$/g, '').split(',')) {
        const name = raw.trim();
        if (!/^[A-Za-z0-9_]+…?$/.test(name)) continue;
        const prefix = name.endsWith('…');
        const n = name.replace(/_?…$/, '');
        const found = candidates.some((c) => [...fnsOf(c)].some((fn) => (prefix ? fn.startsWith(n) : fn === n)));
        if (!found) problems.push(`${f}:${lineOf(text, m.index)}: no \`fn ${n}${prefix ? '…' : ''}\` in ${m[1]}`);
      }
    }
  }

  const read = (p) => (existsSync(join(root, p)) ? readFileSync(join(root, p), 'utf8') : '');
  const security = anchorsOf(read('docs/SECURITY.md'));
  const toolchain = anchorsOf(read('docs/TOOLCHAIN.md'));
  const providers = headingsOf(read('docs/PROVIDERS.md'));
  for (const f of files.filter(isTextFile)) {
    if (f === 'scripts/check-doc-paths.mjs' || f === 'scripts/check-doc-paths.test.mjs') continue;
    const text = readFileSync(join(root, f), 'utf8');
    for (const m of text.matchAll(/SECURITY\.md ([ABSF]\d+)\b/g)) {
      if (!security.has(m[1])) problems.push(`${f}:${lineOf(text, m.index)}: rule ${m[1]} is not in docs/SECURITY.md`);
    }
    for (const m of text.matchAll(/TOOLCHAIN\.md (T\d+)\b/g)) {
      if (!toolchain.has(m[1])) problems.push(`${f}:${lineOf(text, m.index)}: note ${m[1]} is not in docs/TOOLCHAIN.md`);
    }
    for (const m of text.matchAll(/(?:PROVIDERS\.md|\bPM) § ([A-Z][A-Za-z]+)/g)) {
      if (!providers.has(m[1])) problems.push(`${f}:${lineOf(text, m.index)}: section "${m[1]}" is not in docs/PROVIDERS.md`);
    }
    for (const m of text.matchAll(/REF(?:ERENCE)(?:\.md)? ?§|(?<![\w/.-])shared[/][A-Z][\w.-]*/g)) {
      problems.push(`${f}:${lineOf(text, m.index)}: cites a file outside the repository (\`${m[0]}\`); cite the RFC section and the docs/SECURITY.md rule instead`);
    }
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const problems = check(root);
  for (const p of problems) console.error(p);
  if (problems.length) {
    console.error(`check-doc-paths: ${problems.length} problem(s) in ${relative(process.cwd(), root) || '.'}`);
    process.exit(1);
  }
  console.log('check-doc-paths: every cited path, rule id and section exists; nothing cites files outside the repository');
}
