// The npm-pack check fails on an extra file (wasm-bindgen's glue included), a missing file and a
// file listed twice, and passes on exactly the intended list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compare, EXPECTED } from './check-npm-pack.mjs';

const exact = [...EXPECTED];

test('exactly the intended files pass', () => {
  assert.deepEqual(compare(exact), []);
});

test('an extra, a missing and a duplicated file are each reported', () => {
  assert.deepEqual(compare([...exact, 'pkg/.build-stamp']), ['unexpected in the tarball: pkg/.build-stamp']);
  assert.deepEqual(compare(exact.filter((p) => p !== 'LICENSE-MIT')), ['missing from the tarball: LICENSE-MIT']);
  assert.deepEqual(compare([...exact, 'LICENSE-MIT']), ['2 matches in the tarball: LICENSE-MIT']);
  assert.deepEqual(compare([...exact, 'pkg/snippets/authsplit-wasm-fedcba9876543210/inline0.js']), [
    'unexpected in the tarball: pkg/snippets/authsplit-wasm-fedcba9876543210/inline0.js',
  ]);
});
