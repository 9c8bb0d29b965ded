#!/usr/bin/env bash
# Makes sure Wapiti (the DAST backend that runs for real here) is installed:
# Debian's package `wapiti` (3.0.4 on Debian 12), which works offline. Prints
# the binary's path. Installing needs root (apt-get); without it, say how.
set -euo pipefail
if bin=$(command -v wapiti); then
  echo "$bin"
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "wapiti.sh: wapiti is not installed; install it with: sudo apt-get install -y wapiti" >&2
  exit 1
fi
echo "wapiti.sh: installing Debian's wapiti package" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends wapiti >&2
command -v wapiti
