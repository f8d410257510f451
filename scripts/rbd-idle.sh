#!/usr/bin/env bash
# Measures what an idle rbd costs: CPU % and resident memory over a window
# (default 60 s) while the simulated modem's signal changes every few seconds
# (so +CIEV events flow). The simulator runs as its own process on a
# pseudo-terminal; only rbd is measured.
#
#   scripts/rbd-idle.sh [SECONDS]
#
# The broker is RB_AMQP_URL when set (rbd then publishes its signal reports);
# without it rbd runs against an unreachable broker and keeps retrying, which
# is the worse case for idle cost. Targets: CPU <= 0.1 %, RSS <= 25 MB.
# With BENCH_RESULTS set, the figures are appended there for `make bench`'s table.
set -euo pipefail
cd "$(dirname "$0")/.."
window=${1:-60}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/rbd" ./cmd/rbd
port=$(( 20000 + RANDOM % 20000 ))
"$tmp/rbd" simulate --link "$tmp/modem" --control "127.0.0.1:$port" --profile 4s:3,4s:4 \
  --session-time 0 --state "$tmp/sim.json" 2>"$tmp/sim.log" &
pids+=($!)
for _ in $(seq 50); do [ -e "$tmp/modem" ] && break; sleep 0.1; done
[ -e "$tmp/modem" ] || { echo "simulator did not start:"; cat "$tmp/sim.log"; exit 1; }

export RB_CONFIG="$tmp/none" RB_AMQP_URL="${RB_AMQP_URL:-amqp://guest:guest@127.0.0.1:1/}"
"$tmp/rbd" --port "$tmp/modem" --state "$tmp/state" --station idle --log-level warn 2>"$tmp/rbd.log" &
rbd=$!
pids+=($rbd)
sleep 5 # start-up is not idle time

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks "$rbd"); s0=$(date +%s.%N)
sleep "$window"
t1=$(ticks "$rbd"); s1=$(date +%s.%N)
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$rbd/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$rbd/status")
awk -v t="$((t1 - t0))" -v hz="$hz" -v s0="$s0" -v s1="$s1" -v rss="$rss" -v hwm="$hwm" 'BEGIN {
  secs = s1 - s0
  printf "rbd idle %.0f s: CPU %.3f %% (%d ticks), RSS %.1f MB (peak %.1f MB)\n", secs, 100 * t / hz / secs, t, rss / 1024, hwm / 1024
  if (ENVIRON["BENCH_RESULTS"] != "") {
    out = ENVIRON["BENCH_RESULTS"]
    printf "scripts/rbd-idle.sh rbd idle CPU (%.0f s)\t%.3f %%\t<= 0.1 %%\n", secs, 100 * t / hz / secs >> out
    printf "scripts/rbd-idle.sh rbd idle RSS\t%.1f MB (peak %.1f MB)\t<= 25 MB\n", rss / 1024, hwm / 1024 >> out
  }
}'
if grep -q "level=ERROR" "$tmp/rbd.log"; then echo "rbd logged errors:"; grep "level=ERROR" "$tmp/rbd.log" | tail -5; fi
