#!/usr/bin/env bash
# syft.sh - build Syft (github.com/anchore/syft, the SBOM generator) from the
# Go module proxy into aegis's tool cache (reused when present) and print
# the binary's path. hack/release.sh writes the release's SBOMs with it.
#
# aegis's go.mod does not require Syft (hundreds of modules): `go install
# pkg@version` builds it in its own module context and leaves the main
# module alone. The cache directory is keyed by the Syft version and the Go
# release that built it. (The research notes: Syft v1.57.x installs this
# way and reads docker-archive tarballs.)
#
# Environment: SYFT_VERSION (default v1.57.2), AEGIS_CACHE (default
# ~/.cache/aegis).
set -euo pipefail
SYFT_VERSION=${SYFT_VERSION:-v1.57.2}
AEGIS_CACHE=${AEGIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aegis}
# Outside any module: GOTOOLCHAIN (from the caller) applies, the clone's
# go.mod does not.
cd /
dir=$AEGIS_CACHE/tools/syft-$SYFT_VERSION-$(go env GOVERSION)
if [[ -x "$dir/syft" && -f "$dir/.complete" ]]; then
  echo "$dir/syft"
  exit 0
fi
mkdir -p "$dir"
echo "syft.sh: building Syft $SYFT_VERSION into $dir" >&2
t0=$SECONDS
CGO_ENABLED=0 GOBIN="$dir" GOFLAGS="-trimpath -buildvcs=false" \
  go install -ldflags "-s -w -X main.version=${SYFT_VERSION#v}" \
  "github.com/anchore/syft/cmd/syft@$SYFT_VERSION"
"$dir/syft" version >&2
touch "$dir/.complete"
echo "syft.sh: built in $((SECONDS - t0)) s" >&2
echo "$dir/syft"
