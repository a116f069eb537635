// What a SPA loads from the `authsplit` package, in gzip -9 bytes: the wasm module plus the JS
// (index.js, loader.js, client.js, pkg/random.js) bundled and minified by esbuild the way a production
// SPA build would (esbuild --bundle --minify --format=esm, then gzip -9). Shared by
// size.mjs (prints the figures) and size-guard.mjs (fails the build over budget).

import { readFileSync, mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { gzipSync, constants } from 'node:zlib';
import { join, dirname, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The package directory (web/). */
export const web = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const gz = (buf) => gzipSync(buf, { level: constants.Z_BEST_COMPRESSION }).length;

/**
 * Measures the built package in `web/pkg` (run scripts/build-web.sh first).
 * @returns {Promise<{wasm: {raw: number, gz: number}, js: {raw: number, gz: number}, totalGz: number}>}
 */
export async function measure() {
  const wasmPath = join(web, 'pkg', 'authsplit_wasm_bg.wasm');
  if (!existsSync(wasmPath)) {
    throw new Error(`${wasmPath} is missing: run scripts/build-web.sh first`);
  }
  const wasm = readFileSync(wasmPath);
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
    const w = { raw: wasm.length, gz: gz(wasm) };
    const j = { raw: js.length, gz: gz(js) };
    return { wasm: w, js: j, totalGz: w.gz + j.gz };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `1234` → `"1.2 KB"` (KiB, like the docs). */
export const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
