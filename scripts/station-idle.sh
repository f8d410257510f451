#!/usr/bin/env bash
# Measures what a whole idle station costs: a private RabbitMQ node (with the
# package's settings, packaging/rabbitmq/), `rbd simulate` with a steady sky,
# rbd, `rbtui serve`, two `rbtui` screens in tmux (each with a client attached
# on a pseudo-terminal, as an operator's terminal is) and the glance in the
# status bar, run by tmux every 5 s. Nothing is sent or received. After the
# station settles it prints, per process and in total: CPU % of one core
# (time on a CPU over every thread, /proc/PID/task/*/schedstat),
# wake-ups a second (voluntary context switches summed over every thread,
# /proc/PID/task/*/status) and resident memory; then it opens one idle
# browser (headless Chromium) on the web chat and measures `rbtui serve`
# again. It does all of this twice: unpinned, and with every process on one
# core (taskset -c 0, GOMAXPROCS=1), the nearest this machine gets to a Pi.
#
#   scripts/station-idle.sh [SECONDS]      # each window (default 60)
#
# Environment:
#   STATION_BROKER=default   the broker with RabbitMQ's defaults instead of
#                            the package's settings (to compare the two)
#   STATION_MODES="unpinned one-core"   which runs to make
#
# Rows: "broker" is beam.smp and its helper processes (epmd is shared by
# every Erlang node on the machine and not counted); "tmux" is the server and
# the two attached clients; "glance" is `rbtui signal` as tmux runs it: its
# CPU and wake-ups per run (the mean of 20 runs) times the runs counted in
# the window. The simulator stands in for the modem (hardware on
# a station) and is not counted.
# Targets (issue 24): an idle screen <= 0.1 % CPU and <= 10 wake-ups/s; rbd
# <= 5 wake-ups/s; rbtui serve as quiet as a screen. With BENCH_RESULTS set,
# the figures are appended there for `make bench`'s table.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
window=${1:-60}
settle=${STATION_SETTLE:-15}
modes=${STATION_MODES:-unpinned one-core}
brokerconf=${STATION_BROKER:-station}
command -v tmux >/dev/null || { echo "station-idle: needs tmux" >&2; exit 2; }
command -v script >/dev/null || { echo "station-idle: needs script (util-linux)" >&2; exit 2; }
rmqbin=${RB_RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}
[ -x "$rmqbin/rabbitmq-server" ] || { echo "station-idle: needs rabbitmq-server ($rmqbin)" >&2; exit 2; }
chrome=$(command -v chromium || command -v chromium-browser || true)

tmp=$(mktemp -d /tmp/station-idle.XXXXXX)
pids=()
sock=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$sock" ] && tmux -L "$sock" kill-server 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/bin/" ./cmd/rbd ./cmd/rbtui ./cmd/rbtui-app
export PATH="$tmp/bin:$PATH"

# freeport: a loopback port nothing listens on, below the ephemeral range.
freeport() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % 12000 ))
    case $p in 25672) continue ;; esac
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# cpuns PID: time on a CPU in nanoseconds, over every thread (schedstat).
cpuns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
# wakes PID: voluntary context switches over every thread.
wakes() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s + 0}'; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# descendants PID: PID and every process below it.
descendants() {
  local p=$1
  echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do descendants "$c"; done
}

# measure NAME... : samples the processes of each group (g_pids[NAME], a
# list of pids) over the window and adds one row each to rows; with
# glance_runs set, also the glance's row.
declare -A g_pids g_t0 g_w0
rows=()
measure() {
  local name p t w
  for name in "$@"; do
    t=0; w=0
    for p in ${g_pids[$name]}; do t=$(( t + $(cpuns "$p") )); w=$(( w + $(wakes "$p") )); done
    g_t0[$name]=$t; g_w0[$name]=$w
  done
  local s0 s1
  s0=$(date +%s.%N)
  [ -n "${glance_runs:-}" ] && : >"$glance_runs"
  sleep "$window"
  s1=$(date +%s.%N)
  for name in "$@"; do
    t=0; w=0; local r=0
    for p in ${g_pids[$name]}; do t=$(( t + $(cpuns "$p") )); w=$(( w + $(wakes "$p") )); r=$(( r + $(rss "$p") )); done
    rows+=("$(awk -v n="$name" -v t=$(( t - ${g_t0[$name]} )) -v w=$(( w - ${g_w0[$name]} )) -v r="$r" -v s0="$s0" -v s1="$s1" \
      'BEGIN {s = s1 - s0; printf "%s\t%.3f\t%.1f\t%.1f\n", n, 100 * t / 1e9 / s, w / s, r / 1024}')")
  done
  if [ -n "${glance_runs:-}" ]; then
    local runs
    runs=$(wc -c <"$glance_runs")
    rows+=("$(awk -v n=glance -v runs="$runs" -v pr="$glance_per_run" -v s0="$s0" -v s1="$s1" \
      'BEGIN {s = s1 - s0; split(pr, a, " "); printf "%s\t%.3f\t%.1f\t%.1f\n", n, 100 * a[1] * runs / s, a[2] * runs / s, 0}')")
  fi
}

