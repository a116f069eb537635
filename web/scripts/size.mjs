// Prints the gzip -9 bytes of what a SPA loads from the `authsplit` package: the wasm module
// plus the JS (loader + wasm-bindgen glue + snippets) bundled and minified by esbuild the way a
// production SPA build would (REFERENCE §6 method: esbuild --bundle --minify --format=esm).
//
//   node web/scripts/size.mjs            # after scripts/build-web.sh
//   node web/scripts/size.mjs --budget 40960   # exit 1 when over budget (bytes, gz total)

import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { gzipSync, constants } from 'node:zlib';
import { join, dirname, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const gz = (buf) => gzipSync(buf, { level: constants.Z_BEST_COMPRESSION }).length;

const args = process.argv.slice(2);
const budgetIdx = args.indexOf('--budget');
const budget = budgetIdx >= 0 ? Number(args[budgetIdx + 1]) : null;

const wasm = readFileSync(join(web, 'pkg', 'authsplit_wasm_bg.wasm'));

const dir = mkdtempSync(join(tmpdir(), 'authsplit-size-'));
try {
  const entry = join(dir, 'entry.js');
  writeFileSync(
    entry,
    `import { init, AuthClient, AuthsplitError } from ${JSON.stringify(join(web, 'index.js'))};\n` +
      'await init();\nwindow.x = [AuthClient, AuthsplitError];\n',
  );
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  const js = Buffer.from(out.outputFiles[0].contents);
  const rows = [
    ['wasm (authsplit_wasm_bg.wasm)', wasm.length, gz(wasm)],
    ['JS (index.js + glue + snippets, esbuild --minify)', js.length, gz(js)],
  ];
  const total = rows.reduce((s, r) => s + r[2], 0);
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  for (const [name, raw, z] of rows) {
    console.log(`${name.padEnd(52)} ${String(raw).padStart(7)} B raw  ${String(z).padStart(6)} B gz (${kb(z)})`);
  }
  console.log(`${'total a SPA loads'.padEnd(52)} ${' '.repeat(15)}  ${String(total).padStart(6)} B gz (${kb(total)})`);
  if (budget !== null) {
    if (total > budget) {
      console.error(`over budget: ${total} B gz > ${budget} B`);
      process.exitCode = 1;
    } else {
      console.log(`within budget (${budget} B gz)`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
