#!/usr/bin/env bash
# Installs the servers that the integration tests start themselves
# (internal/testenv): redis-server, redis-cli (for the test Redis Cluster)
# and PostgreSQL's initdb/pg_ctl.
#
# Idempotent and silent when everything is present. As root it installs the
# missing Debian packages; otherwise it prints what to install and fails only
# when STRATA_INTEGRATION=require. It never starts services: the tests start
# private servers on free loopback ports.
set -euo pipefail

have_redis() {
	command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ]
}

have_redis_cli() {
	command -v redis-cli >/dev/null 2>&1 || [ -x /usr/bin/redis-cli ]
}

have_postgres() {
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		return 0
	fi
	local d
	for d in /usr/lib/postgresql/*/bin; do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			return 0
		fi
	done
	return 1
}

missing=()
have_redis || missing+=(redis-server)
have_redis_cli || missing+=(redis-tools) # redis-cli joins the test Redis Cluster
have_postgres || missing+=(postgresql)

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "${EUID:-$(id -u)}" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: installing ${missing[*]}" >&2
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	if ! have_redis || ! have_redis_cli || ! have_postgres; then
		echo "install-test-deps: ${missing[*]} still missing after apt-get install" >&2
		exit 1
	fi
	exit 0
fi

echo "install-test-deps: missing ${missing[*]}; install with: sudo apt-get install redis-server redis-tools postgresql" >&2
if [ "${STRATA_INTEGRATION:-}" = "require" ]; then
	echo "install-test-deps: STRATA_INTEGRATION=require is set, so this is an error" >&2
	exit 1
fi
echo "install-test-deps: integration tests will be skipped" >&2
exit 0
