#!/usr/bin/env bash
# restart-apiserver.sh - fault injection on a control plane that up.sh
# started: stop its kube-apiserver (by recorded PID, never by name) and/or
# start it again with the very command line up.sh used, recording the new PID
# so that down.sh still stops it. etcd, the controllers and kwok are left
# running (they reconnect once the API server is back).
#
#   restart-apiserver.sh stop     TERM, wait for exit (KILL after 10 s)
#   restart-apiserver.sh start    start it again, wait for /readyz (120 s)
#   restart-apiserver.sh          both
#
# Env: CLUSTER_DIR (default <repo>/.cache/cluster), API_PORT (36443): the
# same as given to up.sh. Prints what it did on stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${CLUSTER_DIR:-$repo/.cache/cluster}
API_PORT=${API_PORT:-36443}
pidf=$dir/pids/kube-apiserver.pid
cmdf=$dir/cmds/kube-apiserver
log() { echo "restart-apiserver: $*" >&2; }

# alive PID: running and not a zombie (an orphan's parent may never reap it).
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$st" && "$st" != Z && "$st" != X ]]
}

stop() {
  [[ -f "$pidf" ]] || { log "no $pidf: is the cluster of $dir up?"; exit 1; }
  local pid; pid=$(cat "$pidf")
  if ! alive "$pid"; then log "kube-apiserver ($pid) is not running"; return 0; fi
  # Clusters started before up.sh recorded command lines: take it from /proc.
  if [[ ! -s "$cmdf" ]]; then mkdir -p "$dir/cmds"; cat "/proc/$pid/cmdline" > "$cmdf"; fi
  kill -TERM "$pid"
  local i
  for i in $(seq 100); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; log "killed $pid"; fi
  for i in $(seq 50); do alive "$pid" || break; sleep 0.1; done
  alive "$pid" && { log "kube-apiserver ($pid) does not exit"; exit 1; }
  log "kube-apiserver ($pid) stopped"
}

start() {
  [[ -s "$cmdf" ]] || { log "no recorded command line in $cmdf: stop it with this script first"; exit 1; }
  if [[ -f "$pidf" ]] && alive "$(cat "$pidf")"; then log "kube-apiserver ($(cat "$pidf")) is already running"; exit 1; fi
  local args=()
  mapfile -d '' -t args < "$cmdf"
  setsid "${args[@]}" >>"$dir/logs/kube-apiserver.log" 2>&1 </dev/null &
  echo $! > "$pidf"
  local pid=$! token; token=$(cat "$dir/token")
  local end=$((SECONDS + 120))
  until curl -sf --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $token" "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; do
    alive "$pid" || { log "kube-apiserver exited; last lines of $dir/logs/kube-apiserver.log:"; tail -5 "$dir/logs/kube-apiserver.log" >&2; exit 1; }
    (( SECONDS < end )) || { log "kube-apiserver not ready after 120 s; logs in $dir/logs"; exit 1; }
    sleep 0.2
  done
  log "kube-apiserver ($pid) started and ready"
}

case ${1:-restart} in
  stop) stop ;;
  start) start ;;
  restart) stop; start ;;
  *) echo "usage: $0 [stop|start|restart]" >&2; exit 2 ;;
esac
