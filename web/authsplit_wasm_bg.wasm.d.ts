/**
 * `authsplit/authsplit_wasm_bg.wasm`: the WebAssembly module file. Typed as what a bundler
 * gives for a file import that it emits as an asset (its URL: Vite `?url`, esbuild
 * `--loader:.wasm=file`, `@rollup/plugin-url`), to pass to `init(url)` (README "Bundlers").
 */
declare const url: string;
export default url;
