# versions.sh - sourced by the cluster scripts: component versions and where
# their build is cached. The cache lives outside the clone so that a fresh
# clone (and CI) reuses it; delete it to force a rebuild.
K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.7.0}
KWOK_VERSION=${KWOK_VERSION:-0.8.0}
AEGIS_CACHE=${AEGIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aegis}
CLUSTER_STAMP="k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
CLUSTER_CACHE=$AEGIS_CACHE/cluster/$CLUSTER_STAMP
CLUSTER_BIN=$CLUSTER_CACHE/bin

# NODE=real only: kubelet is built by `build.sh kubelet` into the same
# versioned cache with its own marker (CLUSTER_STAMP is unchanged, so the
# control plane's cache stays valid); the runtime comes from Debian bookworm's
# packages, unpacked (never installed) into a cache keyed by their versions.
KUBELET_BIN=$CLUSTER_CACHE/kubelet/kubelet
CONTAINERD_DEB=${CONTAINERD_DEB:-1.6.20~ds1-1+deb12u3}
RUNC_DEB=${RUNC_DEB:-1.1.5+ds1-1+deb12u1}
CNI_DEB=${CNI_DEB:-1.1.1+ds1-3+b5}
NODE_DEB_CACHE=$AEGIS_CACHE/node-debs
# The sandbox image containerd uses for every pod: built from hack/cluster/pause.
PAUSE_REF=${PAUSE_REF:-registry.k8s.io/pause:3.10}
