#!/usr/bin/env bash
# Measures the start-up of `rbtui signal` (the tmux glance) against `cat` of
# a small file: median wall time of RUNS runs each (default 41). Target: at
# most twice the time of cat. Uses a history with 100 000 messages and the
# glance file that every rbtui keeps beside it. With BENCH_RESULTS set, the
# figures are appended there for `make bench`'s table.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-41}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/rbtui" ./cmd/rbtui
go run ./internal/tools/seeddb "$tmp/h.db" 100000
echo small > "$tmp/small.txt"
median() { # command...: median wall time in microseconds
  local ts=()
  for _ in $(seq "$runs"); do
    local a b
    a=$(date +%s%N); "$@" >/dev/null; b=$(date +%s%N)
    ts+=($(( (b - a) / 1000 )))
  done
  printf '%s\n' "${ts[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p"
}
for _ in 1 2 3; do cat "$tmp/small.txt" >/dev/null; "$tmp/rbtui" signal --db "$tmp/h.db" >/dev/null; done
c=$(median cat "$tmp/small.txt")
export RB_CONFIG=/dev/null
s=$(median "$tmp/rbtui" signal --db "$tmp/h.db")
ratio=$(awk -v a="$s" -v b="$c" 'BEGIN{printf "%.2f", a/b}')
echo "cat: ${c} us   rbtui signal: ${s} us   ratio: $ratio"
if [ -n "${BENCH_RESULTS:-}" ]; then
  printf 'scripts/glance-startup.sh rbtui signal start-up (median of %s)\t%s us = %sx cat (%s us)\t<= 2x cat\n' \
    "$runs" "$s" "$ratio" "$c" >>"$BENCH_RESULTS"
fi
