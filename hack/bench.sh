#!/usr/bin/env bash
# Scripted comparison for `make bench`: aegis verify --shadow=off on a generated
# kustomize tree (base + overlay, both sides) against the kustomize CLI building
# the same two sides, plus aegis's peak RSS; the trivy-image scanner on 20
# images with a cold and a warm result cache; then the Go benchmarks.
#
# Usage: hack/bench.sh [RESOURCES]   (default 1000)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
resources=${1:-1000}
runs=${BENCH_RUNS:-5}
kustomize_version=v5.8.1
tools="$root/.cache/tools/kustomize-$kustomize_version"

if [[ ! -x "$tools/kustomize" ]]; then
  echo "bench: installing the kustomize CLI $kustomize_version into $tools" >&2
  GOBIN="$tools" go install "sigs.k8s.io/kustomize/kustomize/v5@$kustomize_version"
fi
make -s build

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go run ./hack/gentree -resources "$resources" -out "$work"

median_ms() { # runs a command $runs times, prints the median wall time in ms
  local times=()
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# The comparison with kustomize is about rendering: the external scanners
# (measured on their own below) are off for it.
cat >"$work/aegis.yaml" <<'YAML'
apiVersion: aegis.dev/v1alpha1
kind: Config
scanners:
  trivy: {enabled: false}
  trivy-image: {enabled: false}
YAML
aegis_both() { bin/aegis verify -q --output json --config "$work/aegis.yaml" --base "$work/before" --head "$work/after" overlays/prod; }
kustomize_both() { "$tools/kustomize" build "$work/before/overlays/prod" && "$tools/kustomize" build "$work/after/overlays/prod"; }

aegis_ms=$(median_ms aegis_both)
kustomize_ms=$(median_ms kustomize_both)
rss_kb=$( { /usr/bin/time -v bin/aegis verify -q --output json --config "$work/aegis.yaml" --base "$work/before" --head "$work/after" overlays/prod >/dev/null; } 2>&1 | awk -F': ' '/Maximum resident set size/ {print $2}')
ratio=$(awk -v a="$aegis_ms" -v k="$kustomize_ms" 'BEGIN {printf "%.2f", a / k}')

cat <<TXT
== render + verify, $resources resources per side (median of $runs runs)
aegis verify --shadow=off (both sides, posture scan, delta, gate): ${aegis_ms} ms
kustomize build (both sides, CLI $kustomize_version):              ${kustomize_ms} ms
ratio aegis / kustomize: ${ratio}   (goal <= 1.5)
aegis peak RSS: $(( rss_kb / 1024 )) MiB   (goal < 300 MiB)
TXT

echo "== trivy-image: 20 images across base and head, cold and warm result cache"
# The same lookup as the scanner: trivy in PATH, else hack/tools/trivy.sh's build.
trivy_bin=$(command -v trivy || true)
cached_trivy=${AEGIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aegis}/tools/trivy-v0.74.0/trivy
if [[ -z "$trivy_bin" && -x "$cached_trivy" ]]; then
  trivy_bin=$cached_trivy
fi
if [[ -n "$trivy_bin" ]]; then
  go run ./hack/imagebench -trivy "$trivy_bin"
elif [[ "${AEGIS_REQUIRE_TRIVY:-}" == 1 ]]; then
  echo "bench: AEGIS_REQUIRE_TRIVY=1 but there is no trivy in PATH nor at $cached_trivy (build it with hack/tools/trivy.sh)" >&2
  exit 1
else
  echo "skipped: no trivy in PATH nor at $cached_trivy (build it with hack/tools/trivy.sh; AEGIS_REQUIRE_TRIVY=1 makes this an error)"
fi

echo "== shadow overhead on the warm local control plane"
kubeconfig=${AEGIS_KUBECONFIG:-$(hack/cluster/status.sh || true)}
if [[ -z "$kubeconfig" ]]; then
  kubeconfig=$(hack/cluster/up.sh)
  trap 'rm -rf "$work"; hack/cluster/down.sh' EXIT
fi
go run ./hack/shadowbench -kubeconfig "$kubeconfig" -aegis bin/aegis -runs 3

echo "== go test -bench"
go test -run '^$' -bench . -benchmem ./report/ ./sarif/ ./scanners/posture/ ./render/ ./manifest/ 2>&1 | grep -E '^(Benchmark|ok|FAIL|---)'
