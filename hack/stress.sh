#!/usr/bin/env bash
# stress.sh - concurrency stress of the shadow namespaces on the local
# control plane: ROUNDS rounds (default 5) of N (default 10) concurrent
# `bin/aegis verify --shadow=head` runs on an example, then the figures:
# runs, exit codes by value, failures (runs whose exit code is not the one the
# example is built to reach), leaked namespaces (namespaces of these runs,
# labelled app.kubernetes.io/managed-by=aegis, still there once every run has
# ended: aegis must tear each one down itself; goal 0), per-run and wall time.
#
# It prints a one-paragraph summary and one machine-readable line:
#   stress: runs=50 failures=0 leaked=0 seconds=...
# and exits 1 if failures > 0 or leaked > 0 (3 if it could not run at all).
#
# The cluster: AEGIS_KUBECONFIG, else the local control plane if it is up
# (hack/cluster/status.sh; left running), else it starts one (hack/cluster/up.sh)
# and stops it at the end. Leaked namespaces are counted through the API with
# curl and the kubeconfig's token (up.sh's kubeconfig), or kubectl when the
# kubeconfig is another kind; they are then deleted with `aegis gc --run`.
#
# Env: ROUNDS (5), N (10), EXAMPLE (plain-yaml), EXAMPLE_PATH (.), WANT (the
# expected exit code, 0 for plain-yaml), SHADOW (head), SHADOW_TIMEOUT (2m),
# BUILD (1: build bin/aegis first; 0: use it as it is). Run logs land in
# .cache/stress/<id>/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5} N=${N:-10}
EXAMPLE=${EXAMPLE:-plain-yaml} EXAMPLE_PATH=${EXAMPLE_PATH:-.} WANT=${WANT:-0}
SHADOW=${SHADOW:-head} SHADOW_TIMEOUT=${SHADOW_TIMEOUT:-2m}
log() { echo "stress: $*" >&2; }
die() { log "$*"; exit 3; }
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ && "$N" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS and N must be positive integers"
[[ -d "examples/$EXAMPLE/before" && -d "examples/$EXAMPLE/after" ]] || die "no example examples/$EXAMPLE/{before,after}"

if [[ "${BUILD:-1}" == 1 ]]; then
  go build -trimpath -ldflags "-s -w -X main.version=stress" -o bin/aegis ./cmd/aegis || die "go build failed"
fi
[[ -x bin/aegis ]] || die "no bin/aegis (make build)"
# Trivy runs by default and fails closed: make sure it is in the tool cache
# (built once, about 20 minutes; nothing when cached), as hack/demo.sh does.
hack/tools/trivy.sh >/dev/null || die "could not build Trivy (hack/tools/trivy.sh)"

kubeconfig=${AEGIS_KUBECONFIG:-$(hack/cluster/status.sh || true)}
if [[ -z "$kubeconfig" ]]; then
  log "starting the local control plane (hack/cluster/up.sh); it is stopped at the end"
  kubeconfig=$(hack/cluster/up.sh) || die "the local control plane did not start"
  trap 'hack/cluster/down.sh' EXIT
fi

id=st$(( $(date +%s) % 100000 ))$(( RANDOM % 100 ))
logs=.cache/stress/$id
mkdir -p "$logs"

# aegis_namespaces: the names of every namespace labelled by aegis, one a line.
aegis_namespaces() {
  local sel='app.kubernetes.io%2Fmanaged-by%3Daegis' server token ca
  server=$(sed -n 's/^ *server: *//p' "$kubeconfig" | head -1)
  token=$(sed -n 's/^ *token: *//p' "$kubeconfig" | head -1)
  ca=$(sed -n 's/^ *certificate-authority-data: *//p' "$kubeconfig" | head -1)
  if [[ -n "$server" && -n "$token" && -n "$ca" ]]; then
    local json
    json=$(curl -sf --cacert <(echo "$ca" | base64 -d) -H "Authorization: Bearer $token" \
      "$server/api/v1/namespaces?labelSelector=$sel") || return 1
    { grep -o '"name": *"[^"]*"' <<<"$json" || true; } | sed 's/^"name": *"//; s/"$//' | { grep '^aegis-' || true; } | sort -u
  elif command -v kubectl >/dev/null; then
    kubectl --kubeconfig "$kubeconfig" get namespaces -l app.kubernetes.io/managed-by=aegis -o name | sed 's|^namespace/||'
  else
    return 1
  fi
}
before=$(aegis_namespaces) || die "cannot list namespaces with $kubeconfig"

