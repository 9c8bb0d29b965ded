#!/usr/bin/env bash
# govulncheck.sh - govulncheck on the main module, offline.
#
#  1. installs golang.org/x/vuln/cmd/govulncheck at a pinned version into
#     aegis's tool cache (reused when present);
#  2. builds a vulnerability database from the OSV files of the
#     golang.org/x/vulndb module, which the Go module proxy serves, with that
#     module's own cmd/indexdb (reused when present): no request goes to
#     vuln.go.dev, so the check works where only the module proxy is reachable;
#  3. runs `govulncheck -db file://DB ./...` on the main module.
#
# Exit status: 0 when no vulnerability is reachable from aegis's code; 1 when
# one is (govulncheck's symbol-level findings: a vulnerable function is called);
# 2 when the check itself could not run. Findings at package level (a
# vulnerable package is imported but its vulnerable symbols are not called)
# and at module level (a vulnerable module is required but the vulnerable
# package is not imported) are printed in full but do not fail: they are not
# reachable, which is what govulncheck's own exit status says too.
#
# Standard library findings count like any other: the toolchain is part of
# what ships. A reachable stdlib vulnerability fixed in a later Go release
# fails the check until the toolchain is upgraded.
#
# Environment: GOVULNCHECK_VERSION, VULNDB_VERSION (a version of the
# golang.org/x/vulndb module: it has no tags, only pseudo-versions; `go list -m
# golang.org/x/vulndb@latest` names the newest), AEGIS_CACHE (default
# ~/.cache/aegis), GOVULNCHECK_ARGS (extra arguments, e.g. "-show verbose").
#
# Usage: hack/tools/govulncheck.sh [PACKAGES...]   (default ./...)
set -euo pipefail
GOVULNCHECK_VERSION=${GOVULNCHECK_VERSION:-v1.9.0}
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
AEGIS_CACHE=${AEGIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aegis}
tools=$AEGIS_CACHE/tools
root=$(cd "$(dirname "$0")/../.." && pwd)

die() { echo "govulncheck.sh: $*" >&2; exit 2; }

# 1. govulncheck itself, outside go.mod: `go install pkg@version` builds it
# in its own module context.
# Keyed by the Go release too: govulncheck type-checks the standard library
# with the go/types it was built with, which cannot read a newer release.
gv_dir=$tools/govulncheck-$GOVULNCHECK_VERSION-$(go env GOVERSION)
if [[ ! -x "$gv_dir/govulncheck" || ! -f "$gv_dir/.complete" ]]; then
  echo "govulncheck.sh: installing govulncheck $GOVULNCHECK_VERSION into $gv_dir" >&2
  mkdir -p "$gv_dir"
  GOBIN="$gv_dir" GOFLAGS="-trimpath -buildvcs=false" \
    go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" || die "cannot install govulncheck $GOVULNCHECK_VERSION"
  touch "$gv_dir/.complete"
fi
govulncheck=$gv_dir/govulncheck

# 2. The database: golang.org/x/vulndb's data/osv, indexed by its cmd/indexdb.
db=$tools/vulndb-$VULNDB_VERSION
if [[ ! -f "$db/index/db.json" || ! -f "$db/.complete" ]]; then
  indexdb_dir=$tools/indexdb-$VULNDB_VERSION
  if [[ ! -x "$indexdb_dir/indexdb" ]]; then
    echo "govulncheck.sh: building golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION into $indexdb_dir" >&2
    mkdir -p "$indexdb_dir"
    GOBIN="$indexdb_dir" GOFLAGS="-trimpath -buildvcs=false" \
      go install "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" || die "cannot build indexdb"
  fi
  # `go mod download` outside any module: the main module's go.mod is left alone.
  src=$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n "$src" && -d "$src/data/osv" ]] || die "golang.org/x/vulndb@$VULNDB_VERSION has no data/osv (download failed?)"
  echo "govulncheck.sh: indexing $(find "$src/data/osv" -name '*.json' | wc -l) OSV entries into $db" >&2
  rm -rf "$db.tmp"
  "$indexdb_dir/indexdb" -vulns "$src/data/osv" -out "$db.tmp" || die "indexdb failed"
  rm -rf "$db"
  mv "$db.tmp" "$db"
  touch "$db/.complete"
fi
# The OSV files of the module carry no dates (their "modified" is zero): the
# pseudo-version's commit time says how fresh the database is.
stamp=$(echo "$VULNDB_VERSION" | sed -n 's/^v0\.0\.0-\([0-9]\{4\}\)\([0-9]\{2\}\)\([0-9]\{2\}\).*/\1-\2-\3/p')

# 3. The scan. govulncheck exits 3 when a vulnerability is reachable
# (symbol level), 0 when none is, and anything else when it failed.
cd "$root"
echo "govulncheck.sh: govulncheck $GOVULNCHECK_VERSION, $(go env GOVERSION), database golang.org/x/vulndb@$VULNDB_VERSION (data of ${stamp:-unknown date}, $(find "$db/ID" -name "*.json" | wc -l) entries)" >&2
status=0
# shellcheck disable=SC2086 # GOVULNCHECK_ARGS is a list of words
"$govulncheck" -db "file://$db" ${GOVULNCHECK_ARGS:-} "${@:-./...}" || status=$?
case $status in
0) echo "govulncheck.sh: no reachable vulnerability" >&2 ;;
3) echo "govulncheck.sh: FAIL: reachable vulnerabilities (above: each with the module and version that fixes it)" >&2; exit 1 ;;
*) die "govulncheck exited $status" ;;
esac
