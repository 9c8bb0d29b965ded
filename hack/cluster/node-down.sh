#!/usr/bin/env bash
# node-down.sh - stop the real node that node-up.sh started and undo what it
# changed on the host; down.sh runs it first, and node-up.sh runs it to clean
# up after a crash. Safe to run when no node was started (does nothing).
#
# Processes are stopped by recorded PID only: kubelet, containerd and the
# namespace's first process from $CLUSTER_DIR/pids, the containers' PIDs from
# containerd's own records (init.pid) and their shims as their parents. A PID is signalled
# only while it still belongs to the node (its mount namespace, or for
# containers a kubepods cgroup), so a PID reused after a crash is left alone.
# Then: kubepods cgroups removed, the CNI bridge deleted, sysctls restored, the
# Node object deleted (unless --keep-node-object). Mounts need no unmounting:
# they live only in the private namespace, which ends with its last process.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${CLUSTER_DIR:-$repo/.cache/cluster}
API_PORT=${API_PORT:-36443}
nd=$dir/node
keep_node=; [[ "${1:-}" == --keep-node-object ]] && keep_node=1
log() { echo "node down: $*" >&2; }

[[ -d "$nd" ]] || exit 0
ns=$(cat "$nd/mntns" 2>/dev/null || true)

in_ns() { [[ -n "$ns" && "$(readlink "/proc/$1/ns/mnt" 2>/dev/null)" == "$ns" ]]; }
in_kubepods() { grep -q ':/kubepods' "/proc/$1/cgroup" 2>/dev/null; }
# stop SIGNAL TIMEOUT-TENTHS CHECK PID...: signal those that pass CHECK, wait
# for them to exit, KILL what is left at the deadline.
stop() {
  local sig=$1 tenths=$2 check=$3 p alive=(); shift 3
  for p in "$@"; do
    [[ "$p" =~ ^[0-9]+$ ]] && $check "$p" && kill "-$sig" "$p" 2>/dev/null && alive+=("$p")
  done
  for _ in $(seq "$tenths"); do
    local still=()
    for p in "${alive[@]}"; do kill -0 "$p" 2>/dev/null && still+=("$p"); done
    alive=("${still[@]}")
    (( ${#alive[@]} )) || return 0
    sleep 0.1
  done
  for p in "${alive[@]}"; do kill -KILL "$p" 2>/dev/null && log "killed $p"; done
  sleep 0.1
}
pidof_rec() { local f=$dir/pids/$1.pid; [[ -f "$f" ]] && cat "$f"; rm -f "$f"; }
task_pids() { # the PIDs containerd recorded for its tasks' first processes
  local f
  # The files hold a bare number without a newline: read them one by one.
  while IFS= read -r f; do echo "$(cat "$f" 2>/dev/null)"; done < <(find "$nd/containerd/state" -name init.pid 2>/dev/null)
}

# 1. kubelet first, so it does not restart what is stopped next.
kubelet=$(pidof_rec kubelet); [[ -n "$kubelet" ]] && log "stopping kubelet ($kubelet)"
stop TERM 50 in_ns $kubelet
# 2. The containers (pause included): KILL each task's init process; killing a
# PID namespace's init ends every process in it. containerd 1.6 records no
# shim PIDs: each task's shim is its init's parent (the shim is its subreaper).
inits=() shims=()
for p in $(task_pids); do
  [[ "$p" =~ ^[0-9]+$ ]] && in_kubepods "$p" || continue
  inits+=("$p")
  shims+=("$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null)")
done
stop KILL 30 in_kubepods "${inits[@]}"
# 3. containerd, then the shims it leaves behind.
containerd=$(pidof_rec containerd); [[ -n "$containerd" ]] && log "stopping containerd ($containerd)"
stop TERM 50 in_ns $containerd
stop KILL 30 in_ns "${shims[@]}"
# 4. The namespace's first process returns once its children are gone.
stop TERM 30 in_ns $(pidof_rec node-ns)
# Anything still in the namespace is a process the node started (an import
# via node-import.sh, say): report and stop it, so the namespace ends.
if [[ -n "$ns" ]]; then
  left=()
  for p in /proc/[0-9]*; do p=${p#/proc/}; in_ns "$p" && left+=("$p"); done
  if (( ${#left[@]} )); then
    log "still in the node's mount namespace: ${left[*]}"
    stop KILL 30 in_ns "${left[@]}"
  fi
fi

# 5. kubepods cgroups, deepest first. node-up.sh refused to start when one
# existed, so every one of them is the node's. rmdir can race the kernel's
# release of a just-killed task: retry briefly.
if [[ -f "$nd/host/cgroup-hierarchies" ]]; then
  for _ in $(seq 20); do
    rest=0
    while IFS= read -r h; do
      [[ -d "$h/kubepods" ]] || continue
      find "$h/kubepods" -depth -type d -exec rmdir {} + 2>/dev/null
      [[ -d "$h/kubepods" ]] && rest=1
    done < "$nd/host/cgroup-hierarchies"
    (( rest )) || break
    sleep 0.1
  done
  (( rest )) && log "could not remove every kubepods cgroup: $(ls -d /sys/fs/cgroup/*/kubepods 2>/dev/null | tr '\n' ' ')"
fi

# 6. The bridge (veths went with their pods' network namespaces).
if [[ -f "$nd/host/bridge" ]]; then
  br=$(cat "$nd/host/bridge")
  ip link show "$br" >/dev/null 2>&1 && ip link del "$br" && log "deleted bridge $br"
fi

# 7. sysctls back to what they were before node-up.
if [[ -f "$nd/host/sysctl-before" ]]; then
  while IFS='=' read -r k v; do
    [[ -n "$k" && "$(sysctl -n "$k" 2>/dev/null)" != "$v" ]] || continue
    sysctl -qw "$k=$v" && log "restored $k=$v"
  done < "$nd/host/sysctl-before"
fi

# 8. The Node object, when the API server still answers.
if [[ -z "$keep_node" && -f "$nd/name" && -f "$dir/token" ]]; then
  curl -sf --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $(cat "$dir/token")" -X DELETE \
    "https://127.0.0.1:$API_PORT/api/v1/nodes/$(cat "$nd/name")" -o /dev/null 2>/dev/null && log "deleted node $(cat "$nd/name")"
fi
rm -f "$dir/node-mode"
# The node's files (images, containerd root, logs of pods): the overlay mounts
# over them are gone with the namespace.
[[ -n "${KEEP:-}" ]] || rm -rf "$nd"
exit 0
