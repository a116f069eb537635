#!/usr/bin/env bash
# `cargo publish --workspace --dry-run`: every crate meant for crates.io packages, and builds
# from its tarball with its sibling crates resolved by version from a local overlay registry
# (crates with `publish = false` are skipped).
#
# Cargo treats a registry crate of a given version as immutable: it keeps the sources it
# unpacked from the overlay (in $CARGO_HOME/registry/src/-<hash>/) and the artifacts it built
# from them, so a later run would verify against the sibling crates as they were the first
# time. Both are dropped first. Only our own crates are touched: `.cargo-ok` markers (cargo
# re-unpacks without deleting anything in use) and this target directory's fingerprints.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
rm -f "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/authsplit-*/.cargo-ok
for d in "$target"/debug/deps/authsplit_*.d; do
  [ -e "$d" ] || continue
  if grep -q '/registry/src/-' "$d"; then
    name=$(basename "$d" .d)                  # authsplit_core-<hash>
    rm -rf "$target/debug/.fingerprint/${name//_/-}"
  fi
done
exec cargo publish --workspace --dry-run --locked --allow-dirty
