#!/usr/bin/env bash
# Builds rbd, rbtui and rbtui-app for Linux on each architecture given
# (amd64, arm64, arm7 = ARMv7 hard-float, e.g. Raspberry Pi OS 32-bit) into
# OUT/<arch>/, pure Go (CGO_ENABLED=0), with the version of scripts/version.sh
# (or $VERSION) stamped in, symbols left out (-s -w: the build info, and so
# `rbd version`, stays), and into OUT/<arch>/share/ the man pages rbd(8)
# and rbtui(1) and the bash, zsh and fish completions, made from the command
# trees by programs built for this machine (they are the same on every
# architecture). `make package` and scripts/test.sh use it.
#   scripts/cross-build.sh OUT amd64 arm64 arm7
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 OUT ARCH..." >&2; exit 2; }
out=$1
shift
version=${VERSION:-$(scripts/version.sh)}
ldflags="-s -w -X github.com/rockblock-station/rockblock-station/internal/version.Version=$version"
for arch in "$@"; do
  case $arch in
  amd64 | arm64) goarch=$arch goarm= ;;
  arm7) goarch=arm goarm=7 ;;
  *) echo "$0: architecture $arch: want amd64, arm64 or arm7" >&2; exit 2 ;;
  esac
  mkdir -p "$out/$arch"
  # -buildvcs=auto: the revision goes in even where GOFLAGS turns stamping off.
  CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm go build -buildvcs=auto \
    -ldflags "$ldflags" -o "$out/$arch/" ./cmd/rbd ./cmd/rbtui ./cmd/rbtui-app
done

# The man pages (gzip -n: no name or time inside) and the completions. The
# pages are dated by the commit (SOURCE_DATE_EPOCH), so the same commit
# gives the same files.
host=$(mktemp -d)
trap 'rm -rf "$host"' EXIT
go build -o "$host/" ./cmd/rbd ./cmd/rbtui-app
share=$host/share
mkdir -p "$share"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
"$host/rbd" man | gzip -9n >"$share/rbd.8.gz"
"$host/rbtui-app" man | gzip -9n >"$share/rbtui.1.gz"
for shell in bash zsh fish; do
  "$host/rbd" completion "$shell" >"$share/rbd.$shell"
  "$host/rbtui-app" completion "$shell" >"$share/rbtui.$shell"
done
for arch in "$@"; do
  rm -rf "$out/$arch/share"
  cp -r "$share" "$out/$arch/share"
done