# glance_cost DB: "CPU-seconds wake-ups" of one `rbtui signal` run (mean of
# 20): CPU from the shell's account of its children (ms), wake-ups from GNU
# time.
glance_cost() {
  local out cpu
  out=$(bash -c 'for _ in $(seq 20); do /usr/bin/time -f "%w" rbtui signal --station idle --db "$1" >/dev/null; done 2>&1; times' _ "$1")
  cpu=$(tail -1 <<<"$out" | awk '{split($0, f, " "); t = 0; for (i = 1; i <= 2; i++) {v = f[i]; m = v; sub(/m.*/, "", m); s = v; sub(/.*m/, "", s); sub(/s/, "", s); t += m * 60 + s}; print t / 20}')
  awk -v cpu="$cpu" 'NF == 1 {w += $1; n++} END {printf "%.5f %.1f", cpu, w / n}' <<<"$(head -n -2 <<<"$out")"
}

print_rows() { # title
  echo "-- $1 (${window} s window)"
  printf '%s\n' "${rows[@]}" | awk -F'\t' '
    BEGIN {printf "%-30s %8s %11s %8s\n", "process", "CPU %", "wake-ups/s", "RSS MB"}
    {printf "%-30s %8.3f %11.1f %8.1f\n", $1, $2, $3, $4; c += $2; w += $3; r += $4; n++}
    END {if (n > 1) printf "%-30s %8.3f %11.1f %8.1f\n", "total", c, w, r}'
  if [ -n "${BENCH_RESULTS:-}" ]; then
    local mode=$2
    printf '%s\n' "${rows[@]}" | awk -F'\t' -v m="$mode" -v b="$brokerconf" '
      function target(n) {
        if (n ~ /^rbtui screen/) return "<= 0.1 % CPU, <= 10 wake-ups/s"
        if (n == "rbd") return "<= 5 wake-ups/s"
        if (n ~ /^rbtui serve/) return "<= 0.1 % CPU, <= 10 wake-ups/s (as a screen)"
        return "(measured)"
      }
      {printf "scripts/station-idle.sh %s %s (broker: %s)\t%.3f %% CPU, %.1f wake-ups/s, %.1f MB\t%s\n", m, $1, b, $2, $3, $4, target($1) >> ENVIRON["BENCH_RESULTS"]}'
  fi
}

