#!/bin/sh
# verify-cosign.sh: the README's third-party check of an evidence package
# with a standard tool, run as the README prints it. Builds cosign (once,
# cached under ~/.cache/nhi-bench), exports the demo estate's package
# after three scans as evidence-2026-q3.tar.gz beside nhi-evidence.pub,
# extracts the shell block under "Verifying with standard tools" from
# README.md and runs it with that cosign first on PATH; then checks that
# cosign refuses a changed file and a wrong key. Too heavy for make test
# or .ci/run (building cosign takes minutes): run it by hand.
#
#   scripts/verify-cosign.sh            # cosign v2.4.3
#   COSIGN_VERSION=v2.4.1 scripts/verify-cosign.sh
set -eu

COSIGN_VERSION=${COSIGN_VERSION:-v2.4.3}
CACHE=${NHI_BENCH_CACHE:-$HOME/.cache/nhi-bench}
BIN=$CACHE/cosign-$COSIGN_VERSION
ROOT=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -x "$BIN/cosign" ]; then
	echo "building cosign $COSIGN_VERSION into $BIN (several minutes, once)" >&2
	build=$(mktemp -d)
	# Outside the module (nhi's go.mod must not pin cosign's
	# dependencies); the module proxy refuses cosign@latest, so the
	# version is exact.
	(cd "$build" && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOBIN="$build/bin" nice -n 10 \
		go install "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION")
	mkdir -p "$BIN"
	mv "$build/bin/cosign" "$BIN/cosign"
	rm -rf "$build"
fi
PATH=$BIN:$PATH
export PATH
cosign version 2>/dev/null | grep GitVersion

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$ROOT"
awk '/^\*\*Verifying with standard tools\*\*/ { f = 1; next } f && /^```sh$/ { b = 1; next } b && /^```$/ { exit } b' README.md >"$work/readme.sh"
grep -q 'cosign verify-blob-attestation' "$work/readme.sh" || {
	echo "README.md has no cosign command under 'Verifying with standard tools'" >&2
	exit 2
}
go build -tags gore2regex -o "$work/nhi" ./cmd/nhi
go run ./cmd/demo -out "$work/demo" >/dev/null
for i in 1 2 3; do
	# Exit 3 (a source failed) still records the scan, as make demo allows.
	"$work/nhi" scan --db "$work/nhi.db" --config "$work/demo/nhi.yaml" --progress none >/dev/null || [ $? -le 3 ]
done
"$work/nhi" evidence keygen --key "$work/nhi-evidence.key" >/dev/null
"$work/nhi" evidence export --db "$work/nhi.db" --config "$work/demo/nhi.yaml" --out "$work/evidence-2026-q3.tar.gz" \
	--sign keyless-off --sign-key "$work/nhi-evidence.key" >/dev/null

echo "--- README.md, as printed:"
cat "$work/readme.sh"
echo "---"
(cd "$work" && sh -eu readme.sh)

# cosign must also refuse what does not match.
cd "$work/pkg"
refuse() {
	what=$1
	shift
	if cosign verify-blob-attestation "$@" --bundle attestation.sigstore.json --new-bundle-format --insecure-ignore-tlog \
		--trusted-root ../trusted_root.json --type https://github.com/nhi-inventory/nhi/evidence/v1 controls.csv >/dev/null 2>&1; then
		echo "FAIL: cosign accepted $what" >&2
		exit 1
	fi
	echo "cosign refused $what, as it must"
}
openssl ecparam -name prime256v1 -genkey -noout -out ../other.key 2>/dev/null
openssl ec -in ../other.key -pubout -out ../other.pub 2>/dev/null
refuse "another key" --key ../other.pub
printf 'x' >>controls.csv
refuse "a changed controls.csv" --key ../nhi-evidence.pub
