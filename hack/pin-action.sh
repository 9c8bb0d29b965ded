#!/usr/bin/env bash
# pin-action.sh - point action.yml at a release's prebuilt image.
#
#   hack/pin-action.sh VERSION [ACTION_YML]
#
# On main, action.yml runs `image: Dockerfile` (a workflow that uses
# kube-sentient/aegis@main builds the image: development only). A release's
# tagged commit runs the image the release pushed instead, so that a job
# pulls it rather than building it:
#
#   image: docker://ghcr.io/kube-sentient/aegis:VERSION
#
# .github/workflows/release.yml runs this, commits the result on top of the
# tag's commit and moves VERSION and the major tag (v1) to that commit
# (docs/releasing.md). Exactly one `image:` line under `runs:` must change.
set -euo pipefail
version=${1:-}
file=${2:-action.yml}
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
  { echo "pin-action: $version: want a release version such as v1.2.3" >&2; exit 2; }
n=$(grep -c '^  image: Dockerfile$' "$file" || true)
[[ $n == 1 ]] || { echo "pin-action: $file has $n lines '  image: Dockerfile', want exactly 1" >&2; exit 1; }
sed -i "s|^  image: Dockerfile\$|  image: docker://ghcr.io/kube-sentient/aegis:$version|" "$file"
echo "pin-action: $file runs ghcr.io/kube-sentient/aegis:$version"
