#!/usr/bin/env bash
# sarif-multitool.sh - install Microsoft's SARIF Multitool (the SARIF SDK's
# command-line validator, npm package @microsoft/sarif-multitool-linux: a
# self-contained .NET build for linux-x64) into aegis's tool cache (reused
# when present) and print the path of its binary.
#
# The package is installed with `npm install --prefix` into a temporary
# directory beside the cache entry, then moved into place, so that an
# interrupted install never leaves a half-filled entry behind. The cache
# directory is keyed by the Multitool version, like the other tools there.
#
# The binary is a .NET program: on a machine without ICU (libicu, absent
# from minimal Debian images) it aborts at start unless
# DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1, which callers should set (the
# validator needs no culture data).
#
# Environment: SARIF_MULTITOOL_VERSION (default 5.7.0), AEGIS_CACHE (default
# ~/.cache/aegis).
set -euo pipefail
SARIF_MULTITOOL_VERSION=${SARIF_MULTITOOL_VERSION:-5.7.0}
AEGIS_CACHE=${AEGIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aegis}
pkg=@microsoft/sarif-multitool-linux
dir=$AEGIS_CACHE/tools/sarif-multitool-$SARIF_MULTITOOL_VERSION
# The package's bin.js only spawns this file (index.js names it), through a
# shell; it is called directly instead. The package's postinstall script
# only makes it executable: scripts are not run (--ignore-scripts), the
# chmod is done here.
bin=$dir/node_modules/$pkg/Sarif.Multitool
if [[ -x "$bin" && -f "$dir/.complete" ]]; then
  echo "$bin"
  exit 0
fi
# shellcheck source=hack/lib/apt.sh
source "$(dirname "$0")/../lib/apt.sh"
command -v npm >/dev/null || apt_install npm ||
  { echo "sarif-multitool.sh: npm is not installed (Debian: apt-get install npm)" >&2; exit 1; }
mkdir -p "$AEGIS_CACHE/tools"
tmp=$(mktemp -d "$AEGIS_CACHE/tools/.sarif-multitool-$SARIF_MULTITOOL_VERSION.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "sarif-multitool.sh: installing $pkg@$SARIF_MULTITOOL_VERSION into $dir" >&2
t0=$SECONDS
npm install --prefix "$tmp" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
  "$pkg@$SARIF_MULTITOOL_VERSION" >&2
[[ -f "$tmp/node_modules/$pkg/Sarif.Multitool" ]] ||
  { echo "sarif-multitool.sh: $pkg@$SARIF_MULTITOOL_VERSION has no Sarif.Multitool binary" >&2; exit 1; }
chmod +x "$tmp/node_modules/$pkg/Sarif.Multitool"
DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 "$tmp/node_modules/$pkg/Sarif.Multitool" --version >&2 ||
  { echo "sarif-multitool.sh: the installed Multitool does not run" >&2; exit 1; }
touch "$tmp/.complete"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "sarif-multitool.sh: installed in $((SECONDS - t0)) s" >&2
echo "$bin"
