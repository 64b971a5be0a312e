#!/usr/bin/env bash
# Resident memory of `strata edge` under more distinct objects than fit.
#
# Starts the bench origin and strata edge with a memory budget
# (-edge-max-bytes, default 64 MiB), then requests random distinct
# 16 KiB objects with wrk for DURATION (every request a miss that fills
# the cache, so the store keeps evicting), and reports the peak resident
# memory (VmHWM) as a ratio of the budget, and the request rate.
#
#   bash bench/peers/memory.sh                 # BUDGET=67108864 DURATION=20s SIZE=16k
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BUDGET=${BUDGET:-67108864}
DURATION=${DURATION:-20s}
SIZE=${SIZE:-16k}
if ! command -v wrk >/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >/dev/null
	else
		echo "memory.sh: wrk is missing (apt-get install wrk)" >&2
		exit 1
	fi
fi
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
go build -o "$tmp/origin" ./bench/peers/origin
go build -o "$tmp/strata" ./cmd/strata
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
op=$(port); ep=$(port); ap=$(port)
"$tmp/origin" -listen "127.0.0.1:$op" >"$tmp/origin.log" 2>&1 & pids+=($!)
"$tmp/strata" edge -origin "http://127.0.0.1:$op" -listen "127.0.0.1:$ep" -admin-addr "127.0.0.1:$ap" \
	-admin-token bench -data-dir "$tmp/data" -edge-max-bytes "$BUDGET" ${STRATA_ARGS:-} >"$tmp/strata.log" 2>&1 & spid=$!; pids+=($spid)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$ep/obj/1k/0" && break; sleep 0.1; done
cat >"$tmp/uniq.lua" <<LUA
request = function() return wrk.format("GET", "/obj/$SIZE/" .. math.random(1, 1000000000)) end
LUA
out=$(wrk -t2 -c32 -d"$DURATION" -s "$tmp/uniq.lua" "http://127.0.0.1:$ep")
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$spid/status")
stored=$(curl -sf -H "Authorization: Bearer bench" "http://127.0.0.1:$ap/metrics" | awk '/^strata_edge_requests_total/ {n+=$2} END {print n+0}')
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')  nproc: $(nproc)  command: BUDGET=$BUDGET DURATION=$DURATION SIZE=$SIZE${STRATA_ARGS:+ STRATA_ARGS=\"$STRATA_ARGS\"} bash bench/peers/memory.sh"
echo "| budget MiB | object | requests | req/s | peak RSS MiB | RSS / budget |"
echo "|---:|---|---:|---:|---:|---:|"
awk -v b="$BUDGET" -v h="$hwm_kb" -v r="$rps" -v n="$stored" -v s="$SIZE" \
	'BEGIN { printf "| %.0f | %s | %d | %s | %.1f | %.2f |\n", b/1048576, s, n, r, h/1024, (h*1024)/b }'
