#!/usr/bin/env bash
# Runs every side-by-side benchmark and (re)writes the generated part of docs/BENCHMARKS.md
# (between the `bench:begin` / `bench:end` markers; the rest of the file is left alone).
# Benchmarks, not tests: nothing here passes or fails on a figure.
#
#   bench/run.sh                 # full run (~5 min on 2 cores; run it on a quiet machine)
#   QUICK=1 DOC=/tmp/B.md bench/run.sh   # smoke run: short durations, few repetitions
#
# Environment: DURATION (wrk run length, 15s), THREADS (2), CONNS (50), RATE (1000 req/s for
# the added-latency run), LAT_SECONDS (10), COLD_RUNS (20), LOGIN_RUNS (200), OPS_MS (3000),
# INIT_RUNS (30), ALLOC_ROUNDS (3), PERF=0 (no perf profile), PERF_SECONDS (10), OUT
# (bench/results), DOC (docs/BENCHMARKS.md), BUILD_WEB=1 (rebuild web/pkg with
# scripts/build-web.sh even if it exists), SKIP_BUILD=1 (measure the existing release binaries).
# Needs: cargo, node 20 + npm, python3 (venv), wrk, redis-server (scripts/setup.sh), nm,
# /usr/bin/chromium, strip; perf for the profile (skipped without it). Every process started
# here listens on 127.0.0.1 and is stopped when its step ends (also on failure).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${QUICK:-0}" = 1 ]; then
  export DURATION=${DURATION:-3s} RATE=${RATE:-300} LAT_SECONDS=${LAT_SECONDS:-2} COLD_RUNS=${COLD_RUNS:-3}
  export LOGIN_RUNS=${LOGIN_RUNS:-20} OPS_MS=${OPS_MS:-500} INIT_RUNS=${INIT_RUNS:-3}
  export ALLOC_ROUNDS=${ALLOC_ROUNDS:-1} PERF_SECONDS=${PERF_SECONDS:-3}
fi
OUT=${OUT:-bench/results}
DOC=${DOC:-docs/BENCHMARKS.md}
mkdir -p "$OUT"
# The last complete run's backend figures stay as the "before" of this one (report.mjs
# compares them), with its machine description and loads.
if [ -f "$OUT/backend.json" ] && [ -f "$OUT/machine-end.json" ]; then
  for f in backend.json machine.json loads.jsonl; do
    if [ -f "$OUT/$f" ]; then cp "$OUT/$f" "$OUT/previous-$f"; else rm -f "$OUT/previous-$f"; fi
  done
fi
rm -f "$OUT/loads.jsonl" "$OUT/machine-end.json"
load() { printf '{"phase":"%s","load":[%s]}\n' "$1" "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)" >> "$OUT/loads.jsonl"; }

echo "== dependencies"
if [ ! -d bench/node_modules ] || [ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]; then
  (cd bench && npm ci --no-audit --no-fund)
fi
if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c 'import fastapi_oauth20, uvicorn' 2>/dev/null; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install --quiet -r bench/requirements.txt
fi
command -v wrk >/dev/null || { echo "wrk is required" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is required (scripts/setup.sh)" >&2; exit 1; }

echo "== builds"
rm -f "$OUT/build-note.txt"
if [ "${SKIP_BUILD:-0}" = 1 ]; then
  echo "SKIP_BUILD=1: measuring the existing release binaries" | tee "$OUT/build-note.txt"
elif ! { cargo build --release -p authsplit-server --bin authsplit-server --no-default-features &&
          cp target/release/authsplit-server target/release/authsplit-server-system-alloc &&
          cargo build --release -p authsplit-server -p authsplit-test-support --bins; }; then
  # A half-done edit in the tree must not cost the whole run.
  [ -x target/release/authsplit-server ] && [ -x target/release/stub_token_endpoint ] || exit 1
  echo "the release build of the current tree failed; measuring the previous release binaries" | tee "$OUT/build-note.txt"
fi
# authsplit-server-system-alloc: the same server without its default features, i.e. on the
# system allocator instead of mimalloc (the allocator comparison in bench/backend.mjs). Built
# on its own: authsplit-test-support depends on the server with default features.
if [ "${BUILD_WEB:-0}" = 1 ] || [ ! -f web/pkg/authsplit_wasm_bg.wasm ]; then
  scripts/build-web.sh
fi

node bench/machine.mjs "$OUT/machine.json"
load start
echo "== 1. payload"
node bench/payload.mjs "$OUT/payload.json"
load browser
echo "== 2. headless Chromium"
node bench/browser.mjs "$OUT/browser.json"
load backend
echo "== 3 + 4. backend exchange, cold start, binary size"
node bench/backend.mjs "$OUT/backend.json"
node bench/machine.mjs "$OUT/machine-end.json" >/dev/null
load end
node bench/report.mjs "$OUT" "$DOC"
