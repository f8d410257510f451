#!/usr/bin/env bash
# Checks a Debian package of the station (`make package`): its control data,
# that it holds exactly the expected files with the expected modes and
# owners, that the files match the sources, that its programs are built for
# its architecture (and, on this machine's architecture, print the expected
# version), that its systemd units verify, and that its postinst makes the
# user rbd in group dialout and enables or starts nothing, and that its man
# pages render (man -l) and its man pages and shell completions are the
# ones its programs make.
#   scripts/check-package.sh DEB [VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(realpath "$1")
want_version=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-package: $*" >&2; exit 1; }
field() { dpkg-deb -f "$deb" "$1"; }

# --- control data (dpkg-deb -I)
dpkg-deb -I "$deb" >"$tmp/info" || fail "dpkg-deb -I $deb failed"
[ "$(field Package)" = rockblock-station ] || fail "Package is $(field Package)"
arch=$(field Architecture)
case $arch in
amd64) elf_machine=3e ;;
arm64) elf_machine=b7 ;;
armhf) elf_machine=28 ;;
*) fail "Architecture $arch: want amd64, arm64 or armhf" ;;
esac
case $(basename "$deb") in
"rockblock-station_$(field Version)_$arch.deb") ;;
*) fail "file name $(basename "$deb") is not rockblock-station_$(field Version)_$arch.deb" ;;
esac
if [ -n "$want_version" ]; then
  [ "$(field Version)" = "$want_version" ] || fail "Version is $(field Version), want $want_version"
fi
field Depends | grep -q 'adduser | passwd' || fail "Depends lacks adduser | passwd: $(field Depends)"
mkdir "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control"
for s in postinst prerm postrm; do
  [ -x "$tmp/control/$s" ] || fail "maintainer script $s missing or not executable"
  sh -n "$tmp/control/$s" || fail "$s: shell syntax error"
  cmp -s "$tmp/control/$s" "packaging/debian/$s" || fail "$s differs from packaging/debian/$s"
done
[ "$(cat "$tmp/control/conffiles")" = /etc/rockblock-station/rbd.env ] ||
  fail "conffiles: $(cat "$tmp/control/conffiles"), want /etc/rockblock-station/rbd.env"

# --- the files (dpkg-deb -c), each with its mode and owner; nothing else
# besides the directories that lead to them.
cat >"$tmp/want" <<'LIST'
-rwxr-xr-x root/root ./usr/bin/rbd
-rwxr-xr-x root/root ./usr/bin/rbtui
-rwxr-xr-x root/root ./usr/bin/rbtui-app
-rw-r--r-- root/root ./usr/lib/systemd/system/rbd@.service packaging/systemd/rbd@.service
-rw-r--r-- root/root ./usr/lib/systemd/system/rbd-rock7@.service packaging/systemd/rbd-rock7@.service
-rw-r--r-- root/root ./usr/lib/systemd/system/rbtui-serve@.service packaging/systemd/rbtui-serve@.service
-rw-r--r-- root/root ./usr/lib/systemd/system/rbtui-ssh@.service packaging/systemd/rbtui-ssh@.service
-rw-r--r-- root/root ./usr/lib/udev/rules.d/60-rockblock.rules packaging/udev/60-rockblock.rules
-rw------- root/root ./etc/rockblock-station/rbd.env packaging/etc/rbd.env
drwxr-xr-x root/root ./etc/rockblock-station/stations/
-rw-r--r-- root/root ./usr/share/doc/rockblock-station/examples/station.env packaging/etc/station.env
-rw-r--r-- root/root ./usr/share/doc/rockblock-station/examples/rabbitmq.conf packaging/rabbitmq/rockblock-station.conf
-rw-r--r-- root/root ./usr/share/doc/rockblock-station/examples/rabbitmq-env.conf packaging/rabbitmq/rabbitmq-env.conf
-rwxr-xr-x root/root ./usr/share/doc/rockblock-station/examples/broker-users.sh scripts/broker-users.sh
-rw-r--r-- root/root ./usr/share/doc/rockblock-station/README.md README.md
-rw-r--r-- root/root ./usr/share/man/man8/rbd.8.gz
-rw-r--r-- root/root ./usr/share/man/man1/rbtui.1.gz
-rw-r--r-- root/root ./usr/share/bash-completion/completions/rbd
-rw-r--r-- root/root ./usr/share/bash-completion/completions/rbtui
-rw-r--r-- root/root ./usr/share/zsh/vendor-completions/_rbd
-rw-r--r-- root/root ./usr/share/zsh/vendor-completions/_rbtui
-rw-r--r-- root/root ./usr/share/fish/vendor_completions.d/rbd.fish
-rw-r--r-- root/root ./usr/share/fish/vendor_completions.d/rbtui.fish
LIST
dpkg-deb -c "$deb" | awk '{print $1, $2, $6}' | sort -k3 >"$tmp/got"
while read -r mode owner path src; do
  grep -qxF -e "$mode $owner $path" "$tmp/got" || fail "$path: want $mode $owner, package has: $(grep -F -e " $path" "$tmp/got" || echo nothing)"
