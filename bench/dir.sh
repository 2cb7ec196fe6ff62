#!/usr/bin/env bash
# Benchmark of nhi's plain-directory scan against `gitleaks dir` (make bench-dir).
#
#   bash bench/dir.sh                  # the Go module cache (go env GOMODCACHE)
#   DIR=/path/to/tree bash bench/dir.sh
#
# Installs gitleaks at the version of the library nhi uses, built as its
# releases are (-tags gore2regex), scans the same tree with both (same
# 10 MiB file limit), and prints side by side the wall time and peak memory
# of each, the ratio nhi/gitleaks, an unchanged re-scan, and the findings
# each has that the other lacks as unique (path, rule, fingerprint) sets.
# gitleaks' plaintext secrets are fingerprinted with nhi's key and never
# printed. Environment: DIR, ROUNDS (default 1), BENCH_CACHE, KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

GITLEAKS_VERSION=v8.30.1
CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nhi-bench}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nhi-bench-dir.XXXXXX")
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
mkdir -p "$CACHE/bin-$GITLEAKS_VERSION"
say() { printf '%s\n' "$*" >&2; }

GITLEAKS=$CACHE/bin-$GITLEAKS_VERSION/gitleaks
if [ ! -x "$GITLEAKS" ]; then
	say "installing gitleaks $GITLEAKS_VERSION (-tags gore2regex)..."
	GOBIN=$CACHE/bin-$GITLEAKS_VERSION go install -tags gore2regex "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION"
fi
TAGS=$(bash scripts/tags.sh)
say "building nhi (-tags $TAGS) and the bench tools..."
go build -tags "$TAGS" -o "$WORK/nhi" ./cmd/nhi
go build -o "$WORK/timecmd" ./bench/timecmd
go build -o "$WORK/glcompare" ./bench/glcompare

DIR=${DIR:-$(go env GOMODCACHE)}
DIR=$(cd "$DIR" && pwd -P)
NFILES=$(find "$DIR" -type f | wc -l | tr -d ' ')
SIZE=$(du -sh "$DIR" | cut -f1)
say "tree: $DIR ($NFILES files, $SIZE); cpus: $(getconf _NPROCESSORS_ONLN)"
find "$DIR" -type f -size -10M -exec cat {} + >/dev/null 2>&1 || true # warm the page cache

measure() {
	local name=$1
	shift
	"$WORK/timecmd" -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || {
		local code=$?
		if [ $code -ne 1 ]; then
			say "$name failed (exit $code):"
			tail -5 "$WORK/$name.err" >&2
			exit 1
		fi
	}
}
field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" "$WORK/$1.time"; }

ROUNDS=${ROUNDS:-1}
for i in $(seq 1 "$ROUNDS"); do
	say "round $i/$ROUNDS: gitleaks dir..."
	measure "gitleaks.$i" "$GITLEAKS" dir --max-target-megabytes 10 --report-format json --report-path "$WORK/gitleaks.json" -v=false "$DIR"
	say "round $i/$ROUNDS: nhi --path, then an unchanged re-scan..."
	rm -f "$WORK"/nhi.db*
	measure "nhi.$i" "$WORK/nhi" scan --db "$WORK/nhi.db" --path "$DIR" --format json
	measure "rescan.$i" "$WORK/nhi" scan --db "$WORK/nhi.db" --path "$DIR" --format json
done
"$WORK/nhi" inventory --db "$WORK/nhi.db" --format json >"$WORK/inventory.json"

median() { for i in $(seq 1 "$ROUNDS"); do field "$1.$i" "$2"; done | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
gw=$(median gitleaks wall) gm=$(median gitleaks maxrss_kb)
nw=$(median nhi wall) nm=$(median nhi maxrss_kb)
rw=$(median rescan wall) rm_=$(median rescan maxrss_kb)
echo "tree                $DIR ($NFILES files, $SIZE)"
awk -v gw="$gw" -v gm="$gm" -v nw="$nw" -v nm="$nm" -v rw="$rw" -v rm="$rm_" 'BEGIN {
	printf "gitleaks dir %s  wall %7.2f s   peak RSS %7.1f MiB\n", "'"$GITLEAKS_VERSION"'", gw, gm/1024
	printf "nhi --path          wall %7.2f s   peak RSS %7.1f MiB\n", nw, nm/1024
	printf "ratio nhi/gitleaks  wall %7.2f     peak RSS %7.2f\n", nw/gw, nm/gm
	printf "nhi re-scan         wall %7.2f s   peak RSS %7.1f MiB   (%.1f%% of the first scan)\n", rw, rm/1024, 100*rw/nw
}'
"$WORK/glcompare" -source dir -root "$DIR" -gitleaks "$WORK/gitleaks.json" -nhi "$WORK/inventory.json" -key "$WORK/nhi.db.key"
