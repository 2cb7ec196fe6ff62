#!/usr/bin/env bash
# Benchmark of org-scale scanning (make bench-org): an organisation of N
# generated repositories (default 50) served on loopback as GitHub serves
# one (bench/orgserve: the REST listing, the repositories over git's own
# smart-HTTP server), enumerated and scanned with --concurrency 1, 2 and 4,
# each from an empty inventory and clone cache, then an unchanged re-scan
# at 4 and a 3-shard scan merged into one inventory. Prints wall times.
#
#   bash bench/org.sh            N=100 bash bench/org.sh     CONCURRENCY="1 4" bash bench/org.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-50}
CONCURRENCY=${CONCURRENCY:-"1 2 4"}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nhi-bench-org.XXXXXX")
SERVER=
cleanup() {
	[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
	[ "${KEEP:-}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf '%s\n' "$*" >&2; }

TAGS=$(bash scripts/tags.sh)
say "building nhi (-tags $TAGS), orgserve and timecmd..."
go build -tags "$TAGS" -o "$WORK/nhi" ./cmd/nhi
go build -o "$WORK/orgserve" ./bench/orgserve
go build -o "$WORK/timecmd" ./bench/timecmd

say "generating and serving $N repositories..."
"$WORK/orgserve" -n "$N" -root "$WORK/served" -out "$WORK/server" 2>"$WORK/orgserve.log" &
SERVER=$!
for _ in $(seq 1 600); do [ -s "$WORK/server" ] && break; sleep 0.1; done
[ -s "$WORK/server" ] || { cat "$WORK/orgserve.log" >&2; exit 1; }
URL=$(sed -n 1p "$WORK/server")
export GITHUB_TOKEN=$(sed -n 2p "$WORK/server")

measure() { # name, then the command
	local name=$1
	shift
	"$WORK/timecmd" -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || {
		say "$name failed:"
		tail -5 "$WORK/$name.err" >&2
		exit 1
	}
}
wall() { sed -n 's/.*wall=\([0-9.]*\).*/\1/p' "$WORK/$1.time"; }
scan() { # name, db, cache, extra flags
	local name=$1 db=$2 cache=$3
	shift 3
	measure "$name" "$WORK/nhi" scan --db "$db" --cache-dir "$cache" --github-org acme --github-url "$URL" --format json "$@"
}

echo "organisation: $N repositories at $URL; cpus: $(getconf _NPROCESSORS_ONLN)"
for c in $CONCURRENCY; do
	say "scan, --concurrency $c..."
	scan "c$c" "$WORK/c$c.db" "$WORK/cache-c$c" --concurrency "$c"
	repos=$(grep -c '"name": "git:' "$WORK/c$c.out" || true)
	printf 'enumerate + clone + scan  --concurrency %s  %3s repositories  wall %7.2f s\n' "$c" "$repos" "$(wall "c$c")"
done
last=$(echo "$CONCURRENCY" | awk '{print $NF}')
scan rescan "$WORK/c$last.db" "$WORK/cache-c$last" --concurrency "$last"
printf 'unchanged re-scan         --concurrency %s  (fetch, refs unchanged)  wall %7.2f s\n' "$last" "$(wall rescan)"

say "3 shards, one after the other, then nhi merge..."
total=0
for k in 1 2 3; do
	[ "$k" = 1 ] || cp "$WORK/shard-1.db.key" "$WORK/shard-$k.db.key"
	scan "shard$k" "$WORK/shard-$k.db" "$WORK/cache-shards" --shard "$k/3" --concurrency 2
	total=$(awk -v a="$total" -v b="$(wall "shard$k")" 'BEGIN {print a+b}')
	printf 'shard %s/3                 --concurrency 2  wall %7.2f s\n' "$k" "$(wall "shard$k")"
done
measure merge "$WORK/nhi" merge --into "$WORK/central.db" "$WORK/shard-1.db" "$WORK/shard-2.db" "$WORK/shard-3.db" --format json
printf 'merge of 3 shards                           wall %7.2f s   (slowest shard + merge = the wall time on 3 machines)\n' "$(wall merge)"
