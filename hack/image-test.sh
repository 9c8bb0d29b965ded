#!/usr/bin/env bash
# image-test.sh - `make image-test`: the image as the GitHub Action runs it.
#
# Builds the image (hack/image.sh; IMAGE_TAR names one already built), unpacks its file system (hack/imagepack
# -export, as a container runtime would see it), and runs its entrypoint,
# `aegis action`, in it (chroot, as the image's user 1001, the host's
# network: the local control plane on 127.0.0.1) on a pull_request event
# for a git repository holding examples/kustomize-overlay's base and head
# commits, with shadow: head against the local control plane (the
# kubeconfig input, as a workflow passes it from a secret). Checks:
#   - the step exits 1 (the example's gate fails) with verdict=fail in
#     GITHUB_OUTPUT and the verdict in the job summary;
#   - Trivy, git and Wapiti inside the image are the ones aegis uses (no
#     scanner reported missing but the opt-in ones);
#   - the head was deployed into a shadow namespace and healthy, and no
#     shadow namespace is left behind;
#   - the image's size (uncompressed, compressed) is printed.
# The file system is removed afterwards (never through a mount).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
t0=$SECONDS
export GOTOOLCHAIN=${GO_TOOLCHAIN:-$(sed -n 's/^toolchain //p' go.mod)}
uid=1001
die() { echo "image-test: $*" >&2; exit 1; }

kubeconfig=${AEGIS_KUBECONFIG:-$(hack/cluster/status.sh || true)}
if [[ -z $kubeconfig ]]; then
  kubeconfig=$(hack/cluster/up.sh) || die "the local control plane did not start"
fi

# IMAGE_TAR: an image hack/image.sh already built (the snapshot release's);
# else it is built here.
out=${IMAGE_TAR:-}
if [[ -z $out ]]; then
  out=$repo/.cache/image/aegis-test.tar
  IMAGE_OUT=$out IMAGE_REF=ghcr.io/kube-sentient/aegis:test hack/image.sh >/dev/null
  echo "image-test: image $(cat "$out.json")"
fi
[[ -s $out ]] || die "no image at $out"

root=$(mktemp -d /tmp/aegis-image-test.XXXXXX)
cleanup() {
  if mountpoint -q "$root/proc"; then umount -l "$root/proc"; fi
  if grep -qF " $root/" /proc/mounts; then
    echo "image-test: mounts remain under $root; not removing it" >&2
    return
  fi
  rm -rf "$root"
}
trap cleanup EXIT
go build -o "$root.imagepack" ./hack/imagepack
"$root.imagepack" -export "$out" -dir "$root"
rm -f "$root.imagepack"
mount -t proc proc "$root/proc"
for dev in null:1:3 zero:1:5 random:1:8 urandom:1:9; do
  IFS=: read -r name major minor <<<"$dev"
  [[ -c $root/dev/$name ]] || mknod -m 666 "$root/dev/$name" c "$major" "$minor"
done
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

# The workspace: a repository with the example's base and head commits.
ws=$root/github/workspace
mkdir -p "$ws" "$root/github/workflow" "$root/github/file_commands"
git -C "$ws" init -q -b main
git -C "$ws" config user.email t@example.com
git -C "$ws" config user.name test
cp -r examples/kustomize-overlay/before "$ws/deploy"
cp .aegis.yaml "$ws/.aegis.yaml"
git -C "$ws" add -A && git -C "$ws" commit -qm base
base=$(git -C "$ws" rev-parse HEAD)
rm -rf "$ws/deploy" && cp -r examples/kustomize-overlay/after "$ws/deploy"
git -C "$ws" add -A && git -C "$ws" commit -qm head
head=$(git -C "$ws" rev-parse HEAD)
cat >"$root/github/workflow/event.json" <<JSON
{"action": "synchronize", "number": 7,
 "pull_request": {"number": 7,
   "base": {"sha": "$base", "ref": "main", "repo": {"full_name": "acme/shop"}},
   "head": {"sha": "$head", "ref": "fix", "repo": {"full_name": "acme/shop"}}},
 "repository": {"full_name": "acme/shop"}}
JSON
: >"$root/github/file_commands/output"
: >"$root/github/file_commands/summary"
chown -R "$uid:$uid" "$root/github"

env_args=(
  HOME=/home/aegis PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  GITHUB_ACTIONS=true GITHUB_WORKSPACE=/github/workspace GITHUB_EVENT_NAME=pull_request
  GITHUB_EVENT_PATH=/github/workflow/event.json GITHUB_OUTPUT=/github/file_commands/output
  GITHUB_STEP_SUMMARY=/github/file_commands/summary GITHUB_REPOSITORY=acme/shop
  GITHUB_SERVER_URL=https://github.com GITHUB_API_URL=https://api.github.com GITHUB_RUN_ID=1
  GITHUB_SHA="$head" GITHUB_REF=refs/pull/7/merge RUNNER_TEMP=/tmp
  INPUT_PATH=deploy/overlays/prod INPUT_SHADOW=head "INPUT_KUBECONFIG=$(cat "$kubeconfig")"
  INPUT_COMMENT=false INPUT_UPLOAD-SARIF=false INPUT_REPORT-JSON=/github/workspace/aegis-report.json
  INPUT_SHADOW-TIMEOUT=3m
)
rc=0
t1=$SECONDS
chroot --userspec="$uid:$uid" "$root" /usr/bin/env -i -C /github/workspace "${env_args[@]}" /usr/local/bin/aegis action \
  >"$root.stdout" 2>"$root.stderr" || rc=$?
echo "image-test: aegis action exited $rc in $((SECONDS - t1)) s"
show() { sed 's/^/   | /' "$root.stderr" | tail -40; }
[[ $rc == 1 ]] || { show; die "want exit 1 (the example fails its gate), got $rc"; }
awk '/^verdict<</ { getline v; print v }' "$root/github/file_commands/output" | grep -qx fail ||
  { cat "$root/github/file_commands/output"; die "GITHUB_OUTPUT has no verdict fail"; }
grep -q 'aegis: FAIL' "$root/github/file_commands/summary" || die "the job summary has no FAIL verdict"
rep=$ws/aegis-report.json
[[ -s $rep ]] || die "no JSON report"
go run ./hack/imagecheck -report "$rep" -kubeconfig "$kubeconfig"
rm -f "$root.stdout" "$root.stderr"
echo "image-test: passed in $((SECONDS - t0)) s"
