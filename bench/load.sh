#!/usr/bin/env bash
# Load test over loopback with wrk, servers on CPU 0 and wrk on CPU 1:
#   1. an authenticated GET / on examples/basic (cookie sessions) against a
#      bare net/http hello handler with the same Cookie header;
#   2. store mode: an authenticated GET /profile (a page that reads the
#      session and does not change it) on the redisstore module's
#      examples/custom-session-store, with sessions in a redis-server
#      started here on a free port, against the cookie-mode figure of the
#      same run. Redis runs on CPU 1 by default, beside wrk, as a store on
#      another machine would: the application's core does the
#      application's work only, as in the cookie-mode run. REDIS_CPU=0
#      puts it on the application's core instead.
#
#   bash bench/load.sh            # 10 s per target
#   DURATION=30s bash bench/load.sh
#   STORE=0 bash bench/load.sh    # cookie mode only
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
STORE=${STORE:-1}
REDIS_CPU=${REDIS_CPU:-1}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }
if [ "$STORE" = 1 ]; then
  command -v redis-server >/dev/null || { echo "redis-server is required (apt-get install redis-server), or STORE=0"; exit 1; }
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# freeport prints a loopback TCP port nobody listens on, from 20000 up.
freeport() {
  local p
  for p in $(seq "${1:-20000}" 20999); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "no free port" >&2; exit 1
}
waitfor() { # url
  for _ in $(seq 100); do curl -s -o /dev/null "$1" && return; sleep 0.1; done
  echo "$1 did not start" >&2; exit 1
}

go build -o "$tmp/basic" ./examples/basic
go build -o "$tmp/bare" ./bench/cmd/bare
go build -o "$tmp/login" ./bench/cmd/login
if [ "$STORE" = 1 ]; then (cd redisstore && go build -o "$tmp/store" ./examples/custom-session-store); fi

basic_port=$(freeport 20100)
(cd "$tmp" && PORT=$basic_port DEV_PROVIDER_AUTOLOGIN=true exec taskset -c 0 ./basic >"$tmp/basic.log" 2>&1) & pids+=($!)
bare_port=$(freeport 20200)
(cd "$tmp" && PORT=$bare_port exec taskset -c 0 ./bare >"$tmp/bare.log" 2>&1) & pids+=($!)
waitfor "http://localhost:$basic_port/"
waitfor "http://localhost:$bare_port/"
cookie=$("$tmp/login" "http://localhost:$basic_port/")

if [ "$STORE" = 1 ]; then
  redis_port=$(freeport 20300)
  taskset -c "$REDIS_CPU" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --logfile "$tmp/redis.log" & pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  store_port=$(freeport 20400)
  (cd "$tmp" && PORT=$store_port DEV_PROVIDER_AUTOLOGIN=true REDIS_URL="redis://127.0.0.1:$redis_port/0" \
    exec taskset -c 0 ./store >"$tmp/store.log" 2>&1) & pids+=($!)
  waitfor "http://localhost:$store_port/profile"
  store_cookie=$("$tmp/login" "http://localhost:$store_port/")
fi

run() { # name url [cookie]
  local out
  if [ -n "${3:-}" ]; then
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" --latency -H "Cookie: $3" "$2")
  else
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$2")
  fi
  local rps p50 p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  echo "$out" | grep -q "Non-2xx" && { echo "$1: non-2xx responses"; echo "$out"; exit 1; }
  printf '%-36s %10s req/s   p50 %8s   p99 %8s\n' "$1" "$rps" "$p50" "$p99" >&2
  echo "$rps"
}
# The bare handler gets the same request bytes (Cookie header included), so
# the ratio measures the middleware, not the larger request.
bare=$(run "bare net/http hello" "http://localhost:$bare_port/" "$cookie")
auth=$(run "examples/basic, logged in" "http://localhost:$basic_port/" "$cookie")
awk -v a="$auth" -v b="$bare" 'BEGIN { printf "ratio authenticated/bare: %.2f\n", a/b }' >&2
if [ "$STORE" = 1 ]; then
  # calls prints how often redis ran a command (get, set, del).
  calls() { redis-cli -p "$redis_port" info commandstats | awk -F'[:=,]' -v c="cmdstat_$1" '$1==c {n=$3} END {print n+0}'; }
  gets0=$(calls get) sets0=$(calls set)
  store=$(run "custom-session-store (redis) /profile" "http://localhost:$store_port/profile" "$store_cookie")
  gets=$(( $(calls get) - gets0 )) sets=$(( $(calls set) - sets0 ))
  awk -v s="$store" -v a="$auth" 'BEGIN { printf "ratio store/cookie: %.2f\n", s/a }' >&2
  # A request that does not change the session reads the entry once and
  # writes nothing (until Session.TouchInterval, 1 minute, is due).
  echo "redis during the store run: $gets GET, $sets SET" >&2
fi
