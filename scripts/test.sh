#!/usr/bin/env bash
# The one test command (`make test`): installs what the tests need on a fresh
# Debian machine, then runs formatting, vet, the cross-builds and the Debian
# packages with their checks, and every test with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tmux >/dev/null || need+=(tmux)
# rbtui ssh's tests talk to it with Debian's OpenSSH client.
command -v ssh >/dev/null || need+=(openssh-client)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
command -v make >/dev/null || need+=(make)
# systemd-analyze verifies the package's units (systemd need not be running).
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v unshare >/dev/null || need+=(util-linux)
# nft cuts a cluster node off in internal/clustertest's partition round.
command -v nft >/dev/null || need+=(nftables)
# The bridge's end-to-end tests: node with npm (the official socket.io-client)
# and a headless Chromium for the web chat.
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v chromium >/dev/null || need+=(chromium)
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
# rbtui's completion test runs bash with bash-completion; the package check
# renders the man pages with man.
[ -f /usr/share/bash-completion/bash_completion ] || need+=(bash-completion)
command -v man >/dev/null || need+=(man-db)
if [ ${#need[@]} -gt 0 ]; then
  echo "test: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # Keep the package's own system broker from starting: the tests run a private node.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# The Node modules of the bridge's tests, exactly as locked.
echo "test: npm ci (bridge/testdata/node)"
(cd bridge/testdata/node && npm ci --no-audit --no-fund --loglevel=error)

# Tests that need the broker or tmux fail here instead of skipping.
export RB_REQUIRE_BROKER=1 RB_REQUIRE_TMUX=1

echo "test: gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' ; git ls-files --others --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi

# go vet; staticcheck, at a pinned version installed once per machine beside
# the Go cache; and the packaging tool (a module of its own: it keeps nfpm
# out of go.mod) with its vet, tests and staticcheck. Any finding fails the
# run. They run beside the tests (below), their output printed after the tests'.
staticcheck_version=v0.8.2
tools=$(go env GOCACHE)/rockblock-station-tools/staticcheck-$staticcheck_version
checks() {
  local start
  start=$(date +%s)
  echo "test: go vet"
  go vet ./...
  if [ ! -x "$tools/staticcheck" ]; then
    echo "test: installing staticcheck $staticcheck_version"
    GOBIN=$tools GOFLAGS=-mod=mod go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
  fi
  echo "test: staticcheck $staticcheck_version"
  "$tools/staticcheck" ./...
  echo "test: the packaging tool: go vet, go test, staticcheck"
  (cd internal/tools/pkg && go vet ./... && go test -count=1 ./... && "$tools/staticcheck" ./...)
  echo "test: vet, staticcheck and the packaging tool took $(($(date +%s) - start)) s"
}

# Cross-builds for every architecture of the package, pure Go, then the three
# packages, each unpacked into a throwaway root and checked. They run beside
# the tests (which spend much of their time waiting on brokers and modems);
# their output is printed after the tests' and either failure fails the run.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
VERSION=$(scripts/version.sh)
export VERSION
packaging() {
  echo "test: cross-builds (linux amd64, arm64, arm/v7) of $VERSION"
  local start
  start=$(date +%s)
  scripts/cross-build.sh "$tmp/build" amd64 arm64 arm7
  echo "test: cross-builds took $(($(date +%s) - start)) s"
  start=$(date +%s)
  go run -C internal/tools/pkg . -root "$PWD" -version "$VERSION" -bin "$tmp/build" -out "$tmp/dist" amd64 arm64 arm7 >"$tmp/debs"
  echo "test: packages took $(($(date +%s) - start)) s"
  while read -r deb; do
    scripts/check-package.sh "$deb"
  done <"$tmp/debs"
}
packaging >"$tmp/packaging.log" 2>&1 &
pkg_pid=$!
checks >"$tmp/checks.log" 2>&1 &
checks_pid=$!

# Most of the tests' time is spent waiting on brokers, modems and timers,
# not on the CPU (client and cmd/rbd use about a fifth of their wall time,
# clustertest under half), so three packages run at once on two cores (-p;
# RB_TEST_P overrides it). go test starts packages in the order given: the
# longest first (the fleet's cluster takes a lane of its own for most of
# the run), so that none of them is left running alone at the end; every
# other package of `go list ./...` follows in its order.
slow=(internal/testkit/clustertest cmd/rbd client tui internal/testkit/soak bridge
  cmd/rbtui-app daemon store queue internal/testkit/brokertest rock7 sbd)
module=$(go list -m)
pkgs=()
for p in "${slow[@]}"; do pkgs+=("$module/$p"); done
while read -r p; do
  [[ " ${pkgs[*]} " == *" $p "* ]] || pkgs+=("$p")
done < <(go list ./...)
echo "test: go test -race (${#pkgs[@]} packages, -p ${RB_TEST_P:=3})"
start=$(date +%s)
status=0
go test -race -count=1 -p "$RB_TEST_P" -timeout 30m "${pkgs[@]}" || status=$?
echo "test: go test took $(($(date +%s) - start)) s"
checks_status=0
wait "$checks_pid" || checks_status=$?
cat "$tmp/checks.log"
if [ "$checks_status" -ne 0 ]; then echo "test: go vet, staticcheck or the packaging tool's checks failed"; fi
pkg_status=0
wait "$pkg_pid" || pkg_status=$?
cat "$tmp/packaging.log"
if [ "$pkg_status" -ne 0 ]; then echo "test: cross-builds or packages failed"; fi
if [ "$status" -ne 0 ] || [ "$checks_status" -ne 0 ] || [ "$pkg_status" -ne 0 ]; then exit 1; fi
