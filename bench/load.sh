#!/usr/bin/env bash
# Load test: an authenticated GET / on examples/basic against a bare net/http
# hello handler, with wrk over loopback. Servers run on CPU 0, wrk on CPU 1.
#
#   bash bench/load.sh            # 10 s per target
#   DURATION=30s bash bench/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

go build -o "$tmp/basic" ./examples/basic
go build -o "$tmp/bare" ./bench/cmd/bare
go build -o "$tmp/login" ./bench/cmd/login

(cd "$tmp" && PORT=3901 DEV_PROVIDER_AUTOLOGIN=true exec taskset -c 0 ./basic >"$tmp/basic.log" 2>&1) & pids+=($!)
(cd "$tmp" && PORT=3902 exec taskset -c 0 ./bare >"$tmp/bare.log" 2>&1) & pids+=($!)
for port in 3901 3902; do
  for _ in $(seq 50); do curl -s -o /dev/null "http://localhost:$port/" && break; sleep 0.1; done
done
cookie=$("$tmp/login" http://localhost:3901/)

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
  printf '%-28s %10s req/s   p50 %8s   p99 %8s\n' "$1" "$rps" "$p50" "$p99" >&2
  echo "$rps"
}
# The bare handler gets the same request bytes (Cookie header included), so
# the ratio measures the middleware, not the larger request.
bare=$(run "bare net/http hello" http://localhost:3902/ "$cookie")
auth=$(run "examples/basic, logged in" http://localhost:3901/ "$cookie")
awk -v a="$auth" -v b="$bare" 'BEGIN { printf "ratio authenticated/bare: %.2f\n", a/b }' >&2
