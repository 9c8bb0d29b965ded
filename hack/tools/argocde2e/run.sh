#!/usr/bin/env bash
# run.sh - `make e2e-argocd`: aegis's config management plugin under the
# real Argo CD v3.6.1. Builds aegis (the main module, its own toolchain),
# then this module (github.com/argoproj/argo-cd/v3, which needs Go 1.27.3:
# set here only), and runs it: it starts Argo CD's argocd-cmp-server with
# plugin/plugin.yaml and asks it for manifests through the repo-server's own
# code (reposerver/repository.GenerateManifests), as Argo CD does for an
# Application whose source is the plugin.
#
# The first build of Argo CD is heavy (about 235 more modules than aegis:
# 12 minutes on 2 busy cores, 7m43s of CPU); Go's build cache makes the next
# ones take seconds. Binaries go to E2E_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${E2E_DIR:-$repo/.cache/argocde2e}
mkdir -p "$out"
t0=$SECONDS
(cd "$repo" && go build -o "$out/aegis" ./cmd/aegis)
echo "argocde2e: aegis built in $((SECONDS - t0)) s" >&2
export GOTOOLCHAIN=go1.27.3
t0=$SECONDS
(cd "$here" && go build -o "$out/argocde2e" .)
echo "argocde2e: argocd-cmp-server and the repo-server client built in $((SECONDS - t0)) s" >&2
"$out/argocde2e" -aegis "$out/aegis" -repo "$repo" -work "$out/work"
(cd "$here" && AEGIS_BIN="$out/aegis" go test -count=1 -run Conformance ./...) # ApplicationSet expansion: aegis vs Argo CD's generators (conformance_test.go)