run_station() { # mode
  local mode=$1 pin=()
  if [ "$mode" = one-core ]; then pin=(taskset -c 0); export GOMAXPROCS=1; else unset GOMAXPROCS; fi
  local d="$tmp/$mode"
  mkdir -p "$d"/{broker,state,lock,a,b,serve}
  : >"$d/config"; chmod 600 "$d/config"
  export RB_CONFIG="$d/config" RB_LOCK_DIR="$d/lock"

  # The broker: a private node as internal/testkit/brokertest starts one, with
  # the package's rabbitmq.conf lines (its own listener) and rabbitmq-env.conf.
  local amqp dist
  amqp=$(freeport); dist=$(freeport)
  {
    echo "listeners.tcp.default = 127.0.0.1:$amqp"
    echo "loopback_users = none"
    if [ "$brokerconf" = station ]; then grep -v '^listeners\.' packaging/rabbitmq/rockblock-station.conf; fi
  } >"$d/broker/rabbitmq.conf"
  echo '[].' >"$d/broker/enabled_plugins"
  if [ "$brokerconf" = station ]; then cp packaging/rabbitmq/rabbitmq-env.conf "$d/broker/rabbitmq-env.conf"; else : >"$d/broker/rabbitmq-env.conf"; fi
  HOME="$d/broker" RUNNING_UNDER_SYSTEMD=true RABBITMQ_NODENAME="rbidle-$$-$amqp@localhost" \
    RABBITMQ_NODE_PORT=$amqp RABBITMQ_DIST_PORT=$dist RABBITMQ_CONFIG_FILE="$d/broker/rabbitmq" \
    RABBITMQ_CONF_ENV_FILE="$d/broker/rabbitmq-env.conf" \
    RABBITMQ_MNESIA_BASE="$d/broker/mnesia" RABBITMQ_LOG_BASE="$d/broker/log" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$d/broker/enabled_plugins" RABBITMQ_PID_FILE="$d/broker/pid" \
    "${pin[@]}" "$rmqbin/rabbitmq-server" >"$d/broker/server.out" 2>&1 &
  local broker=$!
  pids+=($broker)
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$amqp") 2>/dev/null && break; sleep 0.2; done
  (exec 3<>"/dev/tcp/127.0.0.1/$amqp") 2>/dev/null || { echo "broker did not start:"; tail -20 "$d/broker/server.out"; exit 1; }
  export RB_AMQP_URL="amqp://guest:guest@127.0.0.1:$amqp/"

  local ctl
  ctl=$(freeport)
  "${pin[@]}" rbd simulate --link "$d/modem" --control "127.0.0.1:$ctl" --signal 4 --state "$d/sim.json" >"$d/sim.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do [ -e "$d/modem" ] && break; sleep 0.1; done
  [ -e "$d/modem" ] || { echo "simulator did not start:"; cat "$d/sim.log"; exit 1; }
  "${pin[@]}" rbd --port "$d/modem" --state "$d/state" --station idle --log-level warn 2>"$d/rbd.log" &
  local rbd=$!
  pids+=($rbd)
  local web
  web=$(freeport)
  "${pin[@]}" rbtui serve --listen "127.0.0.1:$web" --station idle --db "$d/serve/history.db" 2>"$d/serve.log" &
  local serve=$!
  pids+=($serve)

  # Two screens, each in its own tmux session with a client attached, the
  # glance in the status bar every 5 s. Each glance run leaves a byte in
  # glance.runs (a shell that then execs rbtui signal).
  sock="rbidle-$$-$mode"
  glance_runs="$d/glance.runs"
  : >"$glance_runs"
  cat >"$d/tmux.conf" <<EOF
set -g status-interval 5
set -g status-right '#(printf . >>$glance_runs; exec rbtui signal --station idle --db $d/a/history.db) %H:%M'
EOF
  local s
  for s in a b; do
    "${pin[@]}" tmux -L "$sock" -f "$d/tmux.conf" new-session -d -s "$s" -x 120 -y 40 \
      "exec rbtui --station idle --db $d/$s/history.db 2>$d/$s/err.log"
  done
  for s in a b; do
    "${pin[@]}" script -qfc "tmux -L $sock attach -t $s" /dev/null </dev/null >/dev/null 2>&1 &
    pids+=($!)
  done
  sleep "$settle"

  local tserver
  tserver=$(tmux -L "$sock" display -p '#{pid}')
  g_pids=()
  g_pids[broker]=$(descendants "$broker" | tr '\n' ' ')
  g_pids[rbd]=$rbd
  g_pids["rbtui serve"]=$serve
  g_pids["rbtui screen a"]=$(tmux -L "$sock" display -p -t a '#{pane_pid}')
  g_pids["rbtui screen b"]=$(tmux -L "$sock" display -p -t b '#{pane_pid}')
  g_pids[tmux]="$tserver $(tmux -L "$sock" list-clients -F '#{client_pid}' | tr '\n' ' ')"
  glance_per_run=$(glance_cost "$d/a/history.db")
  for s in a b; do
    grep -q . "$d/$s/err.log" 2>/dev/null && { echo "screen $s:"; cat "$d/$s/err.log"; }
    tmux -L "$sock" capture-pane -p -t "$s" | grep -q idle || { echo "screen $s does not show the station:"; tmux -L "$sock" capture-pane -p -t "$s"; exit 1; }
  done

  rows=()
  measure broker rbd "rbtui serve" "rbtui screen a" "rbtui screen b" tmux
  print_rows "$mode, broker: $brokerconf" "$mode"

  if [ -n "$chrome" ]; then
    "${pin[@]}" "$chrome" --headless=new --no-sandbox --disable-gpu --user-data-dir="$d/chrome" \
      "http://127.0.0.1:$web/" >/dev/null 2>&1 &
    local browser=$!
    pids+=($browser)
    sleep "$settle"
    rows=()
    g_pids["rbtui serve (1 idle browser)"]=$serve
    local saved=$glance_runs
    glance_runs=""
    measure "rbtui serve (1 idle browser)"
    glance_runs=$saved
    print_rows "$mode, rbtui serve with one idle browser" "$mode"
    kill "$browser" 2>/dev/null || true
  else
    echo "(no chromium: rbtui serve with a browser not measured)"
  fi

  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  tmux -L "$sock" kill-server 2>/dev/null || true
  wait 2>/dev/null || true
  pids=()
  sock=""
  glance_runs=""
  unset GOMAXPROCS
}

for m in $modes; do
  case $m in unpinned | one-core) ;; *) echo "unknown mode $m (unpinned, one-core)" >&2; exit 2 ;; esac
  run_station "$m"
done
