# Shared helpers of bench/soak/*.sh (sourced, not run). Everything listens on 127.0.0.1; every
# process started through `spawn` is stopped by `soak_cleanup` (installed as the EXIT trap).
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SOAK_DIR=$ROOT/bench/soak
BIN=$ROOT/target/release
SOAK_PIDS=()
SOAK_SAMPLER_PIDS=()

# Work directory: $SOAK_OUT if set (kept), else a temporary one (removed at exit unless
# SOAK_KEEP=1).
if [ -n "${SOAK_OUT:-}" ]; then
  WORK=$SOAK_OUT; mkdir -p "$WORK"; SOAK_RM_WORK=0
else
  WORK=$(mktemp -d /tmp/authsplit-soak.XXXXXX); SOAK_RM_WORK=$([ "${SOAK_KEEP:-0}" = 1 ] && echo 0 || echo 1)
fi

soak_cleanup() {
  local p
  for p in "${SOAK_SAMPLER_PIDS[@]}" "${SOAK_PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${SOAK_SAMPLER_PIDS[@]}" "${SOAK_PIDS[@]}"; do
    # bounded wait (5 s), then SIGKILL
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ "$SOAK_RM_WORK" = 1 ]; then rm -rf "$WORK"; else echo "(work files kept in $WORK)"; fi
}
trap soak_cleanup EXIT
trap 'exit 130' INT TERM

# Builds the release server and the stub example (cargo reuses an up-to-date build);
# SOAK_NO_BUILD=1 takes target/release as it is.
soak_build() {
  if [ "${SOAK_NO_BUILD:-0}" = 1 ]; then
    [ -x "$BIN/authsplit-server" ] && [ -x "$BIN/stub_token_endpoint" ] ||
      { echo "SOAK_NO_BUILD=1 but target/release is not built" >&2; exit 1; }
  else
    (cd "$ROOT" && cargo build --release -q -p authsplit-server -p authsplit-test-support --bins)
  fi
}

# wait_line FILE PATTERN [tenths=100]: waits until FILE contains PATTERN.
wait_line() {
  local i
  for i in $(seq 1 "${3:-100}"); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}

# start_server TOML: starts the release server (random cookie key from the environment, logs at
# RUST_LOG=${SOAK_LOG:-warn} in $WORK/server.err); sets SERVER_PID and SERVER_URL.
start_server() {
  AUTHSPLIT__SERVER__COOKIE_KEY=$(head -c 64 /dev/urandom | base64 -w0) \
    RUST_LOG=${SOAK_LOG:-warn} "$BIN/authsplit-server" --config "$1" \
    > "$WORK/server.out" 2> "$WORK/server.err" &
  SERVER_PID=$!
  SOAK_PIDS+=("$SERVER_PID")
  wait_line "$WORK/server.out" "listening on"
  SERVER_URL=$(sed -n 's/^authsplit-server listening on //p' "$WORK/server.out")
}

# rss_kb PID: VmRSS in kB (empty when the process is gone).
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# threads PID / fds PID: thread and open file descriptor counts.
nthreads() { awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# start_rss_sampler PID CSV INTERVAL_S MAX_SAMPLES: appends
# `t_s,rss_kb,threads,fds` every INTERVAL_S seconds while PID lives (bounded).
start_rss_sampler() {
  local pid=$1 csv=$2 every=$3 max=$4
  echo "t_s,rss_kb,threads,fds" > "$csv"
  (
    t0=$(date +%s.%N)
    for _ in $(seq 1 "$max"); do
      r=$(rss_kb "$pid"); [ -n "$r" ] || break
      now=$(date +%s.%N)
      printf '%.1f,%s,%s,%s\n' "$(echo "$now - $t0" | bc)" "$r" "$(nthreads "$pid")" "$(nfds "$pid")" >> "$csv"
      sleep "$every"
    done
  ) &
  SOAK_SAMPLER_PIDS+=($!)
}

# machine_line: date, load average, cores, commit — printed with every result.
machine_line() {
  printf 'date %s | load average %s | %s cores | commit %s%s\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" \
    "$(git -C "$ROOT" rev-parse --short HEAD)" \
    "$(git -C "$ROOT" diff --quiet -- crates/authsplit-server crates/authsplit-core || echo ' (+ uncommitted server/core edits)')"
}

# run_fg OUT CMD…: runs CMD in the background with stdout to OUT (stderr passes through) and
# waits for it, so that SIGINT/SIGTERM reach the traps at once (bash runs a trap only after a
# foreground child ends); the cleanup then stops CMD too. Prints OUT afterwards; returns CMD's
# exit status.
run_fg() {
  local out=$1; shift
  "$@" > "$out" &
  local pid=$!
  SOAK_PIDS+=("$pid")
  local rc=0
  wait "$pid" || rc=$?
  cat "$out"
  return "$rc"
}
