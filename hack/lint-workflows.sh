#!/usr/bin/env bash
# lint-workflows.sh - actionlint over every GitHub Actions workflow of the
# repository, offline.
#
#  1. actionlint v1.7.12, built once into aegis's tool cache by
#     hack/tools/actionlint.sh (outside go.mod), checks every workflow file:
#     examples/workflows/*.yml and .github/workflows/*.yml (when that
#     directory exists), passed as explicit file arguments. `run:` scripts go
#     through shellcheck (Debian's package `shellcheck`, installed here when
#     absent); `shell: python` steps, if any, through pyflakes.
#  2. actionlint never fetches a remote action, so it checks the `with:` and
#     `steps.<id>.outputs.<name>` of a step only for a local action (`uses:
#     ./`, read from disk) or a popular action at a major tag (compiled into
#     it: actions/checkout@v4, ...). Each workflow that has aegis's own
#     action or an action pinned by commit SHA is checked again, in a scratch
#     project holding this checkout's action.yml, with
#       uses: kube-sentient/aegis@REF              read as  uses: ./
#       uses: OWNER/REPO@<40-hex SHA> # vN.x.y     read as  uses: OWNER/REPO@vN
#     (one line for one line: the line numbers are those of the real file).
#     So every input given to aegis must exist in action.yml, every required
#     input must be given, every aegis output read must exist; action.yml's
#     metadata is checked on the way (name, description, branding, runs, the
#     Dockerfile it names); and the inputs of SHA-pinned popular actions are
#     checked against the version their comment names (the comment is
#     trusted to match the SHA: that cannot be checked offline).
#  3. A self-test: known-bad workflows (a YAML error, an unknown key, an
#     undefined step output, a broken ${{ }} expression, a script injection,
#     an input action.yml lacks, an output it lacks, a wrong input of a
#     SHA-pinned actions/checkout, an unquoted variable for shellcheck) must
#     each fail with the expected rule, so that the lint cannot silently
#     pass everything.
#
# Nothing is fetched: actionlint has no network code (popular actions' inputs
# and outputs are compiled into it), and remote actions are not read.
#
# Usage: hack/lint-workflows.sh [--self-test]   (--self-test: step 3 only)
# Exit status: 0 clean; 1 actionlint found problems; 2 the lint could not run
# (or its self-test failed).
# Environment: ACTIONLINT_SHELLCHECK=off lints without shellcheck where it
# cannot be installed (not root); the output then says so.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

die() { echo "lint-workflows.sh: $*" >&2; exit 2; }
say() { echo "lint-workflows.sh: $*"; }

mode=all
case ${1:-} in
"") ;;
--self-test) mode=self-test ;;
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
*) die "unknown argument $1 (usage: hack/lint-workflows.sh [--self-test])" ;;
esac

actionlint=$(hack/tools/actionlint.sh) || die "cannot build actionlint (hack/tools/actionlint.sh)"

# apt_install: hack/lib/apt.sh
# shellcheck source=hack/lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

