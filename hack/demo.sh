#!/usr/bin/env bash
# `make demo`: verify each bundled example (before -> after) and check that
# aegis reaches the verdict the example is built to show. Reports land in
# .cache/demo/<example>/ (SARIF, JSON, Markdown).
set -uo pipefail
cd "$(dirname "$0")/.."

# example  PATH  expected-exit
examples=(
  "kustomize-overlay overlays/prod 1"
  "plain-yaml . 0"
  "helm-values chart 0"
)

status=0
for row in "${examples[@]}"; do
  read -r name path want <<<"$row"
  out=".cache/demo/$name"
  mkdir -p "$out"
  echo "\$ aegis verify --base examples/$name/before --head examples/$name/after $path"
  bin/aegis verify --base "examples/$name/before" --head "examples/$name/after" \
    --sarif "$out/aegis.sarif" --json "$out/report.json" --markdown "$out/comment.md" "$path"
  got=$?
  if [[ "$got" != "$want" ]]; then
    echo "demo: $name exited $got, expected $want" >&2
    status=1
  fi
  echo
done
[[ $status == 0 ]] && echo "demo: every example reached its expected verdict; reports in .cache/demo/"
exit $status
