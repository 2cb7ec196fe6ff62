#!/usr/bin/env bash
# nhi against its peers on one real git history (make bench-peers).
#
#   bash bench/peers.sh REPO            # a repository (work tree or bare)
#   REPO=/work/.mirror/curl+curl/repo ROUNDS=3 bash bench/peers.sh
#
# Real histories come from the public snapshots the workplace's fetch tool
# brings (curl/curl, redis/redis); without a repository the script says so
# and exits 0, so it never fails where none is reachable.
#
# Builds each peer once from the Go module proxy at a pinned version and
# caches it under $BENCH_CACHE/peers:
#   - gitleaks v8.30.1, -tags gore2regex (as its releases are built);
#   - Betterleaks v1.7.0, in its parallel mode (--git-workers = cores). Its
#     RE2 fork github.com/betterleaks/go-re2 is not served: it is built with
#     a module replace onto github.com/wasilibs/go-re2 v1.13.0 (the code the
#     fork is taken from) with its module path renamed;
#   - TruffleHog v3.90.0 with --no-verification (it clones the repository
#     into a temporary directory first, as it always does).
# Then it alternates the tools for ROUNDS rounds (default 3) and prints the
# medians of wall time, CPU time and peak RSS, each peer's ratio to nhi,
# nhi's unchanged re-scan, and the findings of each peer that nhi misses,
# compared as unique (path, secret fingerprint) with glcompare (plaintext
# secrets are fingerprinted with nhi's key there and never printed).
# PEERS="gitleaks betterleaks" chooses; TRUFFLEHOG_ROUNDS (default 1)
# bounds TruffleHog, which is 3-5x slower than the others.
set -euo pipefail
cd "$(dirname "$0")/.."

REPO=${1:-${REPO:-}}
if [ -z "$REPO" ] || [ ! -d "$REPO" ]; then
	echo "bench/peers.sh: no repository given (REPO=${REPO:-unset}): fetch curl/curl or redis/redis and pass its git directory" >&2
	exit 0
fi
REPO=$(cd "$REPO" && pwd)
# A fetched snapshot is a mirror: it also holds the forge's refs/pull/*
# (curl/curl: 87,432 commits reachable, 39,573 from branches and tags).
# The tools scan what a user's clone holds: a bare clone of the branches
# and tags, kept in the cache (objects hard-linked).
if git -C "$REPO" for-each-ref --count=1 refs/pull | grep -q .; then
	CLONE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nhi-bench}/peers/repos/$(printf '%s' "$REPO" | sha256sum | cut -c1-12).git
	if [ ! -f "$CLONE/.cloned" ]; then
		echo "cloning the branches and tags of $REPO (its refs/pull/* left out)..." >&2
		rm -rf "$CLONE" && mkdir -p "$(dirname "$CLONE")"
		git clone --bare -q "$REPO" "$CLONE" && touch "$CLONE/.cloned"
	fi
	REPO=$CLONE
fi
ROUNDS=${ROUNDS:-3}
TRUFFLEHOG_ROUNDS=${TRUFFLEHOG_ROUNDS:-1}
PEERS=${PEERS:-gitleaks betterleaks trufflehog}
CPUS=$(getconf _NPROCESSORS_ONLN)
CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nhi-bench}
PC=$CACHE/peers
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nhi-peers.XXXXXX")
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
mkdir -p "$PC"
say() { printf '%s\n' "$*" >&2; }

# modsrc MODULE@VERSION DIR: a writable copy of a module's source.
modsrc() {
	local dir
	dir=$(go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -n "$dir" ] || { say "go mod download $1 failed"; exit 1; }
	rm -rf "$2" && cp -r "$dir" "$2" && chmod -R u+w "$2"
}

GITLEAKS=$CACHE/bin-v8.30.1/gitleaks
if [ ! -x "$GITLEAKS" ]; then
	say "building gitleaks v8.30.1 (-tags gore2regex)..."
	modsrc github.com/zricethezav/gitleaks/v8@v8.30.1 "$PC/src-gitleaks"
	mkdir -p "$(dirname "$GITLEAKS")"
	(cd "$PC/src-gitleaks" && go build -tags gore2regex -o "$GITLEAKS" .)
fi
BETTERLEAKS=$PC/betterleaks-v1.7.0
if [[ " $PEERS " == *" betterleaks "* ]] && [ ! -x "$BETTERLEAKS" ]; then
	say "building Betterleaks v1.7.0 (go-re2 fork replaced by wasilibs/go-re2 v1.13.0)..."
	modsrc github.com/betterleaks/betterleaks@v1.7.0 "$PC/src-bl"
	modsrc github.com/wasilibs/go-re2@v1.13.0 "$PC/go-re2-bl"
	sed -i 's#^module github.com/wasilibs/go-re2#module github.com/betterleaks/go-re2#' "$PC/go-re2-bl/go.mod"
	grep -rl 'github.com/wasilibs/go-re2' "$PC/go-re2-bl" --include='*.go' |
		xargs sed -i 's#github.com/wasilibs/go-re2#github.com/betterleaks/go-re2#g'
	(cd "$PC/src-bl" && go mod edit -replace github.com/betterleaks/go-re2=../go-re2-bl &&
		go mod tidy -e >/dev/null 2>&1 && go build -o "$BETTERLEAKS" .)