# The workflow files.
shopt -s nullglob
files=(examples/workflows/*.yml examples/workflows/*.yaml)
if [[ -d .github/workflows ]]; then files+=(.github/workflows/*.yml .github/workflows/*.yaml); fi
shopt -u nullglob
((${#files[@]} > 0)) || die "no workflow file found"

# Shellcheck is required unless explicitly turned off.
shellcheck=""
if [[ ${ACTIONLINT_SHELLCHECK:-} == off ]]; then
  sc_note="NOT used (ACTIONLINT_SHELLCHECK=off): run: scripts are not checked"
else
  shellcheck=$(command -v shellcheck) || { apt_install shellcheck && shellcheck=$(command -v shellcheck); } ||
    die "shellcheck is not installed and could not be installed (apt-get needs root): sudo apt-get install -y shellcheck (or brew install shellcheck); ACTIONLINT_SHELLCHECK=off lints without it"
  sc_note="used, $shellcheck $("$shellcheck" --version | sed -n 's/^version: //p')"
fi

# pyflakes: only needed when a step runs Python.
pyflakes=""
if grep -Eq '^[[:space:]]*shell:[[:space:]]*python' "${files[@]}"; then
  pyflakes=$(command -v pyflakes || command -v pyflakes3) || { apt_install pyflakes3 && pyflakes=$(command -v pyflakes3); } ||
    die "a workflow has a 'shell: python' step and pyflakes is not installed: sudo apt-get install -y pyflakes3"
  pf_note="used, $pyflakes"
else
  pf_note="not needed (no 'shell: python' step)"
fi

lint() { "$actionlint" -no-color -shellcheck="$shellcheck" -pyflakes="$pyflakes" "$@"; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# new_project DIR: a directory actionlint takes for a repository root (it
# wants .git and .github/workflows there) with this checkout's action.yml and
# the Dockerfile it runs, so that `uses: ./` reads them.
new_project() {
  mkdir -p "$1/.git" "$1/.github/workflows"
  cp action.yml Dockerfile "$1/"
}

# resolve: step 2's rewrite, stdin to stdout, one line for one line.
uses_re='^([[:space:]]*(-[[:space:]]+)?uses:[[:space:]]*)'
aegis_re=${uses_re}'kube-sentient/aegis@[^[:space:]#]+'
pinned_re=${uses_re}'([^@[:space:]]+@)[0-9a-f]{40}([[:space:]]+#[[:space:]]*(v[0-9]+)[^[:space:]]*)'
resolve() { sed -E -e "s|$aegis_re|\\1./|" -e "s|$pinned_re|\\1\\3\\5\\4|"; }

self_test() {
  local dir=$scratch/self-test n=0 failed=0
  new_project "$dir"
  # expect NAME RULE PATTERN <<EOF: the workflow must fail with RULE, and the
  # message must match PATTERN (an extended regular expression).
  expect() {
    local name=$1 rule=$2 pattern=$3 f=$dir/.github/workflows/$1.yml out status=0
    cat >"$f"
    n=$((n + 1))
    # Through step 2's rewrite: some cases below need it.
    resolve <"$f" >"$f.tmp" && mv "$f.tmp" "$f"
    out=$(cd "$dir" && lint -oneline ".github/workflows/$name.yml" 2>&1) || status=$?
    if ((status == 1)) && grep -q "\[$rule\]\$" <<<"$out" && grep -Eq "$pattern" <<<"$out"; then
      echo "  caught $name: ${out%%$'\n'*}"
    else
      echo "  NOT CAUGHT $name (exit $status, wanted 1 with [$rule] and /$pattern/): ${out:-no output}"
      failed=$((failed + 1))
    fi
    rm -f "$f"
  }
  say "self-test: known-bad workflows must fail"
  expect yaml-error syntax-check 'could not parse as YAML' <<'EOF'
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo hi
     - run: echo misindented
EOF
  expect unknown-key syntax-check 'unexpected key "foo"' <<'EOF'
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo hi
        foo: bar
EOF
  expect undefined-step-output expression 'property "frist" is not defined' <<'EOF'
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: first
        run: echo "x=1" >> "$GITHUB_OUTPUT"
      - env:
          X: ${{ steps.frist.outputs.x }}
        run: echo "$X"
EOF
  expect bad-expression expression 'unexpected end of input' <<'EOF'
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - if: ${{ github.event_name == }}
        run: echo hi
EOF
  expect script-injection expression 'github.event.pull_request.title" is potentially untrusted' <<'EOF'
on: pull_request
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo ${{ github.event.pull_request.title }}
EOF
  expect unknown-aegis-input action 'input "fail_on" is not defined in action "aegis verify"' <<'EOF'
on: pull_request
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: kube-sentient/aegis@v1
        with:
          fail_on: high
EOF
  expect unknown-aegis-output expression 'property "verdicts" is not defined' <<'EOF'
on: pull_request
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: aegis
        uses: kube-sentient/aegis@v1
      - env:
          VERDICT: ${{ steps.aegis.outputs.verdicts }}
        run: echo "$VERDICT"
EOF
  expect pinned-checkout-input action 'input "fetch-dept" is not defined in action "actions/checkout@v4"' <<'EOF'
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          fetch-dept: 0
EOF
  if [[ -n $shellcheck ]]; then
    expect unquoted-variable shellcheck 'SC2086' <<'EOF'
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: rm -rf $RUNNER_TEMP/x
EOF
  else
    echo "  shellcheck case NOT run: shellcheck is not used"
  fi
  ((failed == 0)) || die "self-test FAILED: $failed of $n known-bad workflows passed the lint"
  say "self-test: all $n known-bad workflows caught"
}

if [[ $mode == self-test ]]; then
  say "$("$actionlint" -version | head -1 | sed 's/^/actionlint /'); shellcheck: $sc_note"
  self_test
  exit 0
fi

say "actionlint $("$actionlint" -version | head -1) ($actionlint)"
say "shellcheck: $sc_note"
say "pyflakes: $pf_note"
status=0

# 1. Every workflow as it is.
say "checking ${#files[@]} workflow file(s): ${files[*]}"
lint "${files[@]}" || status=$?
((status <= 1)) || die "actionlint exited $status"

# 2. aegis's action against this checkout's action.yml, SHA-pinned popular
# actions against the version of their comment.
local_project=$scratch/local-action
new_project "$local_project"
checked=()
for f in "${files[@]}"; do
  grep -Eq "$aegis_re|$pinned_re" "$f" || continue
  mkdir -p "$local_project/$(dirname "$f")"
  resolve <"$f" >"$local_project/$f"
  checked+=("$f")
done
if ((${#checked[@]} > 0)); then
  say "checking ${checked[*]} again with kube-sentient/aegis@REF read as uses: ./ (against action.yml) and OWNER/REPO@SHA # vN.x.y as OWNER/REPO@vN"
  s=0
  # Step 1 already ran shellcheck on these scripts.
  (cd "$local_project" && "$actionlint" -no-color -shellcheck= -pyflakes= "${checked[@]}") || s=$?
  ((s <= 1)) || die "actionlint exited $s"
  ((s == 0)) || status=1
fi

# 3. The lint must still catch known problems.
self_test

if ((status == 0)); then
  say "OK: no problem in ${#files[@]} workflow file(s)"
else
  say "FAIL: actionlint found problems (above: file:line:column, message, [rule])"
fi
exit "$status"
