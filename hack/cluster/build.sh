#!/usr/bin/env bash
# build.sh - build the local control plane's binaries (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok) from the Go module proxy
# through one wrapper module, into a cache directory keyed by their versions.
# A complete cache is reused as it is; an absent or partial one is rebuilt.
#
# `build.sh kubelet` builds kubelet alone (for NODE=real) from the same wrapper
# module into $CLUSTER_CACHE/kubelet, with its own marker: the control plane's
# bin directory and its marker are left as they are, so neither invalidates
# the other. It prints the kubelet binary's path.
#
# Prints the bin directory on stdout. Env: AEGIS_CACHE (default ~/.cache/aegis),
# K8S_VERSION, ETCD_VERSION, KWOK_VERSION.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.sh
. "$here/versions.sh"
log() { echo "cluster build: $*" >&2; }
t0=$SECONDS

# Version ldflags make the apiserver (and kubelet's node status) report a real version.
pkg=k8s.io/component-base/version
ld="-s -w -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"

# write_gomod DIR [EXTRA-TOOL...]: the wrapper module's go.mod.
write_gomod() {
  local dir=$1; shift
  # k8s.io/kubernetes replaces its staging modules with ./staging/src/...,
  # which a dependent module cannot see: replace each with its published tag.
  log "resolving k8s.io/kubernetes@v$K8S_VERSION"
  local kmod staging=0.${K8S_VERSION#1.}
  kmod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    printf 'module aegis.local/clustertools\n\ngo 1.26.0\n\n'
    printf 'require (\n\tk8s.io/kubernetes v%s\n\tgo.etcd.io/etcd/server/v3 v%s\n\tsigs.k8s.io/kwok v%s\n)\n\n' \
      "$K8S_VERSION" "$ETCD_VERSION" "$KWOK_VERSION"
    printf 'tool (\n\tgo.etcd.io/etcd/server/v3\n\tk8s.io/kubernetes/cmd/kube-apiserver\n\tk8s.io/kubernetes/cmd/kube-controller-manager\n\tk8s.io/kubernetes/cmd/kube-scheduler\n\tsigs.k8s.io/kwok/cmd/kwok\n'
    local t; for t in "$@"; do printf '\t%s\n' "$t"; done
    printf ')\n\n'
    echo 'replace ('
    # sample-cli-plugin and sample-controller are not in the graph nor on the proxy.
    sed -n '/^replace (/,/^)/p' "$kmod" | awk '/=>/ {print $1}' | grep -vE 'sample-(cli-plugin|controller)$' |
      while read -r m; do printf '\t%s => %s v%s\n' "$m" "$m" "$staging"; done
    echo ')'
  } > "$dir/go.mod"
  log "go mod tidy (downloads the modules once)"
  (cd "$dir" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod tidy)
}

if [[ "${1:-}" == kubelet ]]; then
  out=$CLUSTER_CACHE/kubelet
  if [[ -f "$out/.complete" ]]; then echo "$out/kubelet"; exit 0; fi
  # Its own copy of the wrapper module with one more tool line, so the control
  # plane's src (and its go.sum) stay exactly as build.sh left them.
  ksrc=$CLUSTER_CACHE/src-kubelet
  rm -rf "$out" "$out.partial" "$ksrc"
  mkdir -p "$out.partial" "$ksrc"
  if [[ -f "$CLUSTER_CACHE/src/go.mod" && -f "$CLUSTER_CACHE/src/go.sum" ]]; then
    cp "$CLUSTER_CACHE/src/go.sum" "$ksrc/"
    sed 's|^\tsigs.k8s.io/kwok/cmd/kwok$|&\n\tk8s.io/kubernetes/cmd/kubelet|' "$CLUSTER_CACHE/src/go.mod" > "$ksrc/go.mod"
  else
    write_gomod "$ksrc" k8s.io/kubernetes/cmd/kubelet
  fi
  log "building kubelet (about 35 s on a warm Go build cache, ~7 minutes on an empty one)"
  (cd "$ksrc" && GOTOOLCHAIN=local GOFLAGS="-trimpath -buildvcs=false -mod=mod" \
    go build -ldflags="$ld" -o "$out.partial/kubelet" k8s.io/kubernetes/cmd/kubelet)
  echo "$CLUSTER_STAMP" > "$out.partial/.complete"
  mv "$out.partial" "$out"
  log "kubelet done in $((SECONDS - t0)) s"
  echo "$out/kubelet"
  exit 0
fi

bin=$CLUSTER_BIN
if [[ -f "$bin/.complete" ]]; then
  echo "$bin"
  exit 0
fi

src=$CLUSTER_CACHE/src
rm -rf "$bin" "$src"
mkdir -p "$bin.partial" "$src"
write_gomod "$src"

log "building 5 binaries (about 10-20 minutes on 2 cores when nothing is cached)"
(cd "$src" && GOTOOLCHAIN=local GOFLAGS="-trimpath -buildvcs=false" go build -ldflags="$ld" -o "$bin.partial/" tool)
# etcd's main package is go.etcd.io/etcd/server/v3, whose binary is "server".
mv "$bin.partial/server" "$bin.partial/etcd"
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
  [[ -x "$bin.partial/$b" ]] || { log "missing $b after build"; exit 1; }
done
echo "$CLUSTER_STAMP" > "$bin.partial/.complete"
mv "$bin.partial" "$bin"
log "done in $((SECONDS - t0)) s"
echo "$bin"
