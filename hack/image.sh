#!/usr/bin/env bash
# image.sh - `make image`: aegis's image, built on this machine the way the
# Dockerfile builds it, without a Docker engine:
#
#   1. the runtime's root filesystem: mmdebstrap of Debian 12 (bookworm)
#      with the Dockerfile's packages (ca-certificates, git, wapiti),
#      documentation and locales left out (copyright files kept), the
#      user aegis (uid and gid 1001: GitHub's runner user, see
#      docs/github-action.md#the-image) and git's safe.directory; cached
#      in ~/.cache/aegis/image-rootfs-<key> (key: these settings), reused
#      when present;
#   2. aegis (static, this checkout) and Trivy (hack/tools/trivy.sh's
#      build stands in for the official Trivy image's binary, which the
#      Dockerfile copies by digest) on top;
#   3. packed with go-containerregistry (hack/imagepack) into a
#      docker-archive tarball, IMAGE_OUT (default .cache/image/aegis.tar),
#      tagged IMAGE_REF (default ghcr.io/kube-sentient/aegis:VERSION).
#
# Prints the image's digest and sizes as JSON (IMAGE_OUT.json too).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
# shellcheck source=lib/apt.sh disable=SC1091
source hack/lib/apt.sh
t0=$SECONDS
export GOTOOLCHAIN=${GO_TOOLCHAIN:-$(sed -n 's/^toolchain //p' go.mod)}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
out=${IMAGE_OUT:-$repo/.cache/image/aegis.tar}
ref=${IMAGE_REF:-ghcr.io/kube-sentient/aegis:$VERSION}
AEGIS_CACHE=${AEGIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aegis}
uid=1001
mkdir -p "$(dirname "$out")"

# The packages and settings of the root filesystem: the cache key.
packages=ca-certificates,git,wapiti
mm_args=(
  --variant=essential --include="$packages" --components=main
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias'
  --customize-hook="echo 'aegis:x:$uid:$uid::/home/aegis:/usr/sbin/nologin' >> \"\$1/etc/passwd\""
  --customize-hook="echo 'aegis:x:$uid:' >> \"\$1/etc/group\""
  --customize-hook="mkdir -p \"\$1/home/aegis\" && chown $uid:$uid \"\$1/home/aegis\""
  --customize-hook="printf '[safe]\\n\\tdirectory = *\\n' > \"\$1/etc/gitconfig\""
  --customize-hook="rm -rf \"\$1\"/var/lib/apt/lists/* \"\$1\"/var/cache/apt/* \"\$1\"/var/log/*"
)
key=$(printf '%s\n' bookworm "${mm_args[@]}" | sha256sum | cut -c1-16)
rootfs_dir=$AEGIS_CACHE/image-rootfs-$key
rootfs=$rootfs_dir/rootfs.tar
mkdir -p "$AEGIS_CACHE"
# One build of the root filesystem at a time (two would write one file).
exec 9>"$AEGIS_CACHE/image-rootfs.lock"
flock 9
if [[ ! -f $rootfs_dir/.complete ]]; then
  command -v mmdebstrap >/dev/null || apt_install mmdebstrap ||
    { echo "image: mmdebstrap is missing; install Debian's mmdebstrap package" >&2; exit 3; }
  echo "image: building the root filesystem (mmdebstrap bookworm: $packages) into $rootfs_dir" >&2
  # A build killed midway can leave /proc or /sys mounted under its
  # directory: never rm -rf through a mount.
  if grep -qF " $rootfs_dir/" /proc/mounts; then
    echo "image: file systems are still mounted under $rootfs_dir (a killed build?); unmount them (umount -R) first" >&2
    exit 3
  fi
  rm -rf "$rootfs_dir" && mkdir -p "$rootfs_dir"
  t1=$SECONDS
  mmdebstrap --quiet "${mm_args[@]}" bookworm "$rootfs_dir/partial-$$.tar" >&2
  mv "$rootfs_dir/partial-$$.tar" "$rootfs"
  touch "$rootfs_dir/.complete"
  echo "image: root filesystem built in $((SECONDS - t1)) s" >&2
else
  echo "image: root filesystem from the cache ($rootfs_dir)" >&2
fi
flock -u 9

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make -s build BIN="$work/aegis" VERSION="$VERSION" >/dev/null
trivy=$(hack/tools/trivy.sh)
go build -o "$work/imagepack" ./hack/imagepack
"$work/imagepack" -rootfs "$rootfs" -add "$work/aegis=/usr/local/bin/aegis" -add "$trivy=/usr/local/bin/trivy" \
  -user "$uid:$uid" -entrypoint /usr/local/bin/aegis -arg --help -ref "$ref" -out "$out" \
  -label "org.opencontainers.image.source=https://github.com/kube-sentient/aegis" \
  -label "org.opencontainers.image.version=$VERSION" >"$out.json"
cat "$out.json"
echo "image: $out ($ref) in $((SECONDS - t0)) s" >&2
