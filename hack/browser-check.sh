#!/usr/bin/env bash
# browser-check.sh - check aegis's PR comments in a real browser.
#
#   hack/browser-check.sh CASES_DIR SHOTS_DIR
#
# Renders every case of CASES_DIR (NAME.json + its Markdown; the format is
# in hack/screenshot/main.go's package comment) as GitHub shows a comment
# (goldmark + GFM + alerts, sanitised with GitHub's allowlist,
# github-markdown-css), loads it into one headless Chromium at 1280x800
# framed as in a pull request's conversation, and checks what a reviewer
# sees: the verdict and the named items in the first screen, the links,
# nothing wider than the comment. Writes the cases' screenshots into
# SHOTS_DIR. Exits 1 if a case fails.
#
# Installs what is missing: chromium and its
# fonts (apt-get), github-markdown-css and @primer/octicons (npm pack,
# pinned, into aegis's tool cache). Builds hack/screenshot (its own Go
# module) with the toolchain of go.mod's toolchain line, runs its tests
# (one of which drives Chromium), then the check.
set -euo pipefail
if (($# != 2)); then
  echo "usage: $0 CASES_DIR SHOTS_DIR" >&2
  exit 2
fi
t0=$SECONDS
cases=$(realpath "$1")
shots=$(realpath -m "$2")
cd "$(dirname "$0")/.."
repo=$PWD

MD_CSS_VERSION=5.9.0     # github-markdown-css: github-markdown-light.css
OCTICONS_VERSION=19.42.0 # @primer/octicons: the alerts' icons
work=$repo/.cache/browser-check
AEGIS_CACHE=${AEGIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aegis}
export GOTOOLCHAIN=${GO_TOOLCHAIN:-$(sed -n 's/^toolchain //p' go.mod)}
mkdir -p "$work" "$shots"

# 1. Chromium and fonts (Liberation Sans stands in for Helvetica/Arial, Noto
#    Color Emoji draws the comment's emoji).
debs=(chromium fonts-liberation fonts-noto-color-emoji)
missing=()
for d in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q '^install ok installed' || missing+=("$d")
done
if ((${#missing[@]})); then
  sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  echo "browser-check: installing ${missing[*]} (apt-get)" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. GitHub's stylesheet and octicons from npm, unpacked into the tool cache
#    (the same directories as hack/screenshot.sh).
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

# 3. Build and test the checker (the test runs two cases in Chromium).
(cd hack/screenshot && go build -o "$work/screenshot" .)
t1=$SECONDS
(cd hack/screenshot && SCREENSHOT_CSS=$css SCREENSHOT_OCTICONS=$octicons go test -count=1 ./...)
echo "browser-check: go test in $((SECONDS - t1)) s" >&2

# 4. The check.
t2=$SECONDS
rc=0
"$work/screenshot" check -cases "$cases" -css "$css" -octicons "$octicons" -shots "$shots" || rc=$?
echo "browser-check: check in $((SECONDS - t2)) s, $((SECONDS - t0)) s in all (exit $rc)" >&2
exit "$rc"
