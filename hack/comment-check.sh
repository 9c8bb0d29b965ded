#!/usr/bin/env bash
# comment-check.sh - `make comment-check`: aegis's PR comment and job summary,
# checked as a reviewer sees them, in a real browser.
#
# Runs the real aegis on the three examples (--shadow off, the repository's
# .aegis.yaml, Trivy from the tool cache as `make demo` does) into JSON
# reports; hack/commentcases renders each report's comment and job summary
# (with links at two made-up commits) and what must be seen, plus a large
# generated change (5,000 findings per state, 300 changed objects); then
# hack/browser-check.sh opens every page in one headless Chromium at
# 1280x800 and checks the first screen, the links and the widths.
#
# Screenshots go to .cache/comment-check/shots; UPDATE=1 copies the
# examples' into docs/images (the README shows one of them).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
t0=$SECONDS
work=$repo/.cache/comment-check
export GOTOOLCHAIN=${GO_TOOLCHAIN:-$(sed -n 's/^toolchain //p' go.mod)}
rm -rf "$work/cases" "$work/shots" "$work/reports"
mkdir -p "$work/cases" "$work/shots" "$work/reports"

make -s build BIN="$work/aegis" >/dev/null
PATH=$(dirname "$(hack/tools/trivy.sh)"):$PATH
export PATH

# example  PATH  (the exits of a decided verdict: 0 pass, 1 fail)
examples=(
  "kustomize-overlay overlays/prod"
  "plain-yaml ."
  "helm-values chart"
)
args=()
for row in "${examples[@]}"; do
  read -r name path <<<"$row"
  rc=0
  "$work/aegis" verify -q --shadow off -c .aegis.yaml --base-dir "examples/$name/before" --head-dir "examples/$name/after" \
    --json "$work/reports/$name.json" -o json "$path" >/dev/null || rc=$?
  if [[ $rc != 0 && $rc != 1 ]]; then
    echo "comment-check: aegis verify of examples/$name exited $rc" >&2
    exit 1
  fi
  args+=("$name=$work/reports/$name.json")
done
go run ./hack/commentcases -out "$work/cases" -shots "${args[@]}"
echo "comment-check: cases ready in $((SECONDS - t0)) s" >&2

hack/browser-check.sh "$work/cases" "$work/shots"

if [[ "${UPDATE:-0}" == 1 ]]; then
  mkdir -p docs/images
  for row in "${examples[@]}"; do
    read -r name _ <<<"$row"
    cp "$work/shots/$name-comment.png" "docs/images/$name-comment.png"
  done
  cp "$work/shots/kustomize-overlay-summary.png" docs/images/kustomize-overlay-summary.png
  echo "comment-check: screenshots copied into docs/images" >&2
fi
echo "comment-check: done in $((SECONDS - t0)) s" >&2
