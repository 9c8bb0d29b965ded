#!/usr/bin/env bash
# actionlint.sh - build actionlint (github.com/rhysd/actionlint, the GitHub
# Actions workflow linter) from the Go module proxy into aegis's tool cache
# (reused when present) and print the binary's path.
#
# aegis's go.mod does not require actionlint (it would add 9 modules to it):
# `go install pkg@version` builds it in its own module context, from
# actionlint's own go.mod and go.sum, and leaves the main module alone.
# The cache directory is keyed by the actionlint version and the Go release
# that built it, like the other tools there.
#
# Environment: ACTIONLINT_VERSION (default v1.7.12), AEGIS_CACHE (default
# ~/.cache/aegis).
set -euo pipefail
ACTIONLINT_VERSION=${ACTIONLINT_VERSION:-v1.7.12}
AEGIS_CACHE=${AEGIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aegis}
# Outside any module: GOTOOLCHAIN (from the caller) applies, the clone's go.mod
# (its go and toolchain lines) does not.
cd /
dir=$AEGIS_CACHE/tools/actionlint-$ACTIONLINT_VERSION-$(go env GOVERSION)
if [[ -x "$dir/actionlint" && -f "$dir/.complete" ]]; then
  echo "$dir/actionlint"
  exit 0
fi
mkdir -p "$dir"
echo "actionlint.sh: building actionlint $ACTIONLINT_VERSION into $dir" >&2
t0=$SECONDS
GOBIN="$dir" GOFLAGS="-trimpath -buildvcs=false" \
  go install -ldflags "-s -w -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" \
    "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
"$dir/actionlint" -version >&2
touch "$dir/.complete"
echo "actionlint.sh: built in $((SECONDS - t0)) s" >&2
echo "$dir/actionlint"
