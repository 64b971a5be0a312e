#!/usr/bin/env bash
# Strata's application cache vs go-redis/cache, on one redis-server that the
# tests start themselves (redis-server must be on PATH). Runs the counting
# comparisons (loader calls, stale reads, the stale-set race), then the hit
# benchmarks, and prints go-redis/cache / strata ratios (>1 favours strata).
#
#   bash bench/appcache/run.sh                     # ROUNDS=5, about 5 minutes
#   ROUNDS=1 SHORT=1 bash bench/appcache/run.sh    # quick look
#
# The benchmarks run as ROUNDS separate `-count 1` runs rather than one
# `-count ROUNDS` run, which would repeat each library's benchmark ROUNDS
# times in a row: on a shared, noisy machine alternating the libraries keeps
# a slow minute from landing on one of them only. Each round starts its own
# redis-server and warms it again.
#
# Outputs are kept in $OUT (default: a temp dir) for benchstat:
#   go run golang.org/x/perf/cmd/benchstat@latest -col /lib $OUT/bench.txt
set -euo pipefail

ROUNDS=${ROUNDS:-5}
BENCHTIME=${BENCHTIME:-1s}
SHORT=${SHORT:-}
cd "$(dirname "$0")"
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/strata-appcache.XXXXXX")}
mkdir -p "$OUT"

command -v redis-server >/dev/null || {
	echo "run.sh: redis-server not found on PATH (apt-get install redis-server)" >&2
	exit 1
}
export STRATA_INTEGRATION=require

echo "# Application cache: strata vs go-redis/cache"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- nproc: $(nproc)  ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo unknown CPU))"
echo "- versions: strata $(git describe --always --dirty 2>/dev/null || echo unknown) ($(go env GOVERSION)), $(redis-server --version | awk '{ print $1, $3 }')," \
	"$(go list -m -f '{{.Path}} {{.Version}}' github.com/go-redis/cache/v9 github.com/redis/go-redis/v9 github.com/redis/rueidis | paste -sd, -)"
echo

CMP=(go test -run Compare -v -count 1 ${SHORT:+-short} .)
echo "## ${CMP[*]}"
echo
"${CMP[@]}" >"$OUT/compare.txt" 2>&1 || {
	cat "$OUT/compare.txt"
	echo "run.sh: the comparison tests failed (output in $OUT/compare.txt)" >&2
	exit 1
}
# The tables, without go test's own lines.
grep -vE '^(=== RUN|--- PASS|PASS|ok )' "$OUT/compare.txt" | sed -E 's/^    (compare_test.go:[0-9]+: )?//'
echo

BENCH=(go test -run '^$' -bench . -benchmem -count 1 -benchtime "$BENCHTIME" .)
echo "## ${BENCH[*]}  (x$ROUNDS)"
echo
: >"$OUT/bench.txt"
for ((r = 1; r <= ROUNDS; r++)); do
	"${BENCH[@]}" >"$OUT/bench-$r.txt" 2>&1 || {
		cat "$OUT/bench-$r.txt"
		echo "run.sh: the benchmarks failed (output in $OUT/bench-$r.txt)" >&2
		exit 1
	}
	cat "$OUT/bench-$r.txt" >>"$OUT/bench.txt"
done

# Median ns/op, B/op and allocs/op per benchmark and library, then the
# ratio go-redis-cache / strata per benchmark.
awk '
function median(list,   n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
/^Benchmark.*lib=/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	split(name, p, "/lib="); bench = p[1]; lib = p[2]
	sub(/^Benchmark/, "", bench)
	if (!(bench in seen)) { seen[bench] = 1; order[++nb] = bench }
	if (!(lib in seenlib)) { seenlib[lib] = 1; libs[++nl] = lib }
	for (i = 3; i < NF; i++) {
		if ($(i + 1) == "ns/op") ns[bench, lib] = ns[bench, lib] " " $i
		if ($(i + 1) == "B/op") by[bench, lib] = by[bench, lib] " " $i
		if ($(i + 1) == "allocs/op") al[bench, lib] = al[bench, lib] " " $i
	}
}
function human(v) {
	if (v >= 1e6) return sprintf("%.2f ms", v / 1e6)
	if (v >= 1e3) return sprintf("%.1f µs", v / 1e3)
	return sprintf("%.0f ns", v)
}
END {
	print "Medians of the rounds; ratio = go-redis/cache ÷ strata time (>1: strata is faster)."
	print ""
	print "| benchmark | strata | go-redis/cache | ratio | strata B/op, allocs | go-redis/cache B/op, allocs |"
	print "|---|---:|---:|---:|---:|---:|"
	for (k = 1; k <= nb; k++) {
		b = order[k]
		g = median(ns[b, "go-redis-cache"])
		for (l = 1; l <= nl; l++) {
			lib = libs[l]
			if (lib == "go-redis-cache" || !((b, lib) in ns)) continue
			s = median(ns[b, lib])
			printf "| %s%s | %s | %s | %.2f | %d, %d | %d, %d |\n", b, (lib == "strata" ? "" : " (" lib ")"), human(s), human(g), (s > 0 ? g / s : 0),
				median(by[b, lib]), median(al[b, lib]), median(by[b, "go-redis-cache"]), median(al[b, "go-redis-cache"])
		}
	}
}' "$OUT/bench.txt"
echo
echo "(raw output: $OUT/bench.txt, $OUT/compare.txt)"
