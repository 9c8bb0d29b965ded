#!/usr/bin/env bash
# `make demo`: aegis's main job on the bundled examples. Uses the cluster of
# AEGIS_KUBECONFIG, or the local control plane if it is up, else starts it
# (and stops it at the end); verifies each example (before -> after) with
# --shadow=both, checks that aegis reaches the verdict the example is built
# to show; every shadow namespace is torn down by aegis itself. Reports land
# in .cache/demo/<example>/ (SARIF, JSON, Markdown).
#
# SHADOW=off runs without a cluster (static checks only). NODE=real runs the
# pods for real (kubelet + containerd) from images of the apps in apps/.
set -uo pipefail
cd "$(dirname "$0")/.."
shadow=${SHADOW:-both}

# example  PATH  expected-exit
examples=(
  "kustomize-overlay overlays/prod 1"
  "plain-yaml . 0"
  "helm-values chart 0"
)

# Trivy runs by default (fail closed): build it into the tool cache first
# (about 20 minutes the first time, nothing later).
hack/tools/trivy.sh >/dev/null || { echo "demo: could not build Trivy (hack/tools/trivy.sh)" >&2; exit 3; }

kube_args=()
if [[ "$shadow" != off && "${NODE:-kwok}" == real ]]; then
  # Real pods need the example apps' images: built here, imported by the
  # node when it starts (or now, into a node that is already up).
  hack/build-images.sh >&2 || exit 3
  if NODE=real hack/cluster/status.sh >/dev/null; then
    hack/cluster/node-import.sh .cache/images/*.tar >&2 || exit 3
  fi
fi
if [[ "$shadow" != off ]]; then
  kubeconfig=${AEGIS_KUBECONFIG:-$(hack/cluster/status.sh || true)}
  if [[ -z "$kubeconfig" ]]; then
    echo "demo: starting the local control plane (hack/cluster/up.sh)" >&2
    kubeconfig=$(hack/cluster/up.sh) || { echo "demo: the local control plane did not start" >&2; exit 3; }
    trap 'hack/cluster/down.sh' EXIT
  fi
  kube_args=(--kubeconfig "$kubeconfig")
fi

status=0
for row in "${examples[@]}"; do
  read -r name path want <<<"$row"
  out=".cache/demo/$name"
  mkdir -p "$out"
  echo "\$ aegis verify --shadow=$shadow -c .aegis.yaml --base-dir examples/$name/before --head-dir examples/$name/after $path"
  bin/aegis verify --shadow="$shadow" "${kube_args[@]}" -c .aegis.yaml --base-dir "examples/$name/before" --head-dir "examples/$name/after" \
    --sarif "$out/aegis.sarif" --json "$out/report.json" --markdown "$out/comment.md" "$path"
  got=$?
  if [[ "$got" != "$want" ]]; then
    echo "demo: $name exited $got, expected $want" >&2
    status=1
  fi
  echo
done
if [[ $status == 0 ]]; then echo "demo: every example reached its expected verdict; reports in .cache/demo/"; fi
exit $status
