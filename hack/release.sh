#!/usr/bin/env bash
# release.sh - `make release`: what an aegis release ships, into DIST
# (default .cache/release/VERSION):
#
#   aegis_VERSION_OS_ARCH.tar.gz   static binaries (CGO_ENABLED=0) for
#                                  linux and darwin, amd64 and arm64, each
#                                  with LICENSE and README.md
#   checksums.txt                  SHA-256 of every asset (sha256sum -c)
#   aegis_VERSION.spdx.json        the SBOM of the binaries (Syft, SPDX)
#   aegis-argocd-install.yaml      the Argo CD install (plugin/install),
#                                  rendered with the image pinned to
#                                  ghcr.io/kube-sentient/aegis:VERSION@DIGEST
#
# and the image:
#
#   --snapshot      (what .ci/run does) builds the image here with
#                   hack/image.sh (linux/amd64, aegis-image_VERSION.tar and
#                   its SBOM aegis-image_VERSION.spdx.json) and pins the
#                   install to that image's digest. Nothing is pushed or
#                   signed.
#   --image-digest sha256:...
#                   (what .github/workflows/release.yml does, after
#                   docker/build-push-action pushed the multi-platform
#                   image with provenance and signed it) pins the install to
#                   the pushed image; no image is built here.
#
#   hack/release.sh --snapshot [--version v1.2.3]
#   hack/release.sh --version v1.2.3 --image-digest sha256:...
#
# VERSION defaults to `git describe --tags --always --dirty`. Prints a table
# of the assets and how long each part took.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
t0=$SECONDS
export GOTOOLCHAIN=${GO_TOOLCHAIN:-$(sed -n 's/^toolchain //p' go.mod)}
snapshot=0 version="" digest=""
usage() { echo "usage: hack/release.sh (--snapshot | --image-digest sha256:HEX) [--version VERSION]" >&2; exit 2; }
while (($#)); do
  case $1 in
  --snapshot) snapshot=1 ;;
  --version) version=${2:-}; shift ;;
  --image-digest) digest=${2:-}; shift ;;
  *) usage ;;
  esac
  shift
done
((snapshot)) || [[ -n $digest ]] || usage
if [[ -n $digest && ! $digest =~ ^sha256:[0-9a-f]{64}$ ]]; then
  echo "release: --image-digest $digest: want sha256: and 64 hexadecimal digits" >&2
  exit 2
fi
version=${version:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
if [[ ! $version =~ ^[0-9A-Za-z][0-9A-Za-z._+-]*$ ]]; then
  echo "release: version $version: letters, digits, . _ + - only" >&2
  exit 2
fi
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dist=${DIST:-$repo/.cache/release/$version}
image=ghcr.io/kube-sentient/aegis
rm -rf "$dist"
mkdir -p "$dist"
timings=()
step() { timings+=("$(printf '%-44s %5d s' "$1" $((SECONDS - $2)))"); }

# 1. Static binaries, one archive per platform.
t=$SECONDS
for platform in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64; do
  os=${platform%/*} arch=${platform#*/}
  name=aegis_${version}_${os}_${arch}
  mkdir -p "$dist/$name"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X main.version=$version -X main.commit=$commit" -o "$dist/$name/aegis" ./cmd/aegis
  cp LICENSE README.md "$dist/$name/"
  tar -C "$dist" --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name -czf "$dist/$name.tar.gz" "$name"
done
# The linux/amd64 binary must be static and say its version.
file "$dist/aegis_${version}_linux_amd64/aegis" | grep -q 'statically linked' ||
  { echo "release: the linux/amd64 binary is not statically linked" >&2; exit 1; }
"$dist/aegis_${version}_linux_amd64/aegis" version | grep -qF "$version" ||
  { echo "release: the linux/amd64 binary does not report version $version" >&2; exit 1; }
step "binaries (4 platforms)" "$t"

# 2. The SBOM of the binaries (Syft reads each one's Go build information).
t=$SECONDS
syft=$(hack/tools/syft.sh)
SYFT_CHECK_FOR_APP_UPDATE=false "$syft" scan "dir:$dist" --quiet \
  --source-name aegis --source-version "$version" -o "spdx-json=$dist/aegis_${version}.spdx.json"
step "SBOM of the binaries (Syft)" "$t"

# 3. The image (snapshot: built here) and the digest the install pins.
t=$SECONDS
if ((snapshot)); then
  IMAGE_OUT=$dist/aegis-image_${version}.tar IMAGE_REF=$image:$version VERSION=$version hack/image.sh >/dev/null
  digest=$(sed -n 's/.*"digest":"\(sha256:[0-9a-f]*\)".*/\1/p' "$dist/aegis-image_${version}.tar.json")
  [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "release: no digest from hack/image.sh" >&2; exit 1; }
  echo "release: image $(cat "$dist/aegis-image_${version}.tar.json")"
  rm "$dist/aegis-image_${version}.tar.json"
  SYFT_CHECK_FOR_APP_UPDATE=false "$syft" scan "docker-archive:$dist/aegis-image_${version}.tar" --quiet \
    -o "spdx-json=$dist/aegis-image_${version}.spdx.json"
  step "image (hack/image.sh) and its SBOM" "$t"
fi

# 4. The Argo CD install, pinned to the image by tag and digest.
t=$SECONDS
offline=()
# The snapshot runs where GitHub is not reachable: the tests' copy of Argo
# CD's repo-server Deployment stands in for Argo CD's remote install.yaml.
((snapshot)) && offline=(-offline plugin/testdata/argocd/argocd-repo-server-deployment.yaml)
go run ./hack/renderinstall -image "$image" -tag "$version" -digest "$digest" -out "$dist/aegis-argocd-install.yaml" "${offline[@]}"
grep -qF "$image:$version@$digest" "$dist/aegis-argocd-install.yaml" ||
  { echo "release: the rendered install does not reference $image:$version@$digest" >&2; exit 1; }
step "Argo CD install, pinned" "$t"

# 5. Checksums of every asset (not the unpacked directories).
for name in "$dist"/aegis_"${version}"_*/; do rm -rf "$name"; done
(cd "$dist" && find . -maxdepth 1 -type f -printf '%f\n' | sort | xargs sha256sum >"$dist.checksums" && mv "$dist.checksums" checksums.txt)
(cd "$dist" && sha256sum --quiet -c checksums.txt)

echo "release $version ($commit) in $dist, image $image:$version@$digest"
(cd "$dist" && find . -maxdepth 1 -type f -printf '%10s  %f\n' | sort -k2)
printf '%s\n' "${timings[@]}"
echo "release: $((SECONDS - t0)) s in all"
