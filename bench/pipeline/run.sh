#!/usr/bin/env bash
# Measure the invalidation pipeline with `strata bench` (issue 7): reads
# through the edge with Zipf skew, price updates through the API, every read
# checked against the committed versions.
#
#   bash bench/pipeline/run.sh serve      # strata serve, embedded SQLite
#   bash bench/pipeline/run.sh scaleout   # 2 edges, 2 API instances, Redis, PostgreSQL
#
# Environment: DURATION (60s), PRODUCTS (10000), ZIPF (1.1), RATE (1 update/s),
# CONCURRENCY (8 readers in closed loops: on a small machine they take every
# CPU the servers would use).
set -euo pipefail
MODE=${1:-serve}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${DURATION:-60s}
PRODUCTS=${PRODUCTS:-10000}
ZIPF=${ZIPF:-1.1}
RATE=${RATE:-1}
CONCURRENCY=${CONCURRENCY:-8}
TMP=$(mktemp -d)
chmod 755 "$TMP"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ -n "${PGDATA:-}" ]; then as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true; fi
	rm -rf "$TMP"
}
trap cleanup EXIT
export STRATA_ADMIN_TOKEN=bench-token

free_port() {
	local p=$1
	while (echo >/dev/tcp/127.0.0.1/$p) 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}
# wait_line FILE TEXT: wait until a process's log shows its banner line.
wait_line() {
	for _ in $(seq 600); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1 # the process gives no other readiness signal to a shell
	done
	echo "timed out waiting for '$2' in $1:" >&2
	cat "$1" >&2
	return 1
}
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cd "$ROOT"
go build -o "$TMP/strata" ./cmd/strata
S="$TMP/strata"
echo "# bash bench/pipeline/run.sh $MODE   ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs; DURATION=$DURATION PRODUCTS=$PRODUCTS ZIPF=$ZIPF RATE=$RATE CONCURRENCY=$CONCURRENCY)"

case "$MODE" in
serve)
	E=$(free_port 18080); A=$(free_port 18180); M=$(free_port 19090)
	"$S" serve -data-dir "$TMP/data" -edge-addr "127.0.0.1:$E" -api-addr "127.0.0.1:$A" -admin-addr "127.0.0.1:$M" \
		-seed-products "$PRODUCTS" -log-level warn >"$TMP/serve.log" 2>&1 &
	PIDS+=($!)
	wait_line "$TMP/serve.log" "admin "
	EDGE=http://127.0.0.1:$E API=http://127.0.0.1:$A ADMIN=http://127.0.0.1:$M METRICS=$ADMIN/metrics
	;;
scaleout)
	R=$(free_port 16379)
	redis-server --port "$R" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" --logfile "$TMP/redis.log" &
	PIDS+=($!)
	for _ in $(seq 100); do redis-cli -p "$R" ping >/dev/null 2>&1 && break; sleep 0.05; done
	PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
	PGDATA="$TMP/pg"
	P=$(free_port 15432)
	mkdir -p "$PGDATA" && [ "$(id -u)" != 0 ] || chown postgres "$PGDATA"
	as_pg "$PGBIN/initdb" -D "$PGDATA" -U strata -A trust >/dev/null
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -o "-p $P -k $PGDATA -c listen_addresses=127.0.0.1 -c fsync=off" -l "$PGDATA/log" -w start >/dev/null
	DSN="postgres://strata@127.0.0.1:$P/postgres?sslmode=disable"
	A1=$(free_port 18181); A2=$(free_port $((A1 + 1))); M1=$(free_port 19191); M2=$(free_port $((M1 + 1)))
	E1=$(free_port 18081); E2=$(free_port $((E1 + 1))); N1=$(free_port 19291); N2=$(free_port $((N1 + 1)))
	"$S" api -db "$DSN" -redis "redis://127.0.0.1:$R" -listen "127.0.0.1:$A1" -admin-addr "127.0.0.1:$M1" -node api1 \
		-data-dir "$TMP/a1" -seed-products "$PRODUCTS" -log-level warn >"$TMP/api1.log" 2>&1 &
	PIDS+=($!)
	wait_line "$TMP/api1.log" "node "
	"$S" api -db "$DSN" -redis "redis://127.0.0.1:$R" -listen "127.0.0.1:$A2" -admin-addr "127.0.0.1:$M2" -node api2 \
		-data-dir "$TMP/a2" -log-level warn >"$TMP/api2.log" 2>&1 &
	PIDS+=($!)
	wait_line "$TMP/api2.log" "node "
	for i in 1 2; do
		eval "ep=\$E$i ap=\$A$i np=\$N$i"
		"$S" edge -origin "http://127.0.0.1:$ap" -listen "127.0.0.1:$ep" -admin-addr "127.0.0.1:$np" -node "edge$i" \
			-redis "redis://127.0.0.1:$R" -data-dir "$TMP/e$i" -log-level warn >"$TMP/edge$i.log" 2>&1 &
		PIDS+=($!)
		wait_line "$TMP/edge$i.log" "node "
	done
	# Reads go through edge 1 (in front of API 1), updates through API 2:
	# every invalidation has to cross the shared bus.
	EDGE=http://127.0.0.1:$E1 API=http://127.0.0.1:$A2 ADMIN=http://127.0.0.1:$N1
	METRICS=http://127.0.0.1:$M1/metrics,http://127.0.0.1:$M2/metrics
	;;
*)
	echo "usage: $0 serve|scaleout" >&2
	exit 2
	;;
esac

"$S" bench -edge "$EDGE" -api "$API" -admin "$ADMIN" -metrics "$METRICS" -duration "$DURATION" \
	-products "$PRODUCTS" -zipf "$ZIPF" -update-rate "$RATE" -concurrency "$CONCURRENCY" -warmup
