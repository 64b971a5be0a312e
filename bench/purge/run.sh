#!/usr/bin/env bash
# Measure purges across strata edge processes on a private redis-server
# (see main.go).
#
#   bash bench/purge/run.sh                          # 1 000 000 objects, 3 nodes
#   bash bench/purge/run.sh -objects 100000          # flags go to the program
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d)
PORT=${PORT:-18379}
while (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; do PORT=$((PORT + 1)); done
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" --daemonize no \
	--logfile "$TMP/redis.log" </dev/null >/dev/null 2>&1 &
REDIS_PID=$!
DRIVER_PID=
# The driver stops its nodes when it gets SIGTERM (and they die with it).
cleanup() {
	set +e # every step runs, whatever the one before did
	[[ -n $DRIVER_PID ]] && kill "$DRIVER_PID" 2>/dev/null && wait "$DRIVER_PID" 2>/dev/null
	kill "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for _ in $(seq 100); do
	redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
	sleep 0.05 # redis gives no readiness signal to a shell
done
cd "$ROOT"
go build -o "$TMP/strata" ./cmd/strata
go build -o "$TMP/purge" ./bench/purge
echo "# bash bench/purge/run.sh $*   ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, redis $(redis-server --version | awk '{print $3}'), $(git describe --always --dirty))"
# In the background, so that the traps run while it does.
"$TMP/purge" -strata "$TMP/strata" -redis "redis://127.0.0.1:$PORT" "$@" &
DRIVER_PID=$!
wait $DRIVER_PID
