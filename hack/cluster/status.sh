#!/usr/bin/env bash
# status.sh - exit 0 and print the kubeconfig when the local control plane
# that up.sh started is up and answering; exit 1 otherwise.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${CLUSTER_DIR:-$repo/.cache/cluster}
API_PORT=${API_PORT:-36443}
[[ -f "$dir/ready" && -f "$dir/token" && -f "$dir/kubeconfig" ]] || exit 1
curl -sf --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $(cat "$dir/token")" \
  "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1 || exit 1
echo "$dir/kubeconfig"
