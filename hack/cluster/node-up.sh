#!/usr/bin/env bash
# node-up.sh - add a real node (kubelet + containerd + runc + bridge CNI) to
# the local control plane that up.sh started; up.sh runs it when NODE=real.
# Real containers run, readiness and liveness probes are executed, memory
# limits are enforced by the kernel, `kubectl logs`/port-forward work.
#
# - Binaries: build-node.sh (kubelet from the wrapper module; Debian's
#   containerd, runc, CNI plugins unpacked into a versioned cache).
# - Images: nothing can be pulled. The pause image is built from
#   hack/cluster/pause and packed by hack/images; every *.tar in IMAGES_DIR
#   (default <repo>/.cache/images) is imported too; node-import.sh adds more
#   to a running node. Pods must use imagePullPolicy: Never or IfNotPresent.
# - Host: containerd and kubelet run in one private mount namespace
#   (node-ns.sh) with /run, /var/lib and /var/log bind-mounted from
#   $CLUSTER_DIR/node, so nothing is written there. What they do change on the
#   host (sysctls, kubepods cgroups, the CNI bridge) is recorded first under
#   $CLUSTER_DIR/node/host and undone by node-down.sh.
# - A stale node (crash, kill -9) is cleaned up first by node-down.sh.
#
# Env: CLUSTER_DIR, API_PORT, NODE_NAME (aegis-node-0), NODE_IP (the address of
# the default route's interface; loopback is refused by kubelet),
# KUBELET_PORT (10250), KUBELET_HEALTHZ_PORT (10248), POD_SUBNET (10.88.0.0/24),
# CNI_BRIDGE (aegis0), IMAGES_DIR. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/versions.sh"

