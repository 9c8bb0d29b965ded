#!/usr/bin/env bash
# fuzz.sh - runs every Go fuzz target of the module (func FuzzX in a
# fuzz_test.go) with `go test -fuzz` for a bounded time each, one after the
# other, and fails when one finds a crasher.
#
# A crasher is written by Go to PKG/testdata/fuzz/FuzzX/<id>; this script
# prints it. Fix the bug, then commit that file: from then on plain
# `go test` runs it as a regression test (so do the seeds of every target).
#
# Environment: FUZZTIME (per target, default 30s; a duration or Nx for N
# executions), FUZZ (a regular expression choosing targets by name, default
# all), FUZZMINIMIZETIME (default 0: off). Go minimizes every input that
# finds new coverage, up to 60 s each by default, which on targets that
# link the Kubernetes libraries (action/: a few hundred executions a
# second) eats the whole budget; a crasher is then kept as found. Minimize
# one locally with `go test -run '^$' -fuzz FuzzX -fuzzminimizetime 60s PKG`
# (it starts from the crasher under testdata/fuzz). The SARIF target reads the official schema from AEGIS_CONTRACTS_DIR,
# default ../shared/contracts beside the clone.
#
# Usage: hack/fuzz.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fuzztime=${FUZZTIME:-30s}
minimizetime=${FUZZMINIMIZETIME:-0}
filter=${FUZZ:-.}
if [[ -z "${AEGIS_CONTRACTS_DIR:-}" && -d "$root/../shared/contracts" ]]; then
  export AEGIS_CONTRACTS_DIR="$root/../shared/contracts"
fi

# Targets: "PKG NAME", from every fuzz_test.go outside the caches.
mapfile -t targets < <(find . -name fuzz_test.go -not -path './.cache/*' -not -path './.git/*' | sort |
  while read -r f; do
    for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
      echo "./$(dirname "${f#./}")/ $name"
    done
  done | grep -E " ($filter)" || true)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz.sh: no fuzz target matches FUZZ=$filter" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=()
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "== fuzz $name ($pkg) for $fuzztime"
  before=$(ls "$pkg/testdata/fuzz/$name" 2>/dev/null | sort || true)
  t0=$SECONDS
  status=0
  go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimizetime" "$pkg" >"$log" 2>&1 || status=$?
  # Go prints progress every 3 s: keep the last line of it.
  grep -vE '^fuzz: elapsed: ' "$log" || true
  grep -E '^fuzz: elapsed: .*execs' "$log" | tail -1 || true
  if [[ $status -ne 0 ]]; then
    failed+=("$name")
    for id in $(comm -13 <(echo "$before") <(ls "$pkg/testdata/fuzz/$name" 2>/dev/null | sort)); do
      echo "-- new crasher $pkg/testdata/fuzz/$name/$id (re-run: go test -run '$name/$id' $pkg):"
      head -c 2000 "$pkg/testdata/fuzz/$name/$id"
      echo
    done
  fi
  echo "fuzz $name: $( [[ $status -eq 0 ]] && echo ok || echo FAIL ) after $((SECONDS - t0)) s"
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: FAIL: ${failed[*]} (crashers above; fix the bug and commit the testdata/fuzz file as a regression test)" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, $fuzztime each, no crasher"