log "$ROUNDS rounds of $N concurrent 'aegis verify --shadow=$SHADOW' on examples/$EXAMPLE (expected exit $WANT), run ids $id-*; logs in $logs"
t0=$(date +%s%N)
for r in $(seq "$ROUNDS"); do
  rt0=$(date +%s%N)
  for i in $(seq "$N"); do
    run=$id-$r-$i
    (
      set +e
      s=$(date +%s%N)
      bin/aegis verify -q --shadow="$SHADOW" --shadow-timeout="$SHADOW_TIMEOUT" --kubeconfig "$kubeconfig" --run-id "$run" \
        -c .aegis.yaml --base-dir "examples/$EXAMPLE/before" --head-dir "examples/$EXAMPLE/after" "$EXAMPLE_PATH" >"$logs/$run.out" 2>"$logs/$run.err"
      echo "$? $(( ($(date +%s%N) - s) / 1000000 ))" >"$logs/$run.rc"
    ) &
  done
  wait
  log "round $r/$ROUNDS done in $(( ($(date +%s%N) - rt0) / 1000000 )) ms"
done
wall_ms=$(( ($(date +%s%N) - t0) / 1000000 ))

runs=0 failures=0 sum_ms=0 max_ms=0
declare -A codes=()
failed=()
for f in "$logs"/*.rc; do
  read -r code ms <"$f"
  runs=$((runs + 1))
  codes[$code]=$(( ${codes[$code]:-0} + 1 ))
  sum_ms=$((sum_ms + ms)); (( ms > max_ms )) && max_ms=$ms
  if [[ "$code" != "$WANT" ]]; then failures=$((failures + 1)); failed+=("$(basename "$f" .rc)"); fi
done
expected=$((ROUNDS * N))
if (( runs != expected )); then
  log "only $runs of $expected runs reported an exit code"
  failures=$((failures + expected - runs))
fi

after=$(aegis_namespaces) || die "cannot list namespaces with $kubeconfig after the runs"
leaked_list=$(grep "^aegis-$id-" <<<"$after" || true)
leaked=$(grep -c . <<<"$leaked_list" || true)
others=$(comm -13 <(echo "$before") <(echo "$after") | grep -vc "^aegis-$id-" || true)

by_code=$(for c in "${!codes[@]}"; do echo "$c"; done | sort -n | while read -r c; do printf '%s:%s ' "$c" "${codes[$c]}"; done)
for run in "${failed[@]:0:5}"; do
  log "run $run exited $(cut -d' ' -f1 "$logs/$run.rc"), expected $WANT; last lines of its stderr:"
  tail -3 "$logs/$run.err" | sed 's/^/    /' >&2
done
if (( leaked > 0 )); then
  log "leaked namespaces: $(tr '\n' ' ' <<<"$leaked_list"); deleting them with aegis gc --run"
  for ns in $leaked_list; do
    run=${ns#aegis-}; run=${run%-*}
    bin/aegis gc --kubeconfig "$kubeconfig" --run "$run" >/dev/null 2>&1 || log "aegis gc --run $run failed"
  done
fi

seconds=$(awk "BEGIN{printf \"%.1f\", $wall_ms / 1000}")
avg=$(awk "BEGIN{printf \"%.1f\", ($runs ? $sum_ms / $runs : 0) / 1000}")
maxs=$(awk "BEGIN{printf \"%.1f\", $max_ms / 1000}")
echo "$ROUNDS rounds of $N concurrent 'aegis verify --shadow=$SHADOW' runs on examples/$EXAMPLE against $(sed -n 's/^ *server: *//p' "$kubeconfig" | head -1):" \
  "$runs runs in $seconds s of wall time (a run took $avg s on average, $maxs s at most);" \
  "exit codes ${by_code% } (expected $WANT for every run), so $failures failure(s);" \
  "$leaked shadow namespace(s) of these runs left behind once they had all ended" \
  "($others other new aegis namespace(s) appeared meanwhile, from runs outside this script). Logs: $logs/."
echo "stress: runs=$runs failures=$failures leaked=$leaked seconds=$seconds"
(( failures == 0 && leaked == 0 ))