done <"$tmp/want"
awk '{print $3}' "$tmp/want" >"$tmp/want-paths"
while read -r mode owner path; do
  grep -qxF "$path" "$tmp/want-paths" && continue
  case $mode in
  d*) grep -q "^${path//./\\.}" "$tmp/want-paths" || fail "unexpected directory $path" ;;
  *) fail "unexpected file $path ($mode $owner)" ;;
  esac
done <"$tmp/got"

# --- unpacked into a throwaway root: modes on disk, contents, programs
root=$tmp/root
dpkg-deb -x "$deb" "$root"
while read -r mode owner path src; do
  p=$root/${path#./}
  [ -e "$p" ] || fail "$path not unpacked"
  got=$(stat -c %A "$p")
  [ "$got" = "$mode" ] || fail "$path unpacked as $got, want $mode"
  if [ -n "$src" ]; then cmp -s "$p" "$src" || fail "$path differs from $src"; fi
done <"$tmp/want"
for prog in rbd rbtui rbtui-app; do
  m=$(od -An -tx1 -j18 -N1 "$root/usr/bin/$prog" | tr -d ' ')
  [ "$m" = "$elf_machine" ] || fail "usr/bin/$prog: ELF machine 0x$m, want 0x$elf_machine for $arch"
done
if [ "$arch" = "$(dpkg --print-architecture)" ]; then
  for prog in rbd rbtui; do
    line=$(RB_CONFIG=/dev/null "$root/usr/bin/$prog" version)
    case $line in
    "$prog ${VERSION:-}"*) echo "check-package: $prog version: $line" ;;
    *) fail "$prog version: $line (want $prog ${VERSION:-<any>})" ;;
    esac
  done
fi

# --- the man pages render without a warning, and name every command; the
# completions are shell scripts that register for their program.
for page in usr/share/man/man8/rbd.8.gz usr/share/man/man1/rbtui.1.gz; do
  if command -v man >/dev/null; then
    MANWIDTH=80 man --warnings -l "$root/$page" >"$tmp/man.txt" 2>"$tmp/man.err" || fail "man -l $page failed: $(cat "$tmp/man.err")"
    [ ! -s "$tmp/man.err" ] || fail "man -l $page warns: $(cat "$tmp/man.err")"
  else
    echo "check-package: man is not installed (apt-get install man-db): $page checked as text only"
    zcat "$root/$page" >"$tmp/man.txt"
  fi
  case $page in
  *rbd.8.gz) cmds="simulate version completion" ;;
  *) cmds="signal send history dead serve ssh version completion" ;;
  esac
  for c in $cmds; do grep -q "$c" "$tmp/man.txt" || fail "$page does not name the command $c"; done
done
for prog in rbd rbtui; do
  grep -q "complete -o default -F __start_$prog $prog" "$root/usr/share/bash-completion/completions/$prog" ||
    fail "the bash completion of $prog does not register for $prog"
  bash -n "$root/usr/share/bash-completion/completions/$prog" || fail "the bash completion of $prog: syntax error"
  head -1 "$root/usr/share/zsh/vendor-completions/_$prog" | grep -qx "#compdef $prog" || fail "_$prog is not a zsh completion of $prog"
  grep -q "complete -c $prog" "$root/usr/share/fish/vendor_completions.d/$prog.fish" || fail "$prog.fish is not a fish completion of $prog"
done
# On this machine's architecture: the files are what the programs make now
# (the man page's date aside).
if [ "$arch" = "$(dpkg --print-architecture)" ]; then
  cmp -s <(zcat "$root/usr/share/man/man8/rbd.8.gz" | sed 1d) <("$root/usr/bin/rbd" man | sed 1d) || fail "rbd.8.gz is not what rbd man prints"
  cmp -s <(zcat "$root/usr/share/man/man1/rbtui.1.gz" | sed 1d) <("$root/usr/bin/rbtui" man | sed 1d) || fail "rbtui.1.gz is not what rbtui man prints"
  for prog in rbd rbtui; do
    cmp -s "$root/usr/share/bash-completion/completions/$prog" <("$root/usr/bin/$prog" completion bash) || fail "the bash completion of $prog is not what $prog completion bash prints"
    cmp -s "$root/usr/share/zsh/vendor-completions/_$prog" <("$root/usr/bin/$prog" completion zsh) || fail "_$prog is not what $prog completion zsh prints"
    cmp -s "$root/usr/share/fish/vendor_completions.d/$prog.fish" <("$root/usr/bin/$prog" completion fish) || fail "$prog.fish is not what $prog completion fish prints"
  done
  echo "check-package: man pages and completions match the programs"
