#!/usr/bin/env bash
# bench/detect.sh: scan the Go module cache of this project's dependencies
# (real public code, no real secrets) with the gitleaks default rules and
# with nhi's extended rules; print findings per rule and the extra findings
# per 10,000 files. Extra arguments go to the program (e.g. -list).
#   make bench-detect            # or: bench/detect.sh -list
set -euo pipefail
cd "$(dirname "$0")/.."
go mod download
root="${BENCH_ROOT:-$(go env GOMODCACHE)}"
exec go run -tags gore2regex ./bench/detect -root "$root" -workers "${BENCH_WORKERS:-2}" "$@"
