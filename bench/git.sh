#!/usr/bin/env bash
# Benchmark of nhi's git history scan against the gitleaks CLI (make bench-git).
#
#   bash bench/git.sh                 # generated repository (COMMITS=10000)
#   REPO=/path/to/repo bash bench/git.sh
#
# Installs gitleaks at the version of the library nhi uses, built as its
# releases are (-tags gore2regex), scans the same repository with both, and
# prints wall time and peak memory of each, the ratio nhi/gitleaks, the
# ratio of an unchanged re-scan to the first scan, and the difference of
# the unique (path, rule, secret fingerprint) sets. gitleaks' plaintext
# secrets are fingerprinted with nhi's key and never printed.
#
# Environment: REPO, COMMITS (generated size), BENCH_CACHE (tools and
# generated repositories; default ~/.cache/nhi-bench), KEEP=1 keeps the
# work directory.
set -euo pipefail
cd "$(dirname "$0")/.."

GITLEAKS_VERSION=v8.30.1
COMMITS=${COMMITS:-10000}
CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nhi-bench}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nhi-bench.XXXXXX")
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
mkdir -p "$CACHE/bin-$GITLEAKS_VERSION"

say() { printf '%s\n' "$*" >&2; }

GITLEAKS=$CACHE/bin-$GITLEAKS_VERSION/gitleaks
if [ ! -x "$GITLEAKS" ]; then
	say "installing gitleaks $GITLEAKS_VERSION (-tags gore2regex)..."
	GOBIN=$CACHE/bin-$GITLEAKS_VERSION go install -tags gore2regex "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION"
fi

say "building nhi (-tags gore2regex) and the bench tools..."
go build -tags gore2regex -o "$WORK/nhi" ./cmd/nhi
go build -o "$WORK/timecmd" ./bench/timecmd
go build -o "$WORK/glcompare" ./bench/glcompare

if [ -z "${REPO:-}" ]; then
	REPO=$CACHE/generated-$COMMITS
	if [ ! -f "$REPO/.generated" ]; then
		say "generating a repository of $COMMITS commits with git fast-import..."
		rm -rf "$REPO"
		git init -q -b main "$REPO"
		go build -o "$WORK/gengit" ./bench/gengit
		"$WORK/gengit" -commits "$COMMITS" | git -C "$REPO" fast-import --quiet
		git -C "$REPO" -c gc.auto=0 gc -q
		touch "$REPO/.generated"
	fi
fi
REPO=$(cd "$REPO" && pwd)
NCOMMITS=$(git -C "$REPO" rev-list --all | wc -l | tr -d ' ')
say "repository: $REPO ($NCOMMITS commits); cpus: $(getconf _NPROCESSORS_ONLN)"
# Warm the page cache so neither tool pays for the first read.
find "$(git -C "$REPO" rev-parse --git-dir)/objects" -type f -exec cat {} + >/dev/null 2>&1 || true

measure() { # name cmd... -> prints wall and rss into $WORK/name.time
	local name=$1
	shift
	"$WORK/timecmd" -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || {
		local code=$?
		# gitleaks exits 1 when it finds leaks; nhi may exit 1 with --fail-on.
		if [ $code -ne 1 ]; then
			say "$name failed (exit $code):"
			tail -5 "$WORK/$name.err" >&2
			exit 1
		fi
	}
}
field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" "$WORK/$1.time"; }

say "scanning with gitleaks..."
measure gitleaks "$GITLEAKS" git --report-format json --report-path "$WORK/gitleaks.json" -v=false "$REPO"
say "scanning with nhi..."
measure nhi "$WORK/nhi" scan --db "$WORK/nhi.db" --git "$REPO" --format json
say "re-scanning with nhi (unchanged repository)..."
measure rescan "$WORK/nhi" scan --db "$WORK/nhi.db" --git "$REPO" --format json
"$WORK/nhi" inventory --db "$WORK/nhi.db" --format json >"$WORK/inventory.json"

gw=$(field gitleaks wall) gm=$(field gitleaks maxrss_kb)
nw=$(field nhi wall) nm=$(field nhi maxrss_kb)
rw=$(field rescan wall) rm_=$(field rescan maxrss_kb)
echo "repository          $REPO ($NCOMMITS commits)"
awk -v gw="$gw" -v gm="$gm" -v nw="$nw" -v nm="$nm" -v rw="$rw" -v rm="$rm_" 'BEGIN {
	printf "gitleaks %s      wall %7.2f s   peak RSS %7.1f MiB\n", "'"$GITLEAKS_VERSION"'", gw, gm/1024
	printf "nhi                 wall %7.2f s   peak RSS %7.1f MiB\n", nw, nm/1024
	printf "ratio nhi/gitleaks  wall %7.2f     peak RSS %7.2f\n", nw/gw, nm/gm
	printf "nhi re-scan         wall %7.2f s   peak RSS %7.1f MiB   (%.1f%% of the first scan)\n", rw, rm/1024, 100*rw/nw
}'
grep -o '"commits_scanned": *[0-9]*' "$WORK/nhi.out" | head -1 | sed 's/^/nhi first scan      /'
grep -o '"commits_scanned": *[0-9]*' "$WORK/rescan.out" | head -1 | sed 's/^/nhi re-scan         /'
"$WORK/glcompare" -gitleaks "$WORK/gitleaks.json" -nhi "$WORK/inventory.json" -key "$WORK/nhi.db.key"
