#!/usr/bin/env bash
# Measures what a waiting rbd costs: CPU % and resident memory over a window
# (default 60 s). The simulator runs as its own process on a pseudo-terminal;
# only rbd is measured. "Waiting costs nothing": every case should stay at
# idle cost (targets: CPU <= 0.1 %, RSS <= 25 MB).
#
#   scripts/rbd-idle.sh [CASE] [SECONDS]
#
# CASE is one of:
#   idle         nothing to send; the signal changes every few seconds, so
#                +CIEV events flow (the default)
#   no-signal    one MO waits for signal and service (0 bars)
#   low-signal   one MO waits for more signal (2 bars, --min-signal 5)
#   backoff      one MO whose sessions all fail retries with backoff
#   broker-away  one MO waits for signal while the broker cannot be reached
#   unplugged    the modem's port does not exist: rbd reopens it with backoff
#   port-held    the port appears after rbd started, held by another process
#                (a UUCP lock file with its live PID): rbd stays offline and
#                reopens with backoff
#   disk-full    one MO, good signal, but the state directory (a 64 KiB tmpfs,
#                filled up; needs root) takes no write: rbd holds and
#                retries with backoff instead of sending or stopping
#
# The MO is put in rbd's journal before it starts (as if taken from the
# outbox), so no broker is needed. The broker is RB_AMQP_URL when set (rbd
# then publishes its reports); without it rbd runs against an unreachable
# broker and keeps retrying, which is the worse case for idle cost
# (broker-away always uses an unreachable broker).
# With BENCH_RESULTS set, the figures are appended there for `make bench`'s table.
set -euo pipefail
cd "$(dirname "$0")/.."
case_=idle
if [ $# -gt 0 ] && ! [[ $1 =~ ^[0-9]+$ ]]; then case_=$1; shift; fi
window=${1:-60}
tmp=$(mktemp -d)
pids=()
full=0
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$full" = 1 ]; then umount "$tmp/state" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

simargs=(--profile 4s:3,4s:4)
rbdargs=()
mo=0
case $case_ in
  idle) ;;
  no-signal) simargs=(--signal 0); mo=1 ;;
  low-signal) simargs=(--signal 2); rbdargs=(--min-signal 5); mo=1 ;;
  backoff) simargs=(--signal 4 --fail-rate 1); mo=1 ;;
  broker-away) simargs=(--signal 0); mo=1; RB_AMQP_URL=amqp://guest:guest@127.0.0.1:1/ ;;
  unplugged) ;;
  port-held) ;;
  disk-full) simargs=(--signal 4); mo=1 ;;
  *) echo "unknown case $case_ (idle, no-signal, low-signal, backoff, broker-away, unplugged, port-held, disk-full)" >&2; exit 2 ;;
esac

go build -o "$tmp/rbd" ./cmd/rbd
port=$(( 20000 + RANDOM % 20000 ))
link="$tmp/modem"
[ "$case_" = port-held ] && link="$tmp/sim-modem" # linked at $tmp/modem once rbd runs
mkdir -p "$tmp/lock"
if [ "$case_" != unplugged ]; then
  "$tmp/rbd" simulate --link "$link" --control "127.0.0.1:$port" "${simargs[@]}" \
    --session-time 0 --state "$tmp/sim.json" 2>"$tmp/sim.log" &
  pids+=($!)
  for _ in $(seq 50); do [ -e "$link" ] && break; sleep 0.1; done
  [ -e "$link" ] || { echo "simulator did not start:"; cat "$tmp/sim.log"; exit 1; }
