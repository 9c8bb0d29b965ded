#!/usr/bin/env bash
# status.sh - exit 0 and print the kubeconfig when the local control plane
# that up.sh started is up and answering, with the kind of node NODE asks for
# (kwok by default; NODE=real for a real node); exit 1 otherwise.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${CLUSTER_DIR:-$repo/.cache/cluster}
API_PORT=${API_PORT:-36443}
[[ -f "$dir/ready" && -f "$dir/token" && -f "$dir/kubeconfig" ]] || exit 1
curl -sf --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $(cat "$dir/token")" \
  "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1 || exit 1
# NODE (kwok, the default, or real) asks for that kind of cluster: the other
# kind is "not up", so up.sh replaces it and callers that expect kwok's
# simulated pods never get a real node by accident. A real node whose kubelet
# or containerd died is not up either.
mode=$(cat "$dir/node-mode" 2>/dev/null || echo kwok)
[[ "${NODE:-kwok}" == "$mode" ]] || exit 1
if [[ $mode == real ]]; then
  for p in kubelet containerd; do kill -0 "$(cat "$dir/pids/$p.pid" 2>/dev/null)" 2>/dev/null || exit 1; done
fi
echo "$dir/kubeconfig"
