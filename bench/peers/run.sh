#!/usr/bin/env bash
# Compare `strata edge` with nginx (proxy_cache, proxy_cache_lock on) and
# Varnish (malloc storage), all in front of the same local origin, measured
# with wrk on loopback. See bench/peers/README.md.
#
#   bash bench/peers/run.sh                      # DURATION=10s ROUNDS=2
#   DURATION=5s ROUNDS=1 bash bench/peers/run.sh
#
# Progress goes to stderr, the Markdown report to stdout. Every server is
# started from a temp dir, listens on 127.0.0.1 only and is stopped on exit.
set -euo pipefail

# The invocation as typed, with the settings that came from the environment.
SET_ENV=""
for v in DURATION ROUNDS SIZES URLS CONNS THREADS HERD SLOW_MS PORT_BASE SERVER_CPUS WRK_CPUS STRATA_ARGS VARNISH_JAIL KEEP_TMP; do
	[[ -z ${!v+x} ]] || SET_ENV+="$v=$(printf '%q' "${!v}") "
done
CMDLINE="${SET_ENV}bash $(printf '%q ' "$0" "$@")"
CMDLINE=${CMDLINE% }

DURATION=${DURATION:-10s}     # wrk -d per run
ROUNDS=${ROUNDS:-2}           # rounds per size; the server order rotates each round
SIZES=${SIZES:-"1k 16k 256k"} # object sizes
URLS=${URLS:-16}              # distinct URLs per size, rotated through by wrk
CONNS=${CONNS:-64}            # wrk -c
THREADS=${THREADS:-2}         # wrk -t
HERD=${HERD:-200}             # concurrent clients in the thundering-herd test
SLOW_MS=${SLOW_MS:-100}       # origin delay of /slow/ responses, in ms
PORT_BASE=${PORT_BASE:-18100} # first port tried; free ports are picked upward
SERVER_CPUS=${SERVER_CPUS:-}  # optional taskset CPU list for the caches, e.g. 1
WRK_CPUS=${WRK_CPUS:-}        # optional taskset CPU list for wrk, e.g. 0
KEEP_TMP=${KEEP_TMP:-0}       # 1 keeps the temp dir (configs, logs, raw wrk output)
STRATA_ARGS=${STRATA_ARGS:-}  # extra strata edge flags, e.g. -fast-hits=false

SERVERS=(strata nginx varnish)
ENVLINE="DURATION=$DURATION ROUNDS=$ROUNDS SIZES=\"$SIZES\" URLS=$URLS CONNS=$CONNS THREADS=$THREADS HERD=$HERD SLOW_MS=$SLOW_MS"
[[ -n $SERVER_CPUS ]] && ENVLINE+=" SERVER_CPUS=$SERVER_CPUS"
[[ -n $WRK_CPUS ]] && ENVLINE+=" WRK_CPUS=$WRK_CPUS"
[[ -n $STRATA_ARGS ]] && ENVLINE+=" STRATA_ARGS=\"$STRATA_ARGS\""
START_DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH="$PATH:/usr/sbin:/sbin"

