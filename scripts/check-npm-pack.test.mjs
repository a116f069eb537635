// The npm-pack check fails on an extra file, a missing file and a second snippet directory,
// and passes on exactly the intended list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compare, EXPECTED } from './check-npm-pack.mjs';

const exact = EXPECTED.map((p) => p.replace('<hash>', '0123456789abcdef'));

test('exactly the intended files pass', () => {
  assert.deepEqual(compare(exact), []);
});

test('an extra, a missing and a duplicated file are each reported', () => {
  assert.deepEqual(compare([...exact, 'pkg/.build-stamp']), ['unexpected in the tarball: pkg/.build-stamp']);
  assert.deepEqual(compare(exact.filter((p) => p !== 'LICENSE-MIT')), ['missing from the tarball: LICENSE-MIT']);
  assert.deepEqual(compare([...exact, 'pkg/snippets/authsplit-wasm-fedcba9876543210/inline0.js']), [
    '2 matches in the tarball: pkg/snippets/authsplit-wasm-<hash>/inline0.js',
  ]);
});
