#!/usr/bin/env bash
# fuzz.sh - runs every Go fuzz target of the module (func FuzzX in a
# fuzz_test.go or fuzz_*_test.go) within one time budget, and fails when one
# finds a crasher or when a seed fails.
#
# 1. Build: each package's test binary is built once (`go test -c`, one
#    go command for all of them) and every target of the package runs from
#    it. Only the module's own packages are instrumented for coverage
#    guidance (FUZZINSTRUMENT): `go test -fuzz` instruments every package
#    the test links, and for a package that links Helm, kustomize and the
#    Kubernetes libraries that is minutes of compiling on a cold cache
#    (363 s for action/ alone on a 2-core runner); the uninstrumented
#    dependencies come from the ordinary build cache instead.
# 2. Seeds: every target runs its seed corpus (f.Add) and its
#    testdata/fuzz entries as plain tests, whatever the budget.
# 3. Fuzz: each target is fuzzed for its share of the budget left, (budget
#    - elapsed) / targets left, at least FUZZMIN and at most FUZZTIME. A
#    target whose seeds fail is not fuzzed (Go would stop at the seed).
# Then a table of the targets with their time and executions.
#
# A crasher is written by Go to PKG/testdata/fuzz/FuzzX/<id>; this script
# prints it. Fix the bug, then commit that file: from then on plain
# `go test` runs it as a regression test (so do the seeds of every target).
#
# Environment:
#   FUZZBUDGET  the whole run, build included (default 200s: `make fuzz`
#               must stay under 4 minutes on the 2-core CI machine, cold)
#   FUZZTIME    most fuzzing time per target (default: no cap but the
#               budget); Nx runs N executions per target instead, budget
#               aside
#   FUZZMIN     least fuzzing time per target (default 10s), even past the
#               budget
#   FUZZ        regular expression choosing targets by name (default all)
#   FUZZMINIMIZETIME  default 0: off. Go minimizes every input that finds
#               new coverage, up to 60 s each by default, which on targets
#               that link the Kubernetes libraries (a few hundred or
#               thousand executions a second) eats the whole budget; a
#               crasher is then kept as found. Minimize one locally with
#               `go test -run '^$' -fuzz FuzzX -fuzzminimizetime 60s PKG`
#               (it starts from the crasher under testdata/fuzz).
#   FUZZINSTRUMENT  packages compiled with coverage instrumentation, as
#               -gcflags patterns (default github.com/kube-sentient/aegis/...);
#               add a dependency's pattern to guide the fuzzer through it
#               too (go.yaml.in/yaml/v3 costs a minute cold: its importers
#               are recompiled), or "all" for what `go test -fuzz` does
#               (every package, one build per package; slow when cold).
# Durations are Go-style seconds or minutes: 90, 90s, 4m, 1m30s.
# The SARIF target checks against the official SARIF 2.1.0 schema that the
# go-sarif dependency ships (read from the module cache; nothing beside the
# clone).
#
# Usage: hack/fuzz.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# seconds DURATION: a duration as whole seconds.
seconds() {
  local d=$1 s=0
  if [[ $d =~ ^[0-9]+$ ]]; then echo "$d"; return; fi
  if [[ ! $d =~ ^([0-9]+m)?([0-9]+s)?$ || -z $d ]]; then
    echo "fuzz.sh: bad duration $d (use e.g. 90s, 4m, 1m30s)" >&2
    return 1
  fi
  [[ $d =~ ([0-9]+)m ]] && s=$((s + 60 * BASH_REMATCH[1]))
  [[ $d =~ ([0-9]+)s ]] && s=$((s + BASH_REMATCH[1]))
  echo "$s"
}

budget=$(seconds "${FUZZBUDGET:-200s}")
minimum=$(seconds "${FUZZMIN:-10s}")
cap=""
execs=""
case ${FUZZTIME:-} in
  "") ;;
  *x) execs=$FUZZTIME ;;
  *) cap=$(seconds "$FUZZTIME") ;;
esac
minimizetime=${FUZZMINIMIZETIME:-0}
filter=${FUZZ:-.}
instrument=${FUZZINSTRUMENT:-github.com/kube-sentient/aegis/...}
start=$SECONDS

