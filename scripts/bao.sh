#!/usr/bin/env bash
# Build (once) the OpenBao server binary used by nhi's real-service Vault tests
# and print its path as the last line of stdout.
#
# The binary is cached at
#   ${XDG_CACHE_HOME:-$HOME/.cache}/nhi/bao-<first 16 hex of sha256(tools/bao/go.sum)>/bao
# so it is rebuilt only when tools/bao's pinned dependencies change.
# If NHI_BAO names an existing executable, it is used as-is.
# harness.Vault (harness/harness.go) computes the same path; keep them in sync.
set -euo pipefail

die() { echo "bao.sh: $*" >&2; exit 1; }

if [[ -n "${NHI_BAO:-}" ]]; then
	[[ -x "$NHI_BAO" ]] || die "NHI_BAO=$NHI_BAO is not an executable file"
	echo "$NHI_BAO"
	exit 0
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tooldir="$root/tools/bao"
[[ -f "$tooldir/go.sum" ]] || die "missing $tooldir/go.sum"
command -v go >/dev/null || die "the go command is not on PATH"

if command -v sha256sum >/dev/null; then
	sum="$(sha256sum "$tooldir/go.sum" | cut -c1-16)"
elif command -v shasum >/dev/null; then
	sum="$(shasum -a 256 "$tooldir/go.sum" | cut -c1-16)"
else
	die "need sha256sum or shasum"
fi

cache="${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}"
dir="$cache/nhi/bao-$sum"
bin="$dir/bao"

if [[ -x "$bin" ]]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$dir" || die "cannot create $dir"
tmp="$(mktemp "$dir/bao.tmp.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

echo "bao.sh: building OpenBao into $bin (first build takes several minutes)..." >&2
start=$SECONDS
(cd "$tooldir" && go build -trimpath -o "$tmp" github.com/openbao/openbao) ||
	die "go build of github.com/openbao/openbao failed (see errors above)"
"$tmp" version >/dev/null 2>&1 || die "built binary does not run: $tmp"
mv -f "$tmp" "$bin"
trap - EXIT
echo "bao.sh: built in $((SECONDS - start))s" >&2
echo "$bin"
