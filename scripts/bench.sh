#!/usr/bin/env bash
# Runs every Go benchmark of the repository (`make bench`) and the scripted
# measurements: rbd's idle cost, a whole idle station's (scripts/station-idle.sh,
# STATION_SECONDS per window, default 60) and the start-up of `rbtui signal`; ends
# with one table of every figure and its target (internal/tools/benchtable,
# which reads each benchmark's target from its doc comment).
# Benchmarks that need a broker start their own private RabbitMQ node.
#   BENCHTIME=1x scripts/bench.sh     # a quick pass
set -euo pipefail
cd "$(dirname "$0")/.."
benchtime=${BENCHTIME:-1s}
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
export BENCH_RESULTS=$results/scripts.tsv
echo "== go benchmarks (benchtime $benchtime)"
go test -run '^$' -bench . -benchmem -benchtime "$benchtime" ./... | tee "$results/go.txt"
if [ -x scripts/rbd-idle.sh ]; then
  echo "== rbd idle cost (${IDLE_SECONDS:-60} s)"
  scripts/rbd-idle.sh "${IDLE_SECONDS:-60}"
fi
if [ -x scripts/station-idle.sh ]; then
  echo "== a whole idle station (${STATION_SECONDS:-60} s a window)"
  scripts/station-idle.sh "${STATION_SECONDS:-60}"
fi
if [ -x scripts/glance-startup.sh ]; then
  echo "== rbtui signal start-up"
  scripts/glance-startup.sh
fi
echo "== all figures"
go run ./internal/tools/benchtable -go "$results/go.txt" -scripts "$BENCH_RESULTS"
