#!/usr/bin/env bash
# Prints the build tags nhi is built and tested with (make build, make
# test, bench/): gore2regex puts gitleaks' detector on RE2 (go-re2), as
# gitleaks' release builds are; re2_cgo, added when the system RE2 library
# and its pkg-config file are installed (Debian: apt-get install
# libre2-dev), makes go-re2 call that library through cgo instead of its
# RE2 translated from WebAssembly to Go: the same engine, about a quarter
# less CPU per match. Without libre2-dev the build falls back to the
# translated RE2; NHI_TAGS overrides both.
set -euo pipefail
if [ -n "${NHI_TAGS:-}" ]; then
	echo "$NHI_TAGS"
elif command -v pkg-config >/dev/null 2>&1 && pkg-config --exists re2 2>/dev/null; then
	echo gore2regex,re2_cgo
else
	echo gore2regex
fi
