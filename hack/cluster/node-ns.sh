#!/usr/bin/env bash
# node-ns.sh - run by node-up.sh as `setsid unshare --mount --propagation
# private node-ns.sh`: the first process of the real node's private mount
# namespace. It bind-mounts the node's own /run, /var/lib and /var/log over
# the host's (so containerd, runc, CNI and kubelet write nothing there; the
# mounts vanish with the namespace), starts containerd, imports the images
# node-up.sh listed, starts kubelet, records both PIDs, and waits. containerd
# and kubelet must share this one namespace: runc has to see the volume
# mounts kubelet makes for pods.
#
# Env (from node-up.sh): NODE_STATE, CLUSTER_PIDS, CLUSTER_LOGS, CONTAINERD_ROOT,
# RUNC_ROOT, KUBELET_BIN, KUBELET_FLAGS (space-separated), NODE_IMAGES (newline-separated).
set -euo pipefail
nd=$NODE_STATE

for d in run varlib varlog; do mkdir -p "$nd/$d"; done
mount --bind "$nd/run" /run
mount --bind "$nd/varlib" /var/lib
mount --bind "$nd/varlog" /var/log

# containerd finds its shim on PATH; runc is named in its config.
export PATH=$CONTAINERD_ROOT/usr/bin:$RUNC_ROOT/usr/sbin:$PATH
sock=/run/containerd/containerd.sock
containerd --config "$nd/containerd/config.toml" >"$CLUSTER_LOGS/containerd.log" 2>&1 </dev/null &
echo $! > "$CLUSTER_PIDS/containerd.pid"
for _ in $(seq 150); do
  ctr --address "$sock" version >/dev/null 2>&1 && break
  kill -0 "$(cat "$CLUSTER_PIDS/containerd.pid")" 2>/dev/null || { echo "containerd exited" >&2; exit 1; }
  sleep 0.1
done

# The sandbox (pause) image first, before kubelet can ask for it: nothing can
# be pulled. Without it no pod starts (fatal); a bad extra tarball only warns
# (node-up.sh repeats the warning), so one broken image does not stop the node.
first=1
while IFS= read -r img; do
  [[ -n "$img" ]] || continue
  if ! ctr --address "$sock" -n k8s.io images import --snapshotter overlayfs "$img" >&2; then
    (( first )) && { echo "FATAL: import of $img failed" >&2; exit 1; }
    echo "WARNING: import of $img failed" >&2
  fi
  first=0
done <<< "$NODE_IMAGES"

# shellcheck disable=SC2086 # KUBELET_FLAGS is a list of flags without spaces.
"$KUBELET_BIN" $KUBELET_FLAGS >"$CLUSTER_LOGS/kubelet.log" 2>&1 </dev/null &
echo $! > "$CLUSTER_PIDS/kubelet.pid"
# Keep the namespace's first process alive while its children run; node-down
# stops them by PID, and this script then returns.
wait
