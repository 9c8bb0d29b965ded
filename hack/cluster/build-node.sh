#!/usr/bin/env bash
# build-node.sh - everything NODE=real needs besides the control plane, each
# cached on its own: kubelet (build.sh kubelet), and Debian bookworm's
# containerd, runc and containernetworking-plugins, fetched with
# `apt-get download` and unpacked with `dpkg -x` into
# $NODE_DEB_CACHE/<package>_<version>/root (nothing is installed system-wide).
#
# Prints, one per line: the kubelet binary, then the containerd, runc and CNI
# roots. Env: versions.sh's knobs (CONTAINERD_DEB, RUNC_DEB, CNI_DEB, ...).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.sh
. "$here/versions.sh"
log() { echo "node build: $*" >&2; }

kubelet=$("$here/build.sh" kubelet)

# unpack PACKAGE VERSION: prints the root the package is unpacked into.
unpack() {
  local pkg=$1 ver=$2 d tmp
  d=$NODE_DEB_CACHE/${pkg}_$ver
  if [[ -f "$d/.complete" ]]; then echo "$d/root"; return; fi
  local t0=$SECONDS
  rm -rf "$d"; tmp=$d.partial; rm -rf "$tmp"; mkdir -p "$tmp"
  # apt-get download needs package lists; a fresh machine may have none yet.
  # Sandbox::User=root: the _apt user cannot write into root's cache.
  if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >&2); then
    log "apt-get download $pkg=$ver failed: running apt-get update once"
    apt-get update -q >&2
    (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >&2)
  fi
  dpkg -x "$tmp"/*.deb "$tmp/root"
  rm -f "$tmp"/*.deb
  echo "$pkg=$ver" > "$tmp/.complete"
  mv "$tmp" "$d"
  log "$pkg $ver unpacked in $((SECONDS - t0)) s"
  echo "$d/root"
}

echo "$kubelet"
unpack containerd "$CONTAINERD_DEB"
unpack runc "$RUNC_DEB"
unpack containernetworking-plugins "$CNI_DEB"
