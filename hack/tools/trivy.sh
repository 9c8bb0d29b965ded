#!/usr/bin/env bash
# trivy.sh - build Trivy from the Go module proxy into aegis's tool cache
# (reused when present) and print the binary's path. Trivy needs
# GOEXPERIMENT=jsonv2 to build with Go 1.26; the build is slow (tens of
# minutes on 2 cores), hence the cache outside the clone.
#
# Trivy v0.74.0 builds with Go 1.26 only (its jsonv2 code calls
# json.SkipFunc, which Go 1.27 dropped), so this build ignores the
# GOTOOLCHAIN=go1.27.3 that the Makefile and CI export for aegis itself and
# uses the machine's Go (TRIVY_GOTOOLCHAIN overrides).
set -euo pipefail
TRIVY_VERSION=${TRIVY_VERSION:-v0.74.0}
AEGIS_CACHE=${AEGIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aegis}
dir=$AEGIS_CACHE/tools/trivy-$TRIVY_VERSION
if [[ -x "$dir/trivy" && -f "$dir/.complete" ]]; then
  echo "$dir/trivy"
  exit 0
fi
mkdir -p "$dir"
echo "trivy: building $TRIVY_VERSION into $dir (slow: tens of minutes on 2 cores)" >&2
t0=$SECONDS
GOTOOLCHAIN=${TRIVY_GOTOOLCHAIN:-local} GOBIN="$dir" GOEXPERIMENT=jsonv2 GOFLAGS="-trimpath -buildvcs=false" \
  go install -ldflags "-s -w -X github.com/aquasecurity/trivy/pkg/version/app.ver=${TRIVY_VERSION#v}" \
    "github.com/aquasecurity/trivy/cmd/trivy@$TRIVY_VERSION"
"$dir/trivy" --version >&2
touch "$dir/.complete"
echo "trivy: built in $((SECONDS - t0)) s" >&2
echo "$dir/trivy"
