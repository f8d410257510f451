#!/usr/bin/env bash
# Kills rbd in the middle of a satellite session, on the simulator paced at
# the real link's 19200 baud, N times in a row (default 30), starting it again
# at once each time (the interrupted session still running), then lets a last
# run finish every message. Prints how many runs read the modem's identity
# right and how many messages ended "unknown" although the simulated gateway
# got them (both must be N+1 of N+1 and 0).
#
#   scripts/restart-in-session.sh [N]
#
# Runs cmd/rbd's TestKilledInSessionRepeatedly with its own RabbitMQ node.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-30}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
RB_REQUIRE_BROKER=1 go test -v -count=1 -timeout 30m -run '^TestKilledInSessionRepeatedly$' ./cmd/rbd/ -args -restarts "$n" >"$out" 2>&1 || status=$?
grep -v '^restart-in-session:' "$out" | tail -n 40 >&2 || true
grep '^restart-in-session:' "$out" || { echo "restart-in-session: no result (test failed to run)" >&2; exit 1; }
exit "$status"
