// Prints the gzip -9 bytes of what a SPA loads from the `authsplit` package: the wasm module
// plus the JS (index.js, loader.js, client.js, pkg/random.js) bundled and minified by esbuild the way a
// production SPA build would (esbuild --bundle --minify --format=esm, then gzip -9).
//
//   node web/scripts/size.mjs            # after scripts/build-web.sh
//   node web/scripts/size.mjs --budget 40960   # exit 1 when over budget (bytes, gz total)
//
// The build's size guard (budget in web/size-budget.json) is web/scripts/size-guard.mjs.

import { measure, kb } from './measure-size.mjs';

const args = process.argv.slice(2);
const budgetIdx = args.indexOf('--budget');
const budget = budgetIdx >= 0 ? Number(args[budgetIdx + 1]) : null;

const m = await measure();
const rows = [
  ['wasm (authsplit_wasm_bg.wasm)', m.wasm.raw, m.wasm.gz],
  ['JS (index + loader + client + random, esbuild)', m.js.raw, m.js.gz],
];
for (const [name, raw, z] of rows) {
  console.log(`${name.padEnd(52)} ${String(raw).padStart(7)} B raw  ${String(z).padStart(6)} B gz (${kb(z)})`);
}
console.log(`${'total a SPA loads'.padEnd(52)} ${' '.repeat(15)}  ${String(m.totalGz).padStart(6)} B gz (${kb(m.totalGz)})`);
if (budget !== null) {
  if (m.totalGz > budget) {
    console.error(`over budget: ${m.totalGz} B gz > ${budget} B`);
    process.exitCode = 1;
  } else {
    console.log(`within budget (${budget} B gz)`);
  }
}