fi
TRUFFLEHOG=$PC/trufflehog-v3.90.0
if [[ " $PEERS " == *" trufflehog "* ]] && [ ! -x "$TRUFFLEHOG" ]; then
	say "building TruffleHog v3.90.0..."
	modsrc github.com/trufflesecurity/trufflehog/v3@v3.90.0 "$PC/src-th"
	(cd "$PC/src-th" && go build -o "$TRUFFLEHOG" .)
fi

TAGS=$(bash scripts/tags.sh)
say "building nhi (-tags $TAGS) and the bench tools..."
go build -tags "$TAGS" -o "$WORK/nhi" ./cmd/nhi
go build -o "$WORK/timecmd" ./bench/timecmd
go build -o "$WORK/glcompare" ./bench/glcompare

NCOMMITS=$(git -C "$REPO" rev-list --all | wc -l | tr -d ' ')
# TruffleHog reads a bare repository only with --bare: without it, it
# reports 0 chunks and exits 0.
TH_BARE=
[ "$(git -C "$REPO" rev-parse --is-bare-repository)" = true ] && TH_BARE=--bare
say "repository: $REPO ($NCOMMITS commits); cpus: $CPUS; peers: $PEERS"
find "$(git -C "$REPO" rev-parse --git-dir)/objects" -type f -exec cat {} + >/dev/null 2>&1 || true

measure() { # name cmd... -> $WORK/name.time; exit 1 (leaks found) is success
	local name=$1
	shift
	"$WORK/timecmd" -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || {
		local code=$?
		if [ $code -ne 1 ] && [ $code -ne 183 ]; then
			say "$name failed (exit $code):"
			tail -5 "$WORK/$name.err" >&2
			exit 1
		fi
	}
}
field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" "$WORK/$1.time"; }
median() { # name field rounds -> median
	for i in $(seq 1 "$3"); do field "$1.$i" "$2"; done | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}

for i in $(seq 1 "$ROUNDS"); do
	say "round $i/$ROUNDS: nhi, then an unchanged re-scan..."
	rm -f "$WORK"/nhi.db*
	measure "nhi.$i" "$WORK/nhi" scan --db "$WORK/nhi.db" --git "$REPO" --format json
	measure "rescan.$i" "$WORK/nhi" scan --db "$WORK/nhi.db" --git "$REPO" --format json
	for p in $PEERS; do
		case $p in
		gitleaks)
			say "round $i/$ROUNDS: gitleaks..."
			measure "gitleaks.$i" "$GITLEAKS" git --report-format json --report-path "$WORK/gitleaks.json" -v=false "$REPO" ;;
		betterleaks)
			say "round $i/$ROUNDS: Betterleaks (--git-workers $CPUS)..."
			measure "betterleaks.$i" "$BETTERLEAKS" git --git-workers "$CPUS" --report-format json --report-path "$WORK/betterleaks.json" "$REPO" ;;
		trufflehog)
			if [ "$i" -le "$TRUFFLEHOG_ROUNDS" ]; then
				say "round $i/$ROUNDS: TruffleHog (--no-verification)..."
				measure "trufflehog.$i" "$TRUFFLEHOG" git "file://$REPO" $TH_BARE --no-verification --json --no-update
				cp "$WORK/trufflehog.$i.out" "$WORK/trufflehog.json"
			fi ;;
		*) say "unknown peer $p"; exit 2 ;;
		esac
	done
done
"$WORK/nhi" inventory --db "$WORK/nhi.db" --format json >"$WORK/inventory.json"

nw=$(median nhi wall "$ROUNDS")
echo "repository   $REPO ($NCOMMITS commits), $(date -u +%Y-%m-%d), $CPUS cpus, medians of $ROUNDS rounds"
printf '%-22s %9s %9s %11s %14s %7s\n' tool wall cpu "peak RSS" "nhi/tool wall" "rounds"
row() { # label name rounds
	local w c m
	w=$(median "$2" wall "$3") c=$(median "$2" cpu "$3") m=$(median "$2" maxrss_kb "$3")
	awk -v l="$1" -v w="$w" -v c="$c" -v m="$m" -v n="$nw" -v r="$3" 'BEGIN {
		printf "%-22s %8.2fs %8.2fs %8.1fMiB %14.2f %7d\n", l, w, c, m/1024, n/w, r }'
}
rescan_row() {
	local w c m
	w=$(median rescan wall "$ROUNDS") c=$(median rescan cpu "$ROUNDS") m=$(median rescan maxrss_kb "$ROUNDS")
	awk -v w="$w" -v c="$c" -v m="$m" -v n="$nw" -v r="$ROUNDS" 'BEGIN {
		printf "%-22s %8.2fs %8.2fs %8.1fMiB %13.1f%% %7d\n", "nhi unchanged re-scan", w, c, m/1024, 100*w/n, r }'
}
row nhi nhi "$ROUNDS"
rescan_row # its ratio column: percent of nhi's first scan
for p in $PEERS; do
	case $p in
	gitleaks) row "gitleaks v8.30.1" gitleaks "$ROUNDS" ;;
	betterleaks) row "Betterleaks v1.7.0" betterleaks "$ROUNDS" ;;
	trufflehog) row "TruffleHog v3.90.0" trufflehog "$TRUFFLEHOG_ROUNDS" ;;
	esac
done
for p in $PEERS; do
	echo "--- findings: $p against nhi"
	fmt=gitleaks
	[ "$p" = trufflehog ] && fmt=trufflehog
	"$WORK/glcompare" -name "$p" -format "$fmt" -gitleaks "$WORK/$p.json" -nhi "$WORK/inventory.json" -key "$WORK/nhi.db.key" -show 10 || true
done
