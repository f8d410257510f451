#!/usr/bin/env bash
# The one test command (`make test`): installs what the tests need on a fresh
# Debian machine, then runs formatting, vet and every test with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tmux >/dev/null || need+=(tmux)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
command -v make >/dev/null || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
  echo "test: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # Keep the package's own system broker from starting: the tests run a private node.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# Tests that need the broker or tmux fail here instead of skipping.
export RB_REQUIRE_BROKER=1 RB_REQUIRE_TMUX=1

echo "test: gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' ; git ls-files --others --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
echo "test: go vet"
go vet ./...
echo "test: go test -race"
go test -race -count=1 -timeout 30m ./...
