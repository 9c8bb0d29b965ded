#!/usr/bin/env bash
# node-import.sh FILE.tar... - import image tarballs (from hack/images, or any
# docker-archive/OCI tarball) into the running real node's containerd, in the
# namespace kubelet uses (k8s.io). containerd's socket is /run/containerd/ in
# the node's mount namespace, whose /run is the cluster dir's node/run: the
# host reaches it there, without entering the namespace.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/versions.sh"
dir=${CLUSTER_DIR:-$repo/.cache/cluster}
sock=$dir/node/run/containerd/containerd.sock
(( $# )) || { echo "usage: $0 FILE.tar..." >&2; exit 2; }
[[ -S "$sock" ]] || { echo "no real node running in $dir (NODE=real hack/cluster/up.sh)" >&2; exit 1; }
ctr=$NODE_DEB_CACHE/containerd_$CONTAINERD_DEB/root/usr/bin/ctr
for f in "$@"; do
  "$ctr" --address "$sock" -n k8s.io images import --snapshotter overlayfs "$f"
done