# Targets: "DIR NAME" (DIR as ./pkg), from every fuzz test file outside the
# caches.
mapfile -t targets < <(find . \( -name fuzz_test.go -o -name 'fuzz_*_test.go' \) -not -path './.cache/*' -not -path './.git/*' | sort |
  while read -r f; do
    for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
      echo "./$(dirname "${f#./}") $name"
    done
  done | grep -E " ($filter)" || true)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz.sh: no fuzz target matches FUZZ=$filter" >&2
  exit 1
fi
mapfile -t pkgs < <(printf '%s\n' "${targets[@]}" | cut -d' ' -f1 | sort -u)
# Import path and name of each package, by ./dir.
declare -A importpath pkgname
while read -r dir ip name; do
  importpath[./${dir#"$root"/}]=$ip
  pkgname[./${dir#"$root"/}]=$name
done < <(go list -f '{{.Dir}} {{.ImportPath}} {{.Name}}' "${pkgs[@]}")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gocache=$(go env GOCACHE)

# bin DIR: the test binary of package DIR.
bin() { echo "$work/bin/$(echo "${1#./}" | tr / _).test"; }

echo "== build ${#pkgs[@]} test binaries (instrumented: $instrument)"
t0=$SECONDS
mkdir -p "$work/bin" "$work/c"
if [[ $instrument == all ]]; then
  for p in "${pkgs[@]}"; do
    go test -c -fuzz . -o "$(bin "$p")" "$p"
  done
else
  gcflags=()
  for pat in $instrument; do gcflags+=("-gcflags=$pat=-d=libfuzzer"); done
  # One go command: the packages build in parallel and share what they
  # import. It names each binary after its package; moved to bin's name.
  go test -c "${gcflags[@]}" -o "$work/c/" "${pkgs[@]}"
  for p in "${pkgs[@]}"; do
    mv "$work/c/${pkgname[$p]}.test" "$(bin "$p")"
  done
fi
build=$((SECONDS - t0))
echo "built in $build s"

# run LOG DIR ARGS...: runs DIR's test binary in DIR (where its testdata is)
# with a hard stop, into LOG.
run() {
  local log=$1 dir=$2
  shift 2
  (cd "$dir" && exec timeout --kill-after=10s "$HARDSTOP" "$(bin "$dir")" -test.paniconexit0 "$@") >"$log" 2>&1
}

echo "== seeds and testdata/fuzz of ${#targets[@]} targets"
t0=$SECONDS
declare -A seedok seedtime
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  t1=$SECONDS
  status=0
  HARDSTOP=600 run "$work/log" "$pkg" -test.run "^$name\$" -test.timeout 9m || status=$?
  seedtime[$t]=$((SECONDS - t1))
  if [[ $status -eq 0 ]]; then
    seedok[$t]=1
  else
    seedok[$t]=0
    echo "-- $name ($pkg): a seed or testdata/fuzz entry fails:"
    head -c 8000 "$work/log"
    echo
  fi
done
seeds=$((SECONDS - t0))
echo "seeds in $seeds s"

echo "== fuzz within ${budget}s in all${cap:+, at most ${cap}s}${execs:+, $execs} and at least ${minimum}s each"
failed=()
rows=()
left=0
for t in "${targets[@]}"; do [[ ${seedok[$t]} == 1 ]] && left=$((left + 1)); done
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  if [[ ${seedok[$t]} != 1 ]]; then
    failed+=("$name")
    rows+=("$(printf '%-24s %-12s %6s %6s %10s  %s' "$name" "$pkg" "${seedtime[$t]}" "-" "-" "FAIL (seeds)")")
    continue
  fi
  if [[ -n $execs ]]; then
    fuzztime=$execs
  else
    # The share of what is left, less about a second to start and stop.
    share=$(((budget - (SECONDS - start)) / left - 1))
    [[ -n $cap && $share -gt $cap ]] && share=$cap
    [[ $share -lt $minimum ]] && share=$minimum
    fuzztime=${share}s
  fi
  left=$((left - 1))
  before=$(ls "$pkg/testdata/fuzz/$name" 2>/dev/null | sort || true)
  echo "-- fuzz $name ($pkg) for $fuzztime"
  t1=$SECONDS
  status=0
  # -test.timeout stops a hang with the stacks of every goroutine; timeout
  # stops what ignores it.
  limit=1800
  [[ -z $execs ]] && limit=$((${fuzztime%s} + 120))
  HARDSTOP=$((limit + 30)) run "$work/log" "$pkg" -test.run '^$' -test.fuzz "^$name\$" -test.fuzztime "$fuzztime" \
    -test.fuzzminimizetime "$minimizetime" -test.fuzzcachedir "$gocache/fuzz/${importpath[$pkg]}" -test.timeout "${limit}s" || status=$?
  took=$((SECONDS - t1))
  # Go prints progress every 3 s: keep the last line of it.
  last=$(grep -E '^fuzz: elapsed: .*execs' "$work/log" | tail -1 || true)
  n=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
  interesting=$(sed -nE 's/.*new interesting: ([0-9]+) \(total: ([0-9]+)\).*/\1\/\2/p' <<<"$last")
  result=ok
  if [[ $status -ne 0 ]]; then
    result=FAIL
    [[ $status -ge 124 ]] && result="FAIL (timed out)"
    failed+=("$name")
    grep -vE '^fuzz: elapsed: ' "$work/log" | head -c 8000 || true
    echo
    for id in $(comm -13 <(echo "$before") <(ls "$pkg/testdata/fuzz/$name" 2>/dev/null | sort)); do
      echo "-- new crasher $pkg/testdata/fuzz/$name/$id (re-run: go test -run '$name/$id' $pkg):"
      head -c 2000 "$pkg/testdata/fuzz/$name/$id"
      echo
    done
  fi
  echo "${last:-fuzz: no progress line}"
  rows+=("$(printf '%-24s %-12s %6s %6s %10s  %s' "$name" "$pkg" "${seedtime[$t]}" "$took" "${n:--}" "$result${interesting:+ (new/total corpus $interesting)}")")
done

echo
printf '%-24s %-12s %6s %6s %10s  %s\n' target package seeds fuzz execs result
printf '%s\n' "${rows[@]}"
total=$((SECONDS - start))
echo "build ${build} s, seeds ${seeds} s, fuzzing $((total - build - seeds)) s: ${total} s in all (budget ${budget} s)"
if [[ ${#rows[@]} -ne ${#targets[@]} ]]; then
  echo "fuzz.sh: FAIL: ${#rows[@]} of ${#targets[@]} targets ran" >&2
  exit 1
fi
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: FAIL: ${failed[*]} (above: fix the bug; commit a new crasher under testdata/fuzz as a regression test)" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, no crasher"