fi
if [ "$case_" = port-held ]; then
  sleep 100000 &
  holder=$!
  pids+=($holder)
  dev=$(readlink -f "$link")
  name=${dev#/dev/}
  printf '%10d\n' "$holder" >"$tmp/lock/LCK..${name//\//_}"
fi
mkdir -p "$tmp/state"
if [ "$case_" = disk-full ]; then
  [ "$(id -u)" = 0 ] || { echo "disk-full mounts a tmpfs: run it as root" >&2; exit 2; }
  mount -t tmpfs -o size=64k,mode=0700 tmpfs "$tmp/state"
  full=1
  mkdir -p "$tmp/state/spool"
fi
if [ "$mo" = 1 ]; then
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  printf '{"op":"accept","id":"idle-mo-1","at":"%s","send":{"v":1,"id":"idle-mo-1","station":"idle","at":"%s","text":"waiting"}}\n' \
    "$now" "$now" >"$tmp/state/journal"
fi
if [ "$full" = 1 ]; then
  # Blank lines (replay skips them) up to the end of the journal's page: an
  # append into a page the file has would still fit.
  size=$(stat -c %s "$tmp/state/journal")
  head -c $(( (4096 - size % 4096) % 4096 )) /dev/zero | tr '\0' '\n' >>"$tmp/state/journal"
  dd if=/dev/zero of="$tmp/state/fill" bs=4k 2>/dev/null || true # until ENOSPC
fi

: >"$tmp/config"
chmod 600 "$tmp/config"
export RB_CONFIG="$tmp/config" RB_LOCK_DIR="$tmp/lock" RB_AMQP_URL="${RB_AMQP_URL:-amqp://guest:guest@127.0.0.1:1/}"
"$tmp/rbd" --port "$tmp/modem" --state "$tmp/state" --station idle --log-level warn "${rbdargs[@]}" 2>"$tmp/rbd.log" &
rbd=$!
pids+=($rbd)
if [ "$case_" = port-held ]; then sleep 1; ln -s "$dev" "$tmp/modem"; fi
sleep 5 # start-up is not idle time

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks "$rbd"); s0=$(date +%s.%N)
sleep "$window"
t1=$(ticks "$rbd"); s1=$(date +%s.%N)
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$rbd/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$rbd/status")
awk -v c="$case_" -v t="$((t1 - t0))" -v hz="$hz" -v s0="$s0" -v s1="$s1" -v rss="$rss" -v hwm="$hwm" 'BEGIN {
  secs = s1 - s0
  printf "rbd %s %.0f s: CPU %.3f %% (%d ticks), RSS %.1f MB (peak %.1f MB)\n", c, secs, 100 * t / hz / secs, t, rss / 1024, hwm / 1024
  if (ENVIRON["BENCH_RESULTS"] != "") {
    out = ENVIRON["BENCH_RESULTS"]
    printf "scripts/rbd-idle.sh rbd %s CPU (%.0f s)\t%.3f %%\t<= 0.1 %%\n", c, secs, 100 * t / hz / secs >> out
    printf "scripts/rbd-idle.sh rbd %s RSS\t%.1f MB (peak %.1f MB)\t<= 25 MB\n", c, rss / 1024, hwm / 1024 >> out
  }
}'
if [ "$case_" = port-held ]; then
  n=$(grep -c "in use by another process (pid $holder," "$tmp/rbd.log" || true)
  echo "rbd warned $n time(s) that pid $holder holds the port"
  if [ "$n" = 0 ] || [ "$(tr -d ' \n' <"$tmp/lock/LCK..${name//\//_}")" != "$holder" ]; then echo "rbd did not wait for the held port:"; tail -5 "$tmp/rbd.log"; exit 1; fi
fi
if [ "$case_" = disk-full ]; then
  kill -0 "$rbd" 2>/dev/null || { echo "rbd stopped on the full disk:"; tail -5 "$tmp/rbd.log"; exit 1; }
  grep -q "holding" "$tmp/rbd.log" || { echo "rbd never said it holds:"; tail -5 "$tmp/rbd.log"; exit 1; }
  echo "rbd holds: $(grep -c "holding" "$tmp/rbd.log") log line(s) about the hold in ${window} s"
fi
if grep -q "level=ERROR" "$tmp/rbd.log"; then echo "rbd logged errors:"; grep "level=ERROR" "$tmp/rbd.log" | tail -5; fi
