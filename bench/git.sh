#!/usr/bin/env bash
# Benchmark of nhi's git history scan against the gitleaks CLI (make bench-git).
#
#   bash bench/git.sh                 # generated repository (COMMITS=10000)
#   SHAPE=curl bash bench/git.sh      # generated with curl/curl's bytes per commit
#   REPO=/path/to/repo bash bench/git.sh
#
# Installs gitleaks at the version of the library nhi uses, built as its
# releases are (-tags gore2regex), scans the same repository with both, and
# prints wall time and peak memory of each, the ratio nhi/gitleaks, the
# ratio of an unchanged re-scan to the first scan, and the difference of
# the unique (path, rule, secret fingerprint) sets. gitleaks' plaintext
# secrets are fingerprinted with nhi's key and never printed.
#
# Environment: REPO, COMMITS (generated size), SHAPE (generated file and
# edit sizes: light, the default, or curl: ~1.8 KB added and ~85 KB of
# new blob versions per commit, as the issue measured on curl/curl), ROUNDS (default 3: the
# tools alternate and medians are compared), BENCH_CACHE (tools and
# generated repositories; default ~/.cache/nhi-bench), KEEP=1 keeps the
# work directory.
set -euo pipefail
cd "$(dirname "$0")/.."

GITLEAKS_VERSION=v8.30.1
COMMITS=${COMMITS:-10000}
SHAPE=${SHAPE:-light}
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

TAGS=$(bash scripts/tags.sh)
say "building nhi (-tags $TAGS) and the bench tools..."
go build -tags "$TAGS" -o "$WORK/nhi" ./cmd/nhi
go build -o "$WORK/timecmd" ./bench/timecmd
go build -o "$WORK/glcompare" ./bench/glcompare

if [ -z "${REPO:-}" ]; then
	if [ "$SHAPE" = light ]; then
		REPO=$CACHE/generated-packed-$COMMITS
	else
		REPO=$CACHE/generated-$SHAPE-packed-$COMMITS
	fi
	if [ ! -f "$REPO/.generated" ]; then
		say "generating a repository of $COMMITS commits ($SHAPE shape) with git fast-import..."
		rm -rf "$REPO"
		git init -q -b main "$REPO"
		go build -o "$WORK/gengit" ./bench/gengit
		"$WORK/gengit" -commits "$COMMITS" -shape "$SHAPE" | git -C "$REPO" fast-import --quiet
		# Packed as a clone from a forge is: every object through delta
		# search (fast-import's own pack keeps 73% of the blobs whole, which
		# no clone does; both tools then spend most of their time inflating).
		git -C "$REPO" -c gc.auto=0 repack -a -d -f -q --window=10 --depth=50
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

# The machines this runs on are shared: one run of each can be 15% off.
# ROUNDS rounds alternate the tools (each nhi round on a fresh inventory)
# and the medians are compared.
ROUNDS=${ROUNDS:-3}
for i in $(seq 1 "$ROUNDS"); do
	say "round $i/$ROUNDS: gitleaks..."
	measure "gitleaks.$i" "$GITLEAKS" git --report-format json --report-path "$WORK/gitleaks.json" -v=false "$REPO"
	say "round $i/$ROUNDS: nhi, then an unchanged re-scan..."
	rm -f "$WORK"/nhi.db*
	measure "nhi.$i" "$WORK/nhi" scan --db "$WORK/nhi.db" --git "$REPO" --format json
	measure "rescan.$i" "$WORK/nhi" scan --db "$WORK/nhi.db" --git "$REPO" --format json
done
"$WORK/nhi" inventory --db "$WORK/nhi.db" --format json >"$WORK/inventory.json"

median() { # name field -> median over the rounds
	for i in $(seq 1 "$ROUNDS"); do field "$1.$i" "$2"; done | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
runs() { for i in $(seq 1 "$ROUNDS"); do printf '%s ' "$(field "$1.$i" wall)"; done; }
gw=$(median gitleaks wall) gm=$(median gitleaks maxrss_kb)
nw=$(median nhi wall) nm=$(median nhi maxrss_kb)
rw=$(median rescan wall) rm_=$(median rescan maxrss_kb)
echo "repository          $REPO ($NCOMMITS commits)"
echo "rounds              $ROUNDS (medians below; walls of each round: gitleaks $(runs gitleaks)| nhi $(runs nhi)| re-scan $(runs rescan))"
awk -v gw="$gw" -v gm="$gm" -v nw="$nw" -v nm="$nm" -v rw="$rw" -v rm="$rm_" 'BEGIN {
	printf "gitleaks %s      wall %7.2f s   peak RSS %7.1f MiB\n", "'"$GITLEAKS_VERSION"'", gw, gm/1024
	printf "nhi                 wall %7.2f s   peak RSS %7.1f MiB\n", nw, nm/1024
	printf "ratio nhi/gitleaks  wall %7.2f     peak RSS %7.2f\n", nw/gw, nm/gm
	printf "nhi re-scan         wall %7.2f s   peak RSS %7.1f MiB   (%.1f%% of the first scan)\n", rw, rm/1024, 100*rw/nw
}'
grep -o '"commits_scanned": *[0-9]*' "$WORK/nhi.1.out" | head -1 | sed 's/^/nhi first scan      /'
grep -o '"commits_scanned": *[0-9]*' "$WORK/rescan.1.out" | head -1 | sed 's/^/nhi re-scan         /'
"$WORK/glcompare" -gitleaks "$WORK/gitleaks.json" -nhi "$WORK/inventory.json" -key "$WORK/nhi.db.key"
