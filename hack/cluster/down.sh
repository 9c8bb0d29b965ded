#!/usr/bin/env bash
# down.sh - stop what up.sh started, by recorded PID only (never by name):
# TERM the controllers, kwok and the apiserver together, then etcd; KILL what
# is still alive after 5 s per phase. A real node (NODE=real) is stopped
# first by node-down.sh, which also undoes its host changes. Removes the
# cluster directory unless KEEP=1 (logs and data kept for debugging).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${CLUSTER_DIR:-$repo/.cache/cluster}

stop() {
  local pids=() name f pid p alive=()
  for name in "$@"; do
    f=$dir/pids/$name.pid
    [[ -f "$f" ]] || continue
    pid=$(cat "$f"); rm -f "$f"
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" && pids+=("$pid") && echo "stopping $name ($pid)" >&2; fi
  done
  (( ${#pids[@]} )) || return 0
  for _ in $(seq 50); do
    alive=(); for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    (( ${#alive[@]} )) || return 0
    sleep 0.1
  done
  for p in "${alive[@]}"; do kill -KILL "$p" 2>/dev/null && echo "killed $p" >&2; done
}
# A real node (NODE=real) first, while the API server can still delete its Node.
CLUSTER_DIR=$dir "$here/node-down.sh"
stop kwok kube-scheduler kube-controller-manager kube-apiserver
stop etcd
rm -f "$dir/ready"
[[ -n "${KEEP:-}" ]] || rm -rf "$dir"
exit 0
