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
