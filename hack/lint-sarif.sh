#!/usr/bin/env bash
# lint-sarif.sh - Microsoft's SARIF Multitool `validate` over the SARIF that
# aegis writes for the three bundled examples, offline once installed.
#
#  1. Builds aegis from this checkout and runs `aegis verify --shadow off`
#     (static: no cluster) on examples/kustomize-overlay, plain-yaml and
#     helm-values (before -> after), as `make demo` does with SHADOW=off,
#     with --sarif. The policy is examples/policy.yaml (posture and Trivy's
#     misconfiguration checks; no image scanning, which needs Trivy's
#     database) when Trivy is installed (in PATH or in aegis's tool cache,
#     where hack/tools/trivy.sh builds it), else a policy that also turns
#     Trivy off, so that only the posture scanner runs. The SARIF is written
#     as `aegis verify --sarif` writes it for upload (no absent results).
#  2. SARIF Multitool 5.7.0 (npm @microsoft/sarif-multitool-linux, installed
#     once into aegis's tool cache by hack/tools/sarif-multitool.sh) runs
#     `validate --level Error;Warning` on each file: the SARIF 2.1.0 schema
#     and the SDK's validation rules (SARIF1xxx errors, SARIF2xxx warnings;
#     its Note-level suggestions, such as code snippets, are not asked
#     for). Every result it reports fails the lint and is printed.
#  3. A self-test: logs with known defects (an "index": -1 sentinel,
#     SARIF2004; a driver version that is not numeric, SARIF2005) must be
#     reported, so that the lint cannot silently pass everything.
#
# Usage: hack/lint-sarif.sh
# Exit status: 0 clean; 1 the Multitool reported results; 2 the lint could
# not run (or its self-test failed).
# Environment: AEGIS_CACHE (default ~/.cache/aegis), SARIF_MULTITOOL_VERSION.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

die() { echo "lint-sarif.sh: $*" >&2; exit 2; }
say() { echo "lint-sarif.sh: $*"; }

case ${1:-} in
"") ;;
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
*) die "unknown argument $1 (usage: hack/lint-sarif.sh)" ;;
esac

# shellcheck source=hack/lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"
command -v jq >/dev/null || apt_install jq || die "jq is not installed (Debian: apt-get install jq)"
multitool=$(hack/tools/sarif-multitool.sh) || die "cannot install the SARIF Multitool (hack/tools/sarif-multitool.sh)"
# A .NET program: without ICU (libicu, absent from minimal Debian images) it
# aborts at start unless globalization is invariant, which validation never
# needs.
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# validate FILE: the Multitool's Error and Warning results on FILE, one per
# line ("FILE(line,col): warning RULE: path: message", as it prints them), on
# stdout. It exits 0 with results too: their number is read from the log it
# writes, the text from what it prints.
validate() {
  local out=$tmp/validate.sarif n lines
  rm -f "$out"
  "$multitool" validate --level "Error;Warning" --output "$out" "$1" >"$tmp/validate.log" 2>&1 ||
    { cat "$tmp/validate.log" >&2; die "the Multitool failed on $1"; }
  [[ -s $out ]] || { cat "$tmp/validate.log" >&2; die "the Multitool wrote no log for $1"; }
  n=$(jq '[.runs[].results[]?] | length' "$out")
  ((n > 0)) || return 0
  lines=$(grep -E ': (error|warning) [A-Z]+[0-9]+: ' "$tmp/validate.log" || true)
  if [[ $(grep -c . <<<"$lines") == "$n" ]]; then
    echo "$lines"
  else # the log, when the printed lines do not match it
    jq -r --arg file "$1" '.runs[].results[]? | "\($file)(\(.locations[0].physicalLocation.region.startLine // 0),\(.locations[0].physicalLocation.region.startColumn // 0)): \(.level // "warning") \(.ruleId): \(.message.arguments // [] | join("; "))"' "$out"
  fi
}

