#!/usr/bin/env bash
# test-real.sh - the real-node smoke test (internal/realnode) on a NODE=real
# local cluster: reuses one that is up, else starts one and stops it again
# afterwards (only what this script started). A missing real node fails the
# test instead of skipping it (AEGIS_REQUIRE_REAL_NODE=1).
#
# Env: as up.sh (CLUSTER_DIR, API_PORT, ...). Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# The example apps' images: node-up imports .cache/images/*.tar; a node
# that is already up gets them through node-import.sh.
"$repo/hack/build-images.sh" >&2
started=
if kc=$(NODE=real "$here/status.sh"); then
  "$here/node-import.sh" "$repo"/.cache/images/*.tar >&2
else
  kc=$(NODE=real "$here/up.sh")
  started=1
fi
cleanup() { [[ -z "$started" ]] || "$here/down.sh"; }
trap cleanup EXIT
cd "$repo"
AEGIS_NODE=real AEGIS_KUBECONFIG=$kc AEGIS_CLUSTER_DIR=$(dirname "$kc") AEGIS_REQUIRE_REAL_NODE=1 \
  go test -count=1 -timeout 15m ./internal/realnode/
# The shadow verification on real pods: probes, crash loop, OOMKill, image
# pull, never ready, and the example apps answering through port-forward.
AEGIS_NODE=real AEGIS_KUBECONFIG=$kc AEGIS_REQUIRE_REAL_NODE=1 \
  go test -count=1 -parallel 4 -timeout 15m -run RealNode ./verify/
# DAST on real pods: Wapiti through a port-forward to each side's Service,
# from the scanner package and through the CLI.
AEGIS_NODE=real AEGIS_KUBECONFIG=$kc AEGIS_REQUIRE_REAL_NODE=1 AEGIS_REQUIRE_WAPITI=1 \
  go test -count=1 -timeout 15m -run RealNode ./scanners/dast/... ./cmd/aegis/
