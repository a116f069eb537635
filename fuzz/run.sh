#!/usr/bin/env bash
# Runs every cargo-fuzz target for the given number of seconds each (default 60), one after the
# other, single job, and prints the executions per target.
#
#   fuzz/run.sh [seconds] [target ...]
#
# Needs nightly and cargo-fuzz (`cargo install cargo-fuzz`). The committed seeds in
# fuzz/corpus/<target>/ are read but never written: new inputs go to a scratch corpus
# (FUZZ_WORK, default fuzz/target/work/<target>), crashes to fuzz/artifacts/<target>/.
# FUZZ_SANITIZER=address (default: none — our crates forbid unsafe code; ASan makes the runs
# about 2x slower) and FUZZ_JOBS (default 1) can be overridden.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
san="${FUZZ_SANITIZER:-none}"
jobs="${FUZZ_JOBS:-1}"
work="${FUZZ_WORK:-$PWD/fuzz/target/work}"

if ! out=$(cargo +nightly fuzz build -s "$san" 2>&1); then
  echo "$out"
  exit 1
fi

status=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  log="$work/$t.log"
  echo "== $t: ${secs}s (sanitizer $san, jobs $jobs)"
  par=()
  if [ "$jobs" -gt 1 ]; then par=(-jobs="$jobs" -workers="$jobs"); fi
  set +e
  cargo +nightly fuzz run -s "$san" "$t" "$work/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" "${par[@]}" -print_final_stats=1 \
    >"$log" 2>&1
  rc=$?
  set -e
  # With -jobs>1 libFuzzer logs per worker into fuzz-<n>.log in the current directory.
  execs=$( (grep -h '^stat::number_of_executed_units' "$log" fuzz-*.log 2>/dev/null || true) | awk '{s+=$2} END {print s+0}')
  speed=$( (grep -h '^stat::average_exec_per_sec' "$log" fuzz-*.log 2>/dev/null || true) | awk '{s+=$2} END {print s+0}')
  cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -1 | awk '{print $2}')
  if [ $rc -ne 0 ]; then
    result="FAILED (rc $rc) — see $log and fuzz/artifacts/$t/"
    status=1
  else
    result="ok"
  fi
  line="$t: ${execs} execs in ${secs}s (${speed}/s), cov ${cov:-?}, $result"
  echo "$line"
  summary+=("$line")
  rm -f fuzz-*.log
done
echo
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
