#!/usr/bin/env bash
# bench/detect.sh: score nhi and gitleaks (its default rules, through the
# same library) on the labelled corpus of bench/detect/corpus.go (values
# generated at run time), then scan the Go module cache of this project's
# dependencies (real public code, no real secrets) with the gitleaks
# default rules and with nhi's extended rules; print findings per rule and
# the extra findings per 10,000 files. Extra arguments go to the program
# (e.g. -list). BENCH_CORPUS_ONLY=1 skips the module cache.
#   make bench-detect            # or: bench/detect.sh -list
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${BENCH_CORPUS_ROUNDS:-5}"
if [ -n "${BENCH_CORPUS_ONLY:-}" ]; then
	exec go run -tags "$(bash scripts/tags.sh)" ./bench/detect -corpus "$rounds" "$@"
fi
go mod download
root="${BENCH_ROOT:-$(go env GOMODCACHE)}"
exec go run -tags "$(bash scripts/tags.sh)" ./bench/detect -corpus "$rounds" -root "$root" -workers "${BENCH_WORKERS:-2}" "$@"