fi

# --- the units, verified against the unpacked programs. systemd-analyze
# needs the standard targets in the root: take this machine's.
if command -v systemd-analyze >/dev/null; then
  units=$root/usr/lib/systemd/system
  for d in /usr/lib/systemd/system /lib/systemd/system; do
    [ -d "$d" ] && cp -rn "$d/." "$units/" 2>/dev/null || true
  done
  (cd / && systemd-analyze verify --man=no --root="$root" rbd@north.service rbd-rock7@north.service rbtui-serve@north.service rbtui-ssh@north.service) >"$tmp/verify" 2>&1 ||
    { cat "$tmp/verify"; fail "systemd-analyze verify failed"; }
  [ ! -s "$tmp/verify" ] || { cat "$tmp/verify"; fail "systemd-analyze verify printed warnings"; }
  for u in rbd@north.service rbd-rock7@north.service rbtui-serve@north.service rbtui-ssh@north.service; do
    (cd / && systemd-analyze security --offline=yes --root="$root" --threshold=30 "$u") >"$tmp/security" 2>&1 ||
      { cat "$tmp/security"; fail "$u: exposure above 3.0"; }
    echo "check-package: $u: $(grep -o 'Overall exposure level.*' "$tmp/security")"
  done
else
  echo "check-package: SKIPPED the unit check: systemd-analyze is not installed (apt-get install systemd)"
fi

# --- the postinst, run for real in a private mount namespace whose /etc is a
# copy and whose /run is empty, with systemctl and udevadm recorded instead of
# run: it must make the system user rbd in group dialout, run no more than
# daemon-reload (and try-restart on an upgrade), and be idempotent.
if [ "$(id -u)" -ne 0 ] || ! unshare --mount --fork true 2>/dev/null; then
  echo "check-package: SKIPPED the postinst run: it needs root and unshare (mount namespaces)"
else
  had_rbd=no
  getent passwd rbd >/dev/null && had_rbd=yes
  mkdir -p "$tmp/etc" "$tmp/fakebin"
  cp -a /etc/. "$tmp/etc/"
  for tool in systemctl udevadm; do
    printf '#!/bin/sh\necho "%s $*" >>%s/calls\n' "$tool" "$tmp" >"$tmp/fakebin/$tool"
    chmod +x "$tmp/fakebin/$tool"
  done
  unshare --mount --fork sh -euc '
    mount --make-rprivate /
    mount --bind "$1/etc" /etc
    mount -t tmpfs tmpfs /run
    mkdir -p /run/systemd/system /run/udev
    python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" /run/udev/control 2>/dev/null ||
      touch /run/udev/control
    export PATH="$1/fakebin:$PATH"
    "$1/control/postinst" configure
    echo "--- second run" >>"$1/calls"
    "$1/control/postinst" configure 0.0.0+git1.abc
    getent passwd rbd >"$1/passwd"
    id -nG rbd >"$1/groups"
  ' sh "$tmp" || fail "postinst failed"
  grep -q '^rbd:x:[0-9]*:[0-9]*:[^:]*:/nonexistent:' "$tmp/passwd" || fail "user rbd: $(cat "$tmp/passwd")"
  uid=$(cut -d: -f3 "$tmp/passwd")
  [ "$uid" -lt 1000 ] || fail "user rbd has uid $uid: want a system user"
  tr ' ' '\n' <"$tmp/groups" | grep -qx dialout || fail "rbd is in groups $(cat "$tmp/groups"), not dialout"
  if grep -E '^systemctl' "$tmp/calls" | grep -v -E '^systemctl (daemon-reload|try-restart rbd@\*\.service rbd-rock7@\*\.service rbtui-serve@\*\.service rbtui-ssh@\*\.service)$'; then
    fail "postinst ran the systemctl commands above: it must not enable or start anything"
  fi
  grep -qx 'systemctl daemon-reload' "$tmp/calls" || fail "postinst did not run systemctl daemon-reload"
  sed -n '/^--- second run/,$p' "$tmp/calls" | grep -q '^systemctl try-restart' ||
    fail "an upgrade does not restart running stations"
  sed -n '1,/^--- second run/p' "$tmp/calls" | grep -q '^systemctl try-restart' &&
    fail "a first installation restarts stations"
  if [ $had_rbd = no ] && getent passwd rbd >/dev/null; then
    fail "the postinst run leaked the user rbd into this machine's /etc"
  fi
  echo "check-package: postinst made $(cat "$tmp/passwd" | cut -d: -f1,3) in groups: $(cat "$tmp/groups")"
fi
echo "check-package: $(basename "$deb"): ok ($(wc -l <"$tmp/want") files)"
