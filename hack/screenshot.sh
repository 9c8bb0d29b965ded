#!/usr/bin/env bash
# screenshot.sh - the README's picture of the PR comment: docs/images/comment.png.
#
# Runs the real aegis on examples/kustomize-overlay (-c examples/policy.yaml,
# --shadow off: no cluster) with --markdown, renders that comment as GitHub
# does (hack/screenshot, its own Go module: goldmark + GFM + GitHub's alerts,
# styled with github-markdown-css from npm) into a page framed like a
# timeline comment 900 px wide, screenshots it with headless Chromium at a
# device scale factor of 1, and trims the empty bottom. Folds stay closed,
# as a reviewer first sees the comment (OPEN=1 opens them).
#
# Installs what is missing: chromium and its fonts (apt-get), the npm
# packages github-markdown-css and @primer/octicons (npm pack, pinned, into
# aegis's tool cache; no node_modules), Trivy (hack/tools/trivy.sh, as
# `make demo` does: tens of minutes the first time on a machine).
#
#   hack/screenshot.sh            # writes docs/images/comment.png
#   OUT=/tmp/c.png hack/screenshot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

MD_CSS_VERSION=5.9.0    # github-markdown-css: github-markdown-light.css
OCTICONS_VERSION=19.42.0 # @primer/octicons: the alerts' icons
WIDTH=900                # the comment frame, in CSS pixels
out=${OUT:-$repo/docs/images/comment.png}
work=$repo/.cache/screenshot
AEGIS_CACHE=${AEGIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aegis}
export GOTOOLCHAIN=${GO_TOOLCHAIN:-$(sed -n 's/^toolchain //p' go.mod)}
mkdir -p "$work" "$(dirname "$out")"
t0=$SECONDS

# 1. Chromium and fonts (Liberation Sans stands in for Helvetica/Arial, Noto
#    Color Emoji draws the comment's emoji).
debs=(chromium fonts-liberation fonts-noto-color-emoji)
missing=()
for d in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q '^install ok installed' || missing+=("$d")
done
if ((${#missing[@]})); then
  sudo=(); [[ $(id -u) == 0 ]] || sudo=(sudo)
  echo "screenshot: installing ${missing[*]} (apt-get)" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. GitHub's stylesheet and octicons from npm, unpacked into the tool cache.
npm_unpack() { # package version -> prints the unpacked directory
  local pkg=$1 ver=$2 dir
  dir=$AEGIS_CACHE/tools/npm-${pkg//[@\/]/_}-$ver
  if [[ ! -f "$dir/.complete" ]]; then
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$pkg@$ver" >/dev/null && tar xzf ./*.tgz && rm -f ./*.tgz)
    touch "$dir/.complete"
  fi
  echo "$dir/package"
}
css=$(npm_unpack github-markdown-css "$MD_CSS_VERSION")/github-markdown-light.css
octicons=$(npm_unpack @primer/octicons "$OCTICONS_VERSION")/build/svg

# 3. The renderer and aegis (built here, not into bin/, with the version
#    without -dirty that a release would show).
(cd hack/screenshot && go build -o "$work/screenshot" .)
make -s build BIN="$work/aegis" VERSION="$(git describe --tags --always 2>/dev/null || echo dev)" >/dev/null
hack/tools/trivy.sh >/dev/null

# 4. The comment, from the example. The example fails its gate (exit 1);
#    3 is an infrastructure error.
rc=0
"$work/aegis" verify -q --shadow off -c examples/policy.yaml \
  --base-dir examples/kustomize-overlay/before --head-dir examples/kustomize-overlay/after \
  --markdown "$work/comment.md" overlays/prod >/dev/null || rc=$?
if [[ $rc != 0 && $rc != 1 ]]; then
  echo "screenshot: aegis verify exited $rc" >&2
  exit 1
fi

# 5. Page, screenshot (a generous height, trimmed after), crop.
open_flag=(); height=${HEIGHT:-4000}
if [[ "${OPEN:-0}" == 1 ]]; then open_flag=(-open); height=${HEIGHT:-12000}; fi
"$work/screenshot" html -in "$work/comment.md" -css "$css" -octicons "$octicons" \
  -width "$WIDTH" "${open_flag[@]}" -out "$work/comment.html"
rm -f "$work/raw.png"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
  --user-data-dir="$work/chromium-profile" --window-size="$((WIDTH + 32)),$height" \
  --screenshot="$work/raw.png" "file://$work/comment.html" >"$work/chromium.log" 2>&1 ||
  { cat "$work/chromium.log" >&2; exit 1; }
[[ -s "$work/raw.png" ]] || { cat "$work/chromium.log" >&2; echo "screenshot: chromium wrote no PNG" >&2; exit 1; }
"$work/screenshot" crop -in "$work/raw.png" -out "$out"
echo "screenshot: $out ($(stat -c %s "$out") bytes) in $((SECONDS - t0)) s" >&2
