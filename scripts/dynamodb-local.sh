#!/usr/bin/env bash
# A DynamoDB-compatible server on 127.0.0.1 for tests and benchmarks: npm's dynalite (strict
# request validation, in memory, starts in about two seconds).
#
#   scripts/dynamodb-local.sh start   installs dynalite if needed, starts it (once), prints its URL
#   scripts/dynamodb-local.sh stop    stops it
#   scripts/dynamodb-local.sh url     prints the URL if it is running (exit 1 otherwise)
#
# DYNAMODB_PORT picks the port (default 18000); DYNAMODB_PATH keeps the tables in a LevelDB
# directory there, so they outlive a stop and start (in memory by default). Installed under
# target/tools/dynalite.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
port="${DYNAMODB_PORT:-18000}"
tools="$root/target/tools/dynalite"
pidfile="$tools/dynalite-$port.pid"
url="http://127.0.0.1:$port"

running() {
  [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

case "${1:-}" in
  start)
    if running; then echo "$url"; exit 0; fi
    mkdir -p "$tools"
    if [[ ! -x "$tools/node_modules/.bin/dynalite" ]]; then
      command -v npm >/dev/null || { echo "npm not found: install Node.js to run the DynamoDB tests" >&2; exit 1; }
      (cd "$tools" && npm install --silent --no-audit --no-fund dynalite@4 >&2)
    fi
    # Its own session, so it outlives the shell that started it until `stop`.
    persist=()
    if [[ -n "${DYNAMODB_PATH:-}" ]]; then persist=(--path "$DYNAMODB_PATH"); fi
    setsid "$tools/node_modules/.bin/dynalite" --host 127.0.0.1 --port "$port" "${persist[@]}" \
      --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$tools/dynalite-$port.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      if listening; then echo "$url"; exit 0; fi
      sleep 0.1
    done
    echo "dynalite did not start listening on $port; see $tools/dynalite-$port.log" >&2
    exit 1
    ;;
  stop)
    if running; then
      pid="$(cat "$pidfile")"
      kill "$pid"
      # Gone before this returns, so the port is free for a restart.
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
    ;;
  url)
    running && echo "$url"
    ;;
  *)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
