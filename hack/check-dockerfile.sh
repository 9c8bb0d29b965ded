#!/usr/bin/env bash
# check-dockerfile.sh - check the Dockerfile without a Docker engine:
#  1. lint it with BuildKit's own Dockerfile linter (every rule, the file's
#     "# check=error=true;experimental=all") and aegis's image rules
#     (hack/tools/dockerfilelint, its own module: BuildKit's dependencies
#     stay out of the main module);
#  2. copy the build context as the builder would send it (.dockerignore
#     applied) and run the build stage's commands in it, as the Dockerfile
#     writes them (/out moved to a temporary directory): the aegis binary
#     must be statically linked (file, ldd) and run;
#  3. the Trivy stage is the official image by digest: its form is checked
#     (no registry is reachable here to pull it; hack/image.sh builds the
#     image with hack/tools/trivy.sh's build standing in);
#  4. the runtime stage: its apt-get and useradd would change this machine,
#     so they are not run; the script checks git is there (Debian 12, as
#     debian:12-slim) and runs the binary as uid 1001, the image's USER.
# Prints what it does and how long each part took.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lint() { (cd hack/tools/dockerfilelint && go run . "$@"); }

echo "== 1. BuildKit lint and image rules"
t0=$SECONDS
lint -context "$root" "$root/Dockerfile"
echo "   ($((SECONDS - t0)) s)"

echo "== 2. stage build: static aegis"
t0=$SECONDS
want_go=$(sed -n 's/^ARG GO_VERSION=//p' Dockerfile)
have_go=$(go env GOVERSION)
[[ "$have_go" == "go$want_go" ]] || echo "   note: the Dockerfile builds with Go $want_go, this machine has $have_go"
lint -copy-context "$work/context" -context "$root" "$root/Dockerfile"
lint -emit build -out "$work/out" "$root/Dockerfile" >"$work/build.sh"
sed 's/^/   | /' "$work/build.sh"
(cd "$work/context" && bash "$work/build.sh")
bin=$work/out/aegis
file "$bin"
file "$bin" | grep -q 'statically linked' || { echo "aegis is not statically linked" >&2; exit 1; }
if ldd "$bin" >/dev/null 2>&1; then echo "ldd found dynamic dependencies in aegis" >&2; exit 1; fi
echo "   ldd: not a dynamic executable"
"$bin" version
echo "   ($((SECONDS - t0)) s)"

echo "== 3. stage trivy: the official image, by digest"
# The image rules (step 1) checked its form: aquasec/trivy at Trivy's
# release, pinned by sha256. No registry is reachable here to pull it;
# hack/image.sh builds the image with hack/tools/trivy.sh's build of the same
# release standing in for its binary.
trivy_version=$(sed -n 's/^ARG TRIVY_VERSION=//p' Dockerfile)
trivy_digest=$(sed -n 's/^ARG TRIVY_DIGEST=//p' Dockerfile)
echo "   FROM aquasec/trivy:$trivy_version@$trivy_digest (release.yml passes the resolved, verified digest)"
[[ $trivy_digest =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "TRIVY_DIGEST's default is not sha256:<64 hex>" >&2; exit 1; }

echo "== 4. stage runtime (not run: apt-get and useradd would change this machine)"
command -v git >/dev/null || { echo "git missing (the runtime stage installs it)" >&2; exit 1; }
git --version
uid=$(sed -n 's/^ARG AEGIS_UID=//p' Dockerfile)
mkdir -p "$work/rootfs/usr/local/bin"
cp "$bin" "$work/rootfs/usr/local/bin/aegis"
chmod -R a+rX "$work"
setpriv --reuid "$uid" --regid "$uid" --clear-groups "$work/rootfs/usr/local/bin/aegis" version
echo "   aegis runs as uid $uid, the image's USER"
echo "== Dockerfile checked"
