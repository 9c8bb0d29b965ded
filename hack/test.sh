#!/usr/bin/env bash
# `make test`: every test, the integration tests included. They need a real
# control plane: AEGIS_KUBECONFIG names one, or this script starts the local
# one (building it first if its cache is absent) and stops it afterwards;
# a local control plane already up is used and left running.
# With AEGIS_REQUIRE_CLUSTER=1 a test that cannot reach the cluster fails
# rather than skips; likewise AEGIS_REQUIRE_TRIVY=1 for the Trivy binary,
# which this script builds into the tool cache when it is absent, and
# AEGIS_REQUIRE_WAPITI=1 for wapiti, which it installs with apt-get.
# AEGIS_REQUIRE_REALWORLD=1 makes the real-world corpus required likewise.
set -euo pipefail
cd "$(dirname "$0")/.."
AEGIS_KUBECONFIG=${AEGIS_KUBECONFIG:-$(hack/cluster/status.sh || true)}
if [[ -z "$AEGIS_KUBECONFIG" ]]; then
  AEGIS_KUBECONFIG=$(hack/cluster/up.sh)
  trap 'hack/cluster/down.sh' EXIT
fi
# The Trivy tests run the real binary: built once into the tool cache. The
# Wapiti tests run Debian's wapiti against a local app: installed if absent.
hack/tools/trivy.sh >/dev/null
hack/tools/wapiti.sh >/dev/null
export AEGIS_KUBECONFIG AEGIS_REQUIRE_CLUSTER=1 AEGIS_REQUIRE_TRIVY=1 AEGIS_REQUIRE_WAPITI=1
# The real-world corpus (../shared/realworld, or $AEGIS_REALWORLD) is not
# part of the clone: without it its tests skip, and the line printed after
# the run says so (CI sets AEGIS_REQUIRE_REALWORLD=1: absent is a failure).
AEGIS_REALWORLD_STATUS=$(mktemp "${TMPDIR:-/tmp}/aegis-realworld.XXXXXX")
export AEGIS_REALWORLD_STATUS
status=0
go test -count=1 -timeout 20m "$@" ./... || status=$?
hack/realworld-status.sh "$AEGIS_REALWORLD_STATUS"
exit "$status"
