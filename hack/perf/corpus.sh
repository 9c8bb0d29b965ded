#!/usr/bin/env bash
# Time and peak RSS of one render of three corpus kustomize apps and three
# corpus charts: aegis's render (render.Render in process) next to krusty
# alone (as `kustomize build` and Argo CD run it) and the Helm SDK alone
# (load, values, engine). Each figure is one process (hack/perf) running N
# renders: the median time, and that process's peak RSS. The corpus is read
# where it is (CORPUS, default ../shared/realworld), never copied.
# Usage: hack/perf/corpus.sh   Environment: CORPUS, PERF_RUNS (default 5).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
corpus=${CORPUS:-$root/../shared/realworld}
runs=${PERF_RUNS:-5}
bin=$(mktemp -d)/perf
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./hack/perf
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
echo "| source | objects | aegis render.Render, ms | aegis peak RSS, MiB | alone, ms | alone peak RSS, MiB | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row() { # row KIND ROOT PATH LABEL
  local alone=krusty a b
  [[ $1 == chart ]] && alone=helm
  [[ -d $2 ]] || { echo "| $4 | not in the corpus ($2) | | | | | |"; return; }
  a=$("$bin" -mode aegis -root "$2" -path "$3" -n "$runs" 2>/dev/null)
  b=$("$bin" -mode "$alone" -root "$2" -path "$3" -n "$runs" 2>/dev/null)
  printf '| %s (%s alone) | %s | %s | %s | %s | %s | %s |\n' "$4" "$alone" "$(field objects "$a")" \
    "$(field median_ms "$a")" "$(field peak_rss_mib "$a")" "$(field median_ms "$b")" "$(field peak_rss_mib "$b")" \
    "$(awk -v a="$(field median_ms "$a")" -v b="$(field median_ms "$b")" 'BEGIN {printf "%.2f", a / b}')"
}
k=$corpus/kustomize
row kustomize "$k/helloWorld" "" "kustomize helloWorld"
row kustomize "$k/wordpress" "" "kustomize wordpress"
row kustomize "$k/springboot" overlays/production "kustomize springboot/overlays/production"
c=$corpus/charts
row chart "$c/kube-state-metrics" "" "chart kube-state-metrics"
row chart "$c/prometheus-node-exporter" "" "chart prometheus-node-exporter"
row chart "$c/grafana" "" "chart grafana"
