// Size guard: fails (exit 1) when what a SPA loads from the package — wasm + JS,
// gzip -9, measured like web/scripts/size.mjs — exceeds the budget in web/size-budget.json.
// Run after scripts/build-web.sh:
//
//   node web/scripts/size-guard.mjs
//
// The budget is set a little above the last measured size (web/README.md "Size"); raise it
// only deliberately, in the same commit as the change that needs the bytes, with the reason.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { measure, kb, web } from './measure-size.mjs';

const budgetFile = join(web, 'size-budget.json');
let budget;
try {
  budget = JSON.parse(readFileSync(budgetFile, 'utf8')).totalGzBytes;
} catch (e) {
  console.error(`size-guard: cannot read ${budgetFile}: ${e.message}`);
  process.exit(1);
}
if (!Number.isInteger(budget) || budget <= 0) {
  console.error(`size-guard: ${budgetFile} needs a positive integer "totalGzBytes"`);
  process.exit(1);
}

let m;
try {
  m = await measure();
} catch (e) {
  console.error(`size-guard: ${e.message}`);
  process.exit(1);
}
const line = `wasm ${m.wasm.gz} B + JS ${m.js.gz} B = ${m.totalGz} B gz (${kb(m.totalGz)}); budget ${budget} B (${kb(budget)})`;
if (m.totalGz > budget) {
  console.error(`size-guard: OVER BUDGET by ${m.totalGz - budget} B: ${line}`);
  console.error('size-guard: cut the growth, or raise web/size-budget.json deliberately with the reason.');
  process.exit(1);
}
console.log(`size-guard: ok, ${line}`);