dir=${CLUSTER_DIR:-$repo/.cache/cluster}
dir=$(cd "$dir" && pwd)
API_PORT=${API_PORT:-36443}
NODE_NAME=${NODE_NAME:-aegis-node-0}
KUBELET_PORT=${KUBELET_PORT:-10250} KUBELET_HEALTHZ_PORT=${KUBELET_HEALTHZ_PORT:-10248}
POD_SUBNET=${POD_SUBNET:-10.88.0.0/24} CNI_BRIDGE=${CNI_BRIDGE:-aegis0}
IMAGES_DIR=${IMAGES_DIR:-$repo/.cache/images}
nd=$dir/node
t0=$(date +%s%N)
log() { printf 'node    [%5.1fs] %s\n' "$(( ($(date +%s%N) - t0) / 1000000 ))e-3" "$*" >&2; }
die() { log "$*"; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (mount namespaces, cgroups, the CNI bridge)"
# The node hides the host's /run, /var/lib and /var/log behind its own: the
# cluster dir must not live under them or it would vanish inside.
case $dir/ in /run/*|/var/run/*|/var/lib/*|/var/log/*) die "CLUSTER_DIR $dir is under /run, /var/lib or /var/log";; esac
[[ -f "$dir/kubeconfig" && -f "$dir/token" ]] || die "no control plane in $dir: run up.sh first"
api() { curl -sf --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $(cat "$dir/token")" "$@"; }
url=https://127.0.0.1:$API_PORT
api "$url/readyz" >/dev/null || die "the control plane in $dir does not answer on $API_PORT"
[[ -f "$dir/pki/kubelet-client-ca.crt" ]] || die "no kubelet client CA in $dir/pki: restart the control plane with this up.sh"

mapfile -t roots < <("$here/build-node.sh")
(( ${#roots[@]} == 4 )) || die "build-node.sh failed"
kubelet=${roots[0]} containerd_root=${roots[1]} runc_root=${roots[2]} cni_root=${roots[3]}
log "binaries ready"

# A node left by a crash (or a previous run) goes first: its processes,
# cgroups, bridge and sysctls.
CLUSTER_DIR=$dir "$here/node-down.sh" --keep-node-object || true
rm -rf "$nd"
mkdir -p "$nd"/{host,images,bin,containerd,cni/net.d,run,varlib,varlog} "$dir/logs" "$dir/pids"

if [[ -z "${NODE_IP:-}" ]]; then
  NODE_IP=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
  [[ -n "$NODE_IP" ]] || NODE_IP=$(ip -4 -o addr show scope global | awk 'NR==1 {split($4, a, "/"); print a[1]}')
  [[ -n "$NODE_IP" ]] || die "no non-loopback IPv4 address for the node: set NODE_IP"
fi

# --- Record the host state the node will change, before it can change it.
# kubelet's setupKernelTunables sets the first six; the bridge plugin turns on
# forwarding. node-down.sh writes back those that differ.
sysctls=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
         kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward
         net.ipv6.conf.all.forwarding net.ipv6.conf.default.forwarding)
for s in "${sysctls[@]}"; do
  v=$(sysctl -n "$s" 2>/dev/null) && printf '%s=%s\n' "$s" "$v"
done > "$nd/host/sysctl-before"
# kubelet (cgroupfs driver, cgroupsPerQOS) creates <hierarchy>/kubepods in
# every cgroup hierarchy. One that exists already belongs to someone else.
for h in /sys/fs/cgroup/*/; do
  [[ -d "${h}kubepods" ]] && die "${h}kubepods exists: another kubelet runs on this host (or a node's state was deleted; remove it with node-down.sh)"
done
ls -d /sys/fs/cgroup/*/ | sed 's|/$||' > "$nd/host/cgroup-hierarchies"
if ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
  die "bridge $CNI_BRIDGE exists already: not ours to take over (ip link del $CNI_BRIDGE if it is a leftover)"
fi
echo "$CNI_BRIDGE" > "$nd/host/bridge"
log "host state recorded in $nd/host"

# --- Images: the pause image (pod sandbox) is built here; others come ready.
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$nd/bin/pause" "$repo/hack/cluster/pause"
go build -o "$nd/bin/images" "$repo/hack/images"
"$nd/bin/images" -binary "$nd/bin/pause" -ref "$PAUSE_REF" -out "$nd/images/pause.tar"
images=$nd/images/pause.tar
shopt -s nullglob
for f in "$IMAGES_DIR"/*.tar; do images+=$'\n'$(cd "$(dirname "$f")" && pwd)/$(basename "$f"); done
shopt -u nullglob
log "pause image built ($(( $(wc -l <<< "$images") - 1 )) more image(s) from $IMAGES_DIR)"

# --- containerd: CRI with the local pause image, runc from the deb, bridge CNI.
cat > "$nd/containerd/config.toml" <<TOML
version = 2
root = "$nd/containerd/root"
state = "$nd/containerd/state"
# The "opt" plugin would create /opt/containerd on the host; unused plugins off.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]
# The usual socket path inside the namespace (cAdvisor in kubelet looks for
# it there); the host sees it as $nd/run/containerd/containerd.sock.
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_REF"
  # Root here lacks CAP_SYS_RESOURCE: runc cannot set the -998
  # oom_score_adj CRI asks for sandboxes ("can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$runc_root/usr/sbin/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$cni_root/usr/lib/cni"
    conf_dir = "$nd/cni/net.d"
TOML
# No iptables binary here: no ipMasq (pods reach the host and each other, not
# the outside), no portmap. hairpinMode lets a pod reach itself.
cat > "$nd/cni/net.d/10-aegis.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "aegis",
  "plugins": [
    {"type": "bridge", "bridge": "$CNI_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_SUBNET"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "loopback"}
  ]
}
JSON

# --- kubelet. The API server authenticates to it with the client certificate
# up.sh made (--kubelet-client-certificate); anything else is refused.
cat > "$nd/kubelet-config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# These machines are cgroup v1, which kubelet refuses unless told otherwise.
failCgroupV1: false
failSwapOn: false
# containerd 1.6 cannot report its cgroup driver, and there is no systemd.
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $dir/pki/kubelet-client-ca.crt}
authorization: {mode: AlwaysAllow}
rotateCertificates: false
serverTLSBootstrap: false
evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%", nodefs.inodesFree: "2%"}
# Local images cannot be pulled again: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
YAML

# --- Start the namespace (node-ns.sh: mounts, containerd, imports, kubelet).
NODE_STATE=$nd CLUSTER_PIDS=$dir/pids CLUSTER_LOGS=$dir/logs \
CONTAINERD_ROOT=$containerd_root RUNC_ROOT=$runc_root KUBELET_BIN=$kubelet NODE_IMAGES=$images \
KUBELET_FLAGS="--config=$nd/kubelet-config.yaml --kubeconfig=$dir/kubeconfig --hostname-override=$NODE_NAME --node-ip=$NODE_IP --v=1" \
  setsid unshare --mount --propagation private "$here/node-ns.sh" >"$dir/logs/node-ns.log" 2>&1 </dev/null &
echo $! > "$dir/pids/node-ns.pid"
echo "$NODE_NAME" > "$nd/name"
# The namespace's identity: node-down.sh kills a recorded PID only if it is
# still in this namespace (PIDs can be reused after a crash).
for _ in $(seq 50); do
  ns=$(readlink "/proc/$(cat "$dir/pids/node-ns.pid")/ns/mnt" 2>/dev/null) || die "node-ns.sh exited: $(tail -5 "$dir/logs/node-ns.log")"
  [[ "$ns" != "$(readlink /proc/self/ns/mnt)" ]] && break
  sleep 0.02
done
echo "$ns" > "$nd/mntns"

ready() { api "$url/api/v1/nodes/$NODE_NAME" | tr -d ' \n' | grep -q '"type":"Ready","status":"True"'; }
end=$((SECONDS + 120))
until ready; do
  for p in node-ns containerd kubelet; do
    f=$dir/pids/$p.pid
    if [[ -f "$f" ]] && ! kill -0 "$(cat "$f")" 2>/dev/null; then
      log "$p exited; last lines of its log:"; tail -8 "$dir/logs/$p.log" >&2; exit 1
    fi
  done
  (( SECONDS < end )) || die "timed out waiting for node $NODE_NAME Ready; logs in $dir/logs"
  sleep 0.2
done
grep -h '^WARNING' "$dir/logs/node-ns.log" >&2 || true
echo real > "$dir/node-mode"
log "node $NODE_NAME Ready (InternalIP $NODE_IP, pods on $POD_SUBNET via $CNI_BRIDGE)"
