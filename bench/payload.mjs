// Benchmark 1: the payload a SPA loads for the code-flow sign-in. Each library's
// entry file (bench/entries/) is bundled the same way — esbuild --bundle --minify --format=esm —
// then gzip -9; authsplit adds its .wasm (web/pkg, gzip -9) to its JS bundle.
//
//   node bench/payload.mjs [out.json]
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { gz9 } from './lib/util.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const version = (pkg) => JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'), 'utf8')).version;

async function bundle(entry) {
  const out = await build({
    entryPoints: [join(here, 'entries', entry)],
    bundle: true,
    minify: true,
    format: 'esm',
    write: false,
    logLevel: 'silent',
    absWorkingDir: here,
  });
  const js = Buffer.from(out.outputFiles[0].contents);
  return { raw: js.length, gz: gz9(js) };
}

const wasmPath = join(root, 'web', 'pkg', 'authsplit_wasm_bg.wasm');
if (!existsSync(wasmPath)) throw new Error(`${wasmPath} missing: run scripts/build-web.sh first`);
const wasm = readFileSync(wasmPath);
const authJs = await bundle('authsplit.js');
const authsplit = {
  name: 'authsplit',
  version: JSON.parse(readFileSync(join(root, 'web', 'package.json'), 'utf8')).version,
  imports: 'init, AuthClient, AuthsplitError (JS) + authsplit_wasm_bg.wasm',
  js: authJs,
  wasm: { raw: wasm.length, gz: gz9(wasm) },
};
authsplit.gz = authsplit.js.gz + authsplit.wasm.gz;
authsplit.raw = authsplit.js.raw + authsplit.wasm.raw;

const peers = [];
for (const [name, pkg, entry, imports] of [
  ['oauth4webapi', 'oauth4webapi', 'oauth4webapi-full.js',
    'generateRandomCodeVerifier, calculatePKCECodeChallenge, generateRandomState, validateAuthResponse, authorizationCodeGrantRequest, processAuthorizationCodeResponse'],
  ['oauth4webapi (PKCE + state only)', 'oauth4webapi', 'oauth4webapi-pkce.js',
    'generateRandomCodeVerifier, calculatePKCECodeChallenge, generateRandomState'],
  ['@auth0/auth0-spa-js', '@auth0/auth0-spa-js', 'auth0-spa-js.js', 'createAuth0Client'],
  ['@auth0/auth0-spa-js (2.4.1)', 'auth0-spa-js-2.4.1', 'auth0-spa-js-2.4.1.js', 'createAuth0Client'],
  ['oidc-client-ts', 'oidc-client-ts', 'oidc-client-ts.js', 'UserManager'],
]) {
  const b = await bundle(entry);
  peers.push({ name, version: version(pkg), imports, raw: b.raw, gz: b.gz });
}

const result = { esbuild: version('esbuild'), authsplit, peers };
const outPath = process.argv[2];
if (outPath) writeFileSync(outPath, JSON.stringify(result, null, 2));
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`authsplit ${authsplit.version}: JS ${authsplit.js.gz} B gz + wasm ${authsplit.wasm.gz} B gz = ${authsplit.gz} B (${kb(authsplit.gz)})`);
for (const p of peers) {
  console.log(`${p.name} ${p.version}: ${p.gz} B gz (${kb(p.gz)}), authsplit/peer = ${(authsplit.gz / p.gz).toFixed(2)}`);
}