say "$("$multitool" --version 2>&1 | head -1) ($multitool)"

# 3 first: a lint that cannot fail proves nothing.
self_test() {
  local good=$1 n=0 failed=0
  # expect NAME RULE JQ-FILTER: the log made of the good one by the filter
  # must be reported with RULE.
  expect() {
    local f=$tmp/self-test-$1.sarif out
    jq "$3" "$good" >"$f"
    n=$((n + 1))
    out=$(validate "$f")
    if grep -q " $2: " <<<"$out"; then
      echo "  caught $1: $(grep -m1 " $2: " <<<"$out" | sed 's/^[^:]*: //' | cut -c1-160)"
    else
      echo "  NOT CAUGHT $1 (wanted $2): ${out:-no result}"
      failed=$((failed + 1))
    fi
  }
  say "self-test: logs with known defects must be reported"
  expect index-sentinel SARIF2004 '.runs[0].results[0].locations[0].physicalLocation.artifactLocation.index = -1'
  expect non-numeric-version SARIF2005 '.runs[0].tool.driver.version = "v1.2.3"'
  ((failed == 0)) || die "self-test FAILED: $failed of $n known-bad logs passed the lint"
  say "self-test: all $n known-bad logs caught"
}

# 1. The examples' SARIF.
say "building aegis"
go build -o "$tmp/aegis" ./cmd/aegis || die "go build ./cmd/aegis failed"

# shellcheck disable=SC2016 # the line of trivy.sh, read literally
trivy_version=$(sed -n 's/^TRIVY_VERSION=\${TRIVY_VERSION:-\(.*\)}$/\1/p' hack/tools/trivy.sh)
cache=${AEGIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aegis}
if command -v trivy >/dev/null || [[ -x $cache/tools/trivy-$trivy_version/trivy && -f $cache/tools/trivy-$trivy_version/.complete ]]; then
  policy=examples/policy.yaml
  say "Trivy is installed: policy $policy (posture and trivy)"
else
  policy=$tmp/policy.yaml
  cat >"$policy" <<'EOF'
apiVersion: aegis.dev/v1alpha1
kind: Config
failOn:
  severity: high
scanners:
  trivy:
    enabled: false
  trivy-image:
    enabled: false
EOF
  say "Trivy is not installed (hack/tools/trivy.sh builds it): posture only"
fi

# example PATH: as hack/demo.sh verifies them.
examples=(
  "kustomize-overlay overlays/prod"
  "plain-yaml ."
  "helm-values chart"
)
files=()
for row in "${examples[@]}"; do
  read -r name path <<<"$row"
  f=$tmp/$name.sarif
  s=0
  "$tmp/aegis" verify -q --shadow off -c "$policy" --base-dir "examples/$name/before" --head-dir "examples/$name/after" \
    --sarif "$f" "$path" >"$tmp/$name.out" 2>"$tmp/$name.err" || s=$?
  # 0 pass, 1 the gate failed (kustomize-overlay is built to): both wrote
  # the SARIF; 2 and 3 are errors.
  if ((s > 1)) || [[ ! -s $f ]]; then
    cat "$tmp/$name.err" >&2
    die "aegis verify on examples/$name exited $s"
  fi
  say "examples/$name: $(jq -r '[.runs[] | "\(.automationDetails.id) \(.results | length) results, \(.tool.driver.rules | length) rules"] | join("; ")' "$f")"
  files+=("$f")
done

self_test "${files[0]}"

# 2. The Multitool on each.
status=0
for f in "${files[@]}"; do
  out=$(validate "$f")
  if [[ -n $out ]]; then
    status=1
    echo "${out//"$tmp"\//}" # FILE is the example's name: <example>.sarif
  fi
done
if ((status == 0)); then
  say "OK: the Multitool reports nothing at Warning level on the ${#files[@]} examples' SARIF"
else
  say "FAIL: the Multitool reported the results above (file(line,column): level rule: message)"
fi
exit "$status"
