#!/usr/bin/env bash
# `make images`: build the example apps (apps/*) as static binaries and pack
# each into an image tarball (go run ./hack/images, go-containerregistry) in
# .cache/images/, one tarball per reference:
#
#   aegis.local/web:1.0      the vulnerable build (reflected XSS, no security headers)
#   aegis.local/web:1.1      the hardened build (-X main.hardened=true)
#   aegis.local/web:latest   the vulnerable build again, for the plain-yaml example's `:latest`
#   aegis.local/crasher:1.0  exits 1 after about a second (CrashLoopBackOff)
#   aegis.local/oomer:1.0    allocates until the kernel kills it (OOMKilled)
#
# Every image runs as 65532:65532 (non-root, so restricted Pod Security's
# runAsNonRoot holds without a runAsUser) and holds only its binary and /tmp.
# hack/cluster/node-import.sh imports the tarballs into the real node; the
# examples reference them with imagePullPolicy: IfNotPresent.
#
# IMAGES_DIR overrides the output directory. Prints the tarballs' paths.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
out=${IMAGES_DIR:-.cache/images}
uid=65532

mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The packer is built once rather than `go run` per image.
"$GO" build -o "$work/images" ./hack/images

# ref  app  tarball  [ldflags]
images=(
  "aegis.local/web:1.0 web web-1.0.tar -X main.version=1.0"
  "aegis.local/web:1.1 web web-1.1.tar -X main.version=1.1 -X main.hardened=true"
  "aegis.local/web:latest web web-latest.tar -X main.version=latest"
  "aegis.local/crasher:1.0 crasher crasher-1.0.tar"
  "aegis.local/oomer:1.0 oomer oomer-1.0.tar"
)

for row in "${images[@]}"; do
  read -r ref app tarball ldflags <<<"$row"
  bin="$work/$tarball.d/$app"
  mkdir -p "$(dirname "$bin")"
  # The packer writes a linux/amd64 image config.
  CGO_ENABLED=0 GOOS=linux GOARCH=amd64 "$GO" build -trimpath -buildvcs=false \
    -ldflags "-s -w ${ldflags:-}" -o "$bin" "./apps/$app"
  port_args=()
  [[ $app == web ]] && port_args=(-port 8080)
  "$work/images" -binary "$bin" -ref "$ref" -out "$out/$tarball" -user "$uid:$uid" "${port_args[@]}"
  echo "$out/$tarball"
done