log() { printf '[%s] %s\n' "$(date '+%H:%M:%S')" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
[[ $URLS =~ ^[1-9][0-9]*$ ]] || die "URLS must be a positive integer, got '$URLS'"
[[ $SLOW_MS =~ ^[1-9][0-9]*$ ]] || die "SLOW_MS must be a positive integer, got '$SLOW_MS'"

# ---------------------------------------------------------------- packages

need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx)
command -v varnishd >/dev/null 2>&1 || need+=(varnish)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v curl >/dev/null 2>&1 || need+=(curl)
if ((${#need[@]})); then
	if [[ $EUID -ne 0 ]]; then
		die "missing packages: ${need[*]} (run as root to install them, or apt-get install them)"
	fi
	log "installing ${need[*]}"
	apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi
command -v go >/dev/null 2>&1 || die "go is not on PATH"

# ---------------------------------------------------------------- temp dir, cleanup

TMP=$(mktemp -d "${TMPDIR:-/tmp}/strata-peers.XXXXXX")
PIDS=()
NAMES=()

stop_all() {
	local i pid n
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${PIDS[i]}" 2>/dev/null || true
	done
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		pid=${PIDS[i]}
		for ((n = 0; n < 100; n++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "${NAMES[i]} (pid $pid) ignored SIGTERM for 10s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
	NAMES=()
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	stop_all
	if ((rc != 0)); then
		local f
		for f in "$TMP"/*.log "$TMP"/nginx/error.log; do
			[[ -s $f ]] || continue
			printf '\n--- tail of %s ---\n' "$f" >&2
			tail -n 20 "$f" >&2
		done
		log "failed (exit $rc); temp dir kept: $TMP"
	elif [[ $KEEP_TMP == 1 ]]; then
		log "temp dir kept: $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- build

log "building origin, herd and strata into $TMP"
(
	cd "$ROOT"
	go build -o "$TMP/origin" ./bench/peers/origin
	go build -o "$TMP/herd" ./bench/peers/herd
	go build -o "$TMP/strata" ./cmd/strata
) >&2 || die "go build failed"

# ---------------------------------------------------------------- ports

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_port() {
	local p=$1
	while ! port_free "$p"; do
		p=$((p + 1))
		((p < 65535)) || die "no free port above $1"
	done
	echo "$p"
}
ORIGIN_PORT=$(next_port "$PORT_BASE")
STRATA_PORT=$(next_port $((ORIGIN_PORT + 1)))
STRATA_ADMIN_PORT=$(next_port $((STRATA_PORT + 1)))
NGINX_PORT=$(next_port $((STRATA_ADMIN_PORT + 1)))
VARNISH_PORT=$(next_port $((NGINX_PORT + 1)))
ORIGIN=http://127.0.0.1:$ORIGIN_PORT

declare -A PORT=([strata]=$STRATA_PORT [nginx]=$NGINX_PORT [varnish]=$VARNISH_PORT)
base_url() { echo "http://127.0.0.1:${PORT[$1]}"; }

# ---------------------------------------------------------------- configs

mkdir -p "$TMP/nginx/cache" "$TMP/nginx/tmp" "$TMP/strata-data"
NGINX_USER=""
# As root the nginx master would switch its workers to nobody, who cannot
# enter the private temp dir.
[[ $EUID -eq 0 ]] && NGINX_USER="user root;"
cat >"$TMP/nginx/nginx.conf" <<EOF
$NGINX_USER
daemon off;
master_process on;
worker_processes auto;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65s;
    # The default (1000) would close each wrk connection every 1000
    # requests; strata and Varnish keep connections open indefinitely.
    keepalive_requests 1000000;

    client_body_temp_path $TMP/nginx/tmp/body;
    proxy_temp_path $TMP/nginx/tmp/proxy;
    fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
    uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
    scgi_temp_path $TMP/nginx/tmp/scgi;

    proxy_cache_path $TMP/nginx/cache levels=1:2 keys_zone=bench:32m
                     max_size=256m inactive=1h use_temp_path=off;

    upstream origin {
        server 127.0.0.1:$ORIGIN_PORT;
        keepalive 64;
    }

    server {
        listen 127.0.0.1:$NGINX_PORT;

        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache bench;
            proxy_cache_key \$scheme\$host\$request_uri;
            # No proxy_cache_valid: freshness comes from the origin's
            # Cache-Control only, as with strata and Varnish.
            proxy_cache_lock on;
            add_header X-Cache-Status \$upstream_cache_status always;
        }
    }
}
EOF

cat >"$TMP/rotate.lua" <<'EOF'
-- Cycles through URLS distinct /obj/SIZE/N paths: wrk ... -- SIZE URLS
local paths = {}
local i = 0

function init(args)
  local size = args[1] or "1k"
  local n = tonumber(args[2] or "16")
  for k = 0, n - 1 do
    paths[#paths + 1] = "/obj/" .. size .. "/" .. k
  end
  i = math.random(0, n - 1)
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
EOF

# ---------------------------------------------------------------- start servers

# with_cpus: prefix a command with taskset when a CPU list is set; taskset
# execs the command, so $! stays the server's own pid.
with_cpus() { # cpus cmd... -> sets CMD
	local cpus=$1
	shift
	CMD=("$@")
	[[ -z $cpus ]] || CMD=(taskset -c "$cpus" "$@")
}

start() { # name cmd...
	local name=$1
	shift
	with_cpus "$SERVER_CPUS" "$@"
	"${CMD[@]}" >"$TMP/$name.log" 2>&1 &
	PIDS+=($!)
	NAMES+=("$name")
	eval "PID_$name=$!"
}

wait_ready() { # name url
	local name=$1 url=$2 pidvar="PID_$1" n
	for ((n = 0; n < 300; n++)); do
		if curl -s -o /dev/null --max-time 1 "$url"; then
			return 0
		fi
		kill -0 "${!pidvar}" 2>/dev/null || die "$name exited during start-up (log: $TMP/$name.log)"
		sleep 0.1
	done
	die "$name not answering at $url after 30s"
}

log "origin :$ORIGIN_PORT  strata :$STRATA_PORT (admin :$STRATA_ADMIN_PORT)  nginx :$NGINX_PORT  varnish :$VARNISH_PORT"
start origin "$TMP/origin" -listen "127.0.0.1:$ORIGIN_PORT" -slow "${SLOW_MS}ms"
wait_ready origin "$ORIGIN/_ready"

start strata "$TMP/strata" edge -origin "$ORIGIN" -listen "127.0.0.1:$STRATA_PORT" \
	-admin-addr "127.0.0.1:$STRATA_ADMIN_PORT" -admin-token bench \
	-data-dir "$TMP/strata-data" -edge-max-bytes 268435456 $STRATA_ARGS
start nginx nginx -p "$TMP/nginx/" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log"
# -T none: no management CLI port. The default jail (-j unix) works as root
# on Debian (it switches to the varnish/vcache users); VARNISH_JAIL=none runs
# everything as the invoking user instead.
VARNISH_ARGS=(-F -a "127.0.0.1:$VARNISH_PORT" -b "127.0.0.1:$ORIGIN_PORT" -s "malloc,256m" -n "$TMP/varnish" -T none)
[[ -n ${VARNISH_JAIL:-} ]] && VARNISH_ARGS+=(-j "$VARNISH_JAIL")
start varnish varnishd "${VARNISH_ARGS[@]}"

for s in "${SERVERS[@]}"; do
	wait_ready "$s" "$(base_url "$s")/_ready"
done
log "all servers up"

# ---------------------------------------------------------------- helpers

size_bytes() {
	local s=$1
	case $s in
	*[kK]) echo $((${s%?} * 1024)) ;;
	*[mM]) echo $((${s%?} * 1024 * 1024)) ;;
	*) echo $((s)) ;;
	esac
}

origin_count() { # path -> requests the origin saw for it
	curl -sf --max-time 5 "$ORIGIN/_stats?path=$1" | sed -nE 's/.*"count":([0-9]+).*/\1/p'
}
origin_obj_total() {
	curl -sf --max-time 5 "$ORIGIN/_stats" | sed -nE 's/.*"obj":([0-9]+).*/\1/p'
}

is_hit() { # server; headers on stdin
	case $1 in
	strata) grep -qi '^X-Cache: Hit from strata' ;;
	nginx) grep -qi '^X-Cache-Status: HIT' ;;
	varnish) grep -Eqi '^X-Varnish: [0-9]+ [0-9]+' ;;
	esac
}

warm() { # server size
	local s=$1 size=$2 base n hdrs got want try
	base=$(base_url "$s")
	want=$(size_bytes "$size")
	for ((n = 0; n < URLS; n++)); do
		curl -sf -o /dev/null --max-time 10 "$base/obj/$size/$n" || die "$s: warming $base/obj/$size/$n failed"
	done
	for ((n = 0; n < URLS; n++)); do
		for try in 1 2 3 4 5; do
			hdrs=$(curl -sf -o /dev/null -D - -w 'size_download=%{size_download}\n' --max-time 10 "$base/obj/$size/$n") ||
				die "$s: $base/obj/$size/$n failed"
			got=$(sed -n 's/^size_download=//p' <<<"$hdrs")
			[[ $got == "$want" ]] || die "$s: $base/obj/$size/$n returned $got bytes, want $want"
			if is_hit "$s" <<<"$hdrs"; then
				[[ $try == 1 ]] || log "$s: /obj/$size/$n became a hit only on check $try"
				break
			fi
			if [[ $try == 5 ]]; then
				printf '%s\n' "$hdrs" >&2
				die "$s: /obj/$size/$n is not a cache hit after warming"
			fi
			sleep 0.2
		done
	done
}

# to_ms: a wrk duration (812.00us, 3.21ms, 1.02s, 1.50m) in milliseconds.
# shellcheck disable=SC2016 # awk code, expanded by awk
WRK_AWK='
function to_ms(v,   n, u) {
	n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
	if (u == "us") return n / 1000
	if (u == "ms") return n
	if (u == "s")  return n * 1000
	if (u == "m")  return n * 60000
	if (u == "h")  return n * 3600000
	return ""
}
/^Requests\/sec:/ { rps = $2 }
/Latency Distribution/ { dist = 1; next }
dist && $1 == "99%" { p99 = to_ms($2); dist = 0 }
/Non-2xx or 3xx responses:/ { bad += $NF }
/Socket errors:/ { for (i = 3; i <= NF; i++) { v = $i; gsub(/,/, "", v); if (v ~ /^[0-9]+$/) bad += v } }
END { printf "%s %s %d\n", (rps == "" ? "NA" : rps), (p99 == "" ? "NA" : p99), bad }
'

RESULTS=$TMP/results.txt
: >"$RESULTS"

run_wrk() { # server size round
	local s=$1 size=$2 round=$3 out before after parsed rps p99 bad
	out=$TMP/wrk-$s-$size-$round.txt
	before=$(origin_obj_total)
	log "wrk $s $size round $round"
	with_cpus "$WRK_CPUS" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$TMP/rotate.lua" \
		"$(base_url "$s")" -- "$size" "$URLS"
	"${CMD[@]}" >"$out" 2>&1 || {
		cat "$out" >&2
		die "wrk failed against $s"
	}
	after=$(origin_obj_total)
	parsed=$(awk "$WRK_AWK" "$out")
	read -r rps p99 bad <<<"$parsed"
	if [[ $rps == NA || $p99 == NA ]]; then
		cat "$out" >&2
		die "could not parse wrk output for $s $size"
	fi
	((bad == 0)) || log "warning: $s $size: $bad non-2xx responses or socket errors (see $out)"
	log "  $s $size: $rps req/s, p99 ${p99}ms, origin requests during run: $((after - before))"
	echo "$s $size $round $rps $p99 $((after - before)) $bad" >>"$RESULTS"
}

median() { # numbers on stdin
	sort -g | awk '{ a[NR] = $1 } END {
		if (NR == 0) { print "NA"; exit }
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# order for round r (1-based): the words after r (SERVERS by default)
# rotated left by r-1
order() {
	local r=$1 i
	shift
	local items=("$@")
	((${#items[@]})) || items=("${SERVERS[@]}")
	local n=${#items[@]}
	for ((i = 0; i < n; i++)); do
		printf '%s ' "${items[(i + r - 1) % n]}"
	done
}

# ---------------------------------------------------------------- hit throughput

for size in $SIZES; do
	for s in "${SERVERS[@]}"; do
		warm "$s" "$size"
	done
	log "warmed $URLS URLs of $size on every server; all hits"
	for ((round = 1; round <= ROUNDS; round++)); do
		for s in $(order "$round"); do
			run_wrk "$s" "$size" "$round"
		done
	done
done

# ---------------------------------------------------------------- thundering herd

HERD_RESULTS=$TMP/herd.txt
: >"$HERD_RESULTS"
for ((round = 1; round <= ROUNDS; round++)); do
	# The floor takes its turn in the rotation with the servers (with
	# ROUNDS at least 4, every place in the order).
	for s in $(order "$round" "${SERVERS[@]}" floor); do
		if [[ $s == floor ]]; then
			# The origin itself holds the herd for SLOW_MS and answers
			# everyone at once (/gate/), as a perfect collapsing cache
			# would; what the herd client measures there is this
			# machine's and client's share.
			key="herd-floor-$round-$$-$RANDOM$RANDOM"
			log "herd: $HERD clients -> origin /gate/$key (floor)"
			line=$("$TMP/herd" -url "$ORIGIN/gate/$key" -n "$HERD") || die "herd client failed against the origin's gate"
			log "  floor: $line"
			echo "$round floor - $line" >>"$HERD_RESULTS"
			continue
		fi
		key="herd-$s-$round-$$-$RANDOM$RANDOM"
		case $s in
		strata) tally=(-tally X-Cache) ;;
		nginx) tally=(-tally X-Cache-Status) ;;
		varnish) tally=(-tally X-Varnish -tally-fields) ;;
		esac
		log "herd: $HERD clients -> $s /slow/$key"
		line=$("$TMP/herd" -url "$(base_url "$s")/slow/$key" -n "$HERD" "${tally[@]}") ||
			die "herd client failed against $s"
		sleep 0.5 # let any straggling origin fetches land before counting
		count=$(origin_count "/slow/$key")
		[[ -n $count ]] || die "could not read origin stats"
		log "  $s: origin requests $count; $line"
		echo "$round $s $count $line" >>"$HERD_RESULTS"
	done
done

stop_all

# ---------------------------------------------------------------- report

field() { # key line -> value of key=value
	local k=$1 w
	for w in $2; do
		[[ $w == "$k="* ]] && {
			echo "${w#*=}"
			return
		}
	done
	echo NA
}
fmt() { awk -v v="$1" -v d="${2:-0}" 'BEGIN { if (v == "NA" || v == "") print "NA"; else printf "%.*f\n", d, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || b == 0) print "NA"; else printf "%.2f\n", a / b }'; }

STRATA_REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
NGINX_V=$(nginx -v 2>&1 | sed 's/.*nginx\///')
VARNISH_V=$(varnishd -V 2>&1 | sed -nE 's/.*varnish-([^ ]+).*/\1/p' | head -n1 || true)
WRK_V=$(wrk -v 2>&1 | head -n1 | awk '{ print $2 }' || true)

echo "# strata edge vs nginx vs Varnish"
echo
echo "- command: \`$CMDLINE\`"
echo "- settings: \`$ENVLINE\`"
echo "- date: $START_DATE"
echo "- nproc: $(nproc)  ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo unknown CPU))"
echo "- versions: strata $STRATA_REV ($(go env GOVERSION)), nginx $NGINX_V, varnish $VARNISH_V, wrk $WRK_V"
echo "- load: \`wrk -t$THREADS -c$CONNS -d$DURATION --latency\` rotating over $URLS warmed URLs per size;" \
	"server order rotates each round; wrk, the caches and the origin share the same $(nproc) CPUs on loopback"
echo
echo "## Cache-hit throughput (median of $ROUNDS round(s))"
echo
echo "| size | server | req/s | p99 ms | req/s per round | p99 ms per round | origin reqs during runs | errors |"
echo "|---|---|---:|---:|---|---|---:|---:|"
declare -A RPS P99
for size in $SIZES; do
	for s in "${SERVERS[@]}"; do
		rows=$(awk -v s="$s" -v z="$size" '$1 == s && $2 == z' "$RESULTS")
		RPS[$s,$size]=$(awk '{ print $4 }' <<<"$rows" | median)
		P99[$s,$size]=$(awk '{ print $5 }' <<<"$rows" | median)
		per_rps=$(awk '{ printf "%s%.0f", (NR > 1 ? ", " : ""), $4 }' <<<"$rows")
		per_p99=$(awk '{ printf "%s%.2f", (NR > 1 ? ", " : ""), $5 }' <<<"$rows")
		origin=$(awk '{ n += $6 } END { print n + 0 }' <<<"$rows")
		errs=$(awk '{ n += $7 } END { print n + 0 }' <<<"$rows")
		echo "| $size | $s | $(fmt "${RPS[$s,$size]}") | $(fmt "${P99[$s,$size]}" 2) | $per_rps | $per_p99 | $origin | $errs |"
	done
done
echo
echo "## strata / best peer"
echo
echo "Throughput ratio > 1 and p99 ratio < 1 favour strata."
echo
echo "| size | strata req/s | best peer req/s | req/s ratio | strata p99 ms | best peer p99 ms | p99 ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for size in $SIZES; do
	best_r="" best_rs="" best_p="" best_ps=""
	for s in nginx varnish; do
		r=${RPS[$s,$size]} p=${P99[$s,$size]}
		if [[ $r != NA ]] && { [[ -z $best_r ]] || awk -v a="$r" -v b="$best_r" 'BEGIN { exit !(a > b) }'; }; then
			best_r=$r best_rs=$s
		fi
		if [[ $p != NA ]] && { [[ -z $best_p ]] || awk -v a="$p" -v b="$best_p" 'BEGIN { exit !(a < b) }'; }; then
			best_p=$p best_ps=$s
		fi
	done
	sr=${RPS[strata,$size]} sp=${P99[strata,$size]}
	echo "| $size | $(fmt "$sr") | $(fmt "${best_r:-NA}") ($best_rs) | $(ratio "$sr" "${best_r:-NA}") |" \
		"$(fmt "$sp" 2) | $(fmt "${best_p:-NA}" 2) ($best_ps) | $(ratio "$sp" "${best_p:-NA}") |"
done
echo
echo "## Thundering herd"
echo
echo "$HERD clients GET one fresh \`/slow/KEY\` at once (connections dialled beforehand); the origin takes ${SLOW_MS} ms."
echo "Ideal: 1 origin request and client p99 close to the origin delay."
echo
echo "| round | server | origin requests | ok / n | client p50 ms | p99 ms | max ms | p99 / origin delay | cache header tally |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---|"
while read -r round s count rest; do
	p99=$(field p99_ms "$rest")
	echo "| $round | $s | $count | $(field ok "$rest") / $(field n "$rest") | $(field p50_ms "$rest") | $p99 |" \
		"$(field max_ms "$rest") | $(ratio "$p99" "$SLOW_MS") | $(field tally "$rest" | sed 's/,/, /g') |"
done <"$HERD_RESULTS"
echo
echo "Tally headers: strata X-Cache, nginx X-Cache-Status, Varnish number of X-Varnish ids (2 = served from cache or coalesced)."
echo "floor: the origin answers the herd itself, all at once after ${SLOW_MS} ms ("'`/gate/KEY`'"): what a perfect collapsing cache could get on this machine with this client."
