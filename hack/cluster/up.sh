#!/usr/bin/env bash
# up.sh - start aegis's local Kubernetes control plane on loopback: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kwok (a fake
# node, so pods schedule and turn Ready). Binaries come from build.sh (built
# once from the Go module proxy, cached by version). Generates certificates
# and a token, writes $CLUSTER_DIR/kubeconfig (printed on stdout), and records
# every PID under $CLUSTER_DIR/pids so down.sh stops exactly those.
#
# NODE=real (default kwok): no kwok; instead a real node (kubelet + containerd,
# see node-up.sh) runs the pods: real containers, probes, logs, port-forward.
#
# Env: CLUSTER_DIR (default <repo>/.cache/cluster), API_PORT (36443),
#      ETCD_PORT (32379), ETCD_PEER_PORT (32380), KCM_PORT (30257),
#      SCHED_PORT (30259), KWOK_PORT (30247) (a second instance needs its own
#      dir and ports), NODE (kwok|real), plus versions.sh's and node-up.sh's
#      knobs. Needs openssl and curl; NODE=real needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/versions.sh"

dir=${CLUSTER_DIR:-$repo/.cache/cluster}
ETCD_PORT=${ETCD_PORT:-32379} ETCD_PEER_PORT=${ETCD_PEER_PORT:-32380}
API_PORT=${API_PORT:-36443} KCM_PORT=${KCM_PORT:-30257} SCHED_PORT=${SCHED_PORT:-30259} KWOK_PORT=${KWOK_PORT:-30247}
SVC_CIDR=${SVC_CIDR:-10.96.0.0/16}
t0=$(date +%s%N)
log() { printf 'cluster [%5.1fs] %s\n' "$(( ($(date +%s%N) - t0) / 1000000 ))e-3" "$*" >&2; }

export NODE=${NODE:-kwok} # status.sh below checks the running cluster's kind
case $NODE in kwok|real) ;; *) echo "NODE=$NODE: want kwok or real" >&2; exit 2;; esac
bin=$("$here/build.sh")
# Build (or find cached) the node's binaries before anything is torn down.
[[ $NODE == real ]] && "$here/build-node.sh" >/dev/null

# A cluster already up and answering is reused; anything else is restarted
# (a crashed earlier run leaves stale PIDs: down.sh stops what is left).
if kc=$("$here/status.sh"); then
  log "already up"
  echo "$kc"
  exit 0
fi
"$here/down.sh" >/dev/null 2>&1 || true
rm -rf "$dir"
mkdir -p "$dir"/{pki,logs,pids,cmds,etcd}
pki=$dir/pki

openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
# The API server's client certificate towards kubelets (logs, exec,
# port-forward): the real node's kubelet trusts only this CA. Harmless for kwok.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
  -subj /CN=aegis-kubelet-client-ca -keyout "$pki/kubelet-client-ca.key" -out "$pki/kubelet-client-ca.crt" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" -keyout "$pki/apiserver-kubelet-client.key" 2>/dev/null |
  openssl x509 -req -days 3650 -CA "$pki/kubelet-client-ca.crt" -CAkey "$pki/kubelet-client-ca.key" -set_serial 1 \
    -extfile <(printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature') -out "$pki/apiserver-kubelet-client.crt" 2>/dev/null
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
umask 077
echo "$token" > "$dir/token"
echo "$token,aegis-admin,aegis-admin,\"system:masters\"" > "$pki/tokens.csv"
umask 022

start() { # name cmd...: detached, own session, PID recorded
  local name=$1; shift
  # The command line too (NUL-separated), so restart-apiserver.sh can start
  # the same process again after a fault-injection stop.
  printf '%s\0' "$@" > "$dir/cmds/$name"
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! > "$dir/pids/$name.pid"
}
wait_for() { # description timeout-seconds cmd...
  local what=$1 limit=$2; shift 2
  local end=$((SECONDS + limit)) f
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS >= end )); then log "timed out waiting for $what; logs in $dir/logs"; exit 1; fi
    for f in "$dir"/pids/*.pid; do
      if ! kill -0 "$(cat "$f")" 2>/dev/null; then
        local n; n=$(basename "$f" .pid)
        log "$n exited; last lines of $dir/logs/$n.log:"; tail -5 "$dir/logs/$n.log" >&2; exit 1
      fi
    done
    sleep 0.2
  done
  log "$what"
}

# etcd reads every ETCD_* variable as a flag: start it without them.
start etcd env $(env | grep -o '^ETCD_[A-Z_]*' | sed 's/^/-u /') "$bin/etcd" --name=default --data-dir="$dir/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="default=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --log-level=warn
wait_for "etcd healthy" 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"

start kube-apiserver "$bin/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
  --endpoint-reconciler-type=none --cert-dir="$pki" \
  --token-auth-file="$pki/tokens.csv" --authorization-mode=RBAC \
  --service-account-issuer=https://kubernetes.default.svc \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --service-cluster-ip-range="$SVC_CIDR" --profiling=false \
  --allow-privileged=true \
  --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP,Hostname
wait_for "kube-apiserver ready" 120 curl -sfk -H "Authorization: Bearer $token" "https://127.0.0.1:$API_PORT/readyz"

# The generated serving certificate is leaf + self-signed CA: the CA is the last block.
awk '/BEGIN CERTIFICATE/{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$pki/apiserver.crt" > "$pki/ca.crt"
kc=$dir/kubeconfig
umask 077
cat > "$kc" <<KC
apiVersion: v1
kind: Config
clusters:
- name: aegis-local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 < "$pki/ca.crt")
users:
- name: aegis-admin
  user:
    token: $token
contexts:
- name: aegis-local
  context: {cluster: aegis-local, user: aegis-admin}
current-context: aegis-local
KC
umask 022

start kube-controller-manager "$bin/kube-controller-manager" \
  --kubeconfig="$kc" --leader-elect=false --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
  --service-cluster-ip-range="$SVC_CIDR" --controllers='*'
start kube-scheduler "$bin/kube-scheduler" \
  --kubeconfig="$kc" --leader-elect=false --bind-address=127.0.0.1 --secure-port="$SCHED_PORT"

api() { curl -sf --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" "$@"; }
url=https://127.0.0.1:$API_PORT

if [[ $NODE == real ]]; then
  wait_for "controller-manager up (default ServiceAccount)" 120 api "$url/api/v1/namespaces/default/serviceaccounts/default"
  wait_for "scheduler healthy" 60 curl -sfk "https://127.0.0.1:$SCHED_PORT/healthz"
  CLUSTER_DIR=$dir API_PORT=$API_PORT "$here/node-up.sh" || { log "node-up failed; logs in $dir/logs"; exit 1; }
  touch "$dir/ready"
  log "ready (real node): export KUBECONFIG=$kc"
  echo "$kc"
  exit 0
fi

# kwok: its own stages for nodes and pods, plus aegis's failure stages.
kwok_src=$(go env GOMODCACHE)/sigs.k8s.io/kwok@v$KWOK_VERSION/kustomize/stage
[[ -d "$kwok_src" ]] || go mod download "sigs.k8s.io/kwok@v$KWOK_VERSION"
{
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo '---'; cat "$kwok_src/$f"
  done
  for f in "$here"/stages/*.yaml; do echo '---'; cat "$f"; done
} > "$dir/kwok.yaml"
# HOME points at the cluster dir so kwok does not read ~/.kwok.
HOME=$dir start kwok "$bin/kwok" --kubeconfig="$kc" --config="$dir/kwok.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds=40 --cidr=10.244.0.0/16 --node-ip=127.0.0.1 \
  --server-address="127.0.0.1:$KWOK_PORT"

wait_for "controller-manager up (default ServiceAccount)" 120 api "$url/api/v1/namespaces/default/serviceaccounts/default"
api -X POST -H 'Content-Type: application/json' "$url/api/v1/nodes" -o /dev/null -d '{
  "apiVersion": "v1", "kind": "Node",
  "metadata": {"name": "kwok-node-0",
    "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
    "labels": {"kubernetes.io/hostname": "kwok-node-0", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok"}},
  "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
             "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
             "nodeInfo": {"architecture": "amd64", "kubeletVersion": "fake", "operatingSystem": "linux"}}}'
node_ready() { api "$url/api/v1/nodes/kwok-node-0" | tr -d ' \n' | grep -q '"type":"Ready","status":"True"'; }
wait_for "node kwok-node-0 Ready" 60 node_ready
wait_for "scheduler healthy" 60 curl -sfk "https://127.0.0.1:$SCHED_PORT/healthz"
echo kwok > "$dir/node-mode"
touch "$dir/ready"
log "ready: export KUBECONFIG=$kc"
echo "$kc"
