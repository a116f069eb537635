// The doc-path check catches what it claims to catch: a fixture repository with one of each
// problem (missing cited path, missing link target, missing Rust test, unknown rule id, unknown provider section,
// a citation of a file outside the repository) and the same repository with each fixed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { check, citedPaths } from './check-doc-paths.mjs';

function fixture(files) {
  const root = mkdtempSync(join(tmpdir(), 'doc-paths-'));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  execFileSync('git', ['init', '-q'], { cwd: root });
  return root;
}

const BASE = {
  '.gitignore': '/target\n/web/pkg/\n',
  'docs/SECURITY.md': '| <a id="S8"></a>S8 | never retry |\n',
  'docs/TOOLCHAIN.md': '| <a id="T2"></a>T2 | wasm-opt |\n',
  'docs/PROVIDERS.md': '## Wire formats\n\n### GitHub\n\nfacts\n',
  'crates/core/src/lib.rs': '// Never retried (RFC 6749 §10.5; SECURITY.md S8).\nfn retry() {}\n#[test]\nfn rfc6749_s10_5_never_retried() {}\n',
  'web/client.js': '// PROVIDERS.md § GitHub; TOOLCHAIN.md T2\n',
  'scripts/build.sh': 'echo\n',
};

test('a clean fixture passes: existing paths, build outputs, templates, links, rule ids', (t) => {
  const root = fixture({
    ...BASE,
    'README.md': [
      'See `crates/core/src/lib.rs::retry` and crates/core/src/ and [security](docs/SECURITY.md#S8).',
      'Tests: `crates/core/src/lib.rs::{retry, rfc6749_s10_5_never_retried}`, `lib.rs::rfc6749_s10_5_…`.',
      'Built into `web/pkg/authsplit_wasm.js` and `target/debug/server` (build outputs).',
      'Templates: `crates/<name>/Cargo.toml`, `docs/*.md`, crates/core/src/{a,b}.rs, https://example.com/docs/x.',
    ].join('\n'),
    'web/README.md': 'The [client](client.js) and the [scripts](../scripts/build.sh).\n',
  });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.deepEqual(check(root), []);
});

test('each kind of problem is reported once, with file and line', (t) => {
  const root = fixture({
    ...BASE,
    'README.md': 'ok: `docs/SECURITY.md`\nmissing: `crates/core/src/gone.rs`.\nrenamed: `lib.rs::{retry, never_retried}`\n',
    'docs/ARCHITECTURE.md': 'a [dead link](../web/missing.js) here\n',
    'web/client.js': '// SECURITY.md S99 and PROVIDERS.md § Nowhere and TOOLCHAIN.md T9\n',
    // Spelt in two pieces so that this file itself does not carry such a citation.
    'tests/a.test.mjs': `// see ${'REF'}ERENCE §3.8\n`,
    'scripts/build.sh': `# facts from ${'shared'}/PROVIDERS.md\n`,
    'crates/core/src/lib.rs': `// Never retried (${'REF'}ERENCE §3.8).\nfn retry() {}\n`,
  });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const problems = check(root).sort();
  assert.equal(problems.length, 9, problems.join('\n'));
  const has = (re) => assert.ok(problems.some((p) => re.test(p)), `expected ${re} in:\n${problems.join('\n')}`);
  has(/^README\.md:2: cited path `crates\/core\/src\/gone\.rs` does not exist/);
  has(/^README\.md:3: no `fn never_retried` in lib\.rs/);
  has(/^docs\/ARCHITECTURE\.md:1: link target `\.\.\/web\/missing\.js` does not exist/);
  has(/^web\/client\.js:1: rule S99 is not in docs\/SECURITY\.md/);
  has(/^web\/client\.js:1: section "Nowhere" is not in docs\/PROVIDERS\.md/);
  has(/^web\/client\.js:1: note T9 is not in docs\/TOOLCHAIN\.md/);
  has(/^tests\/a\.test\.mjs:1: cites a file outside the repository/);
  has(/^scripts\/build\.sh:1: cites a file outside the repository/);
  has(/^crates\/core\/src\/lib\.rs:1: cites a file outside the repository/);
});

test('citedPaths trims what prose and Rust paths glue to a path', () => {
  const { tokens, links } = citedPaths(
    'In `crates/x/src/a.rs::{f, g}`, crates/x/README.md. Also (docs/B.md#rules) and [l](docs/C.md#x).',
    ['crates', 'docs'],
  );
  assert.deepEqual(tokens, ['crates/x/src/a.rs', 'crates/x/README.md', 'docs/B.md', 'docs/C.md']);
  assert.deepEqual(links, ['docs/C.md']);
});
