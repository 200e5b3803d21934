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
# target/tools/dynalite. A test sets TRACEKIT_OWNER_PID so that a server it started stops when
# it exits (see scripts/lib/server.sh).
source "$(dirname "$0")/lib/server.sh"

port="${DYNAMODB_PORT:-18000}"
tools="$lib_root/target/tools/dynalite"
server_name="dynalite"
server_lock="$tools/lock"
server_state="$tools/port-$port"
server_url="http://127.0.0.1:$port"

server_install() {
  install_once "$tools/install" "$tools/install/node_modules/.bin/dynalite" npm_install
}

npm_install() {
  command -v npm >/dev/null || { echo "npm not found: install Node.js to run the DynamoDB tests" >&2; return 1; }
  npm install --prefix "$tools/install" --silent --no-audit --no-fund dynalite@4 >&2
}

server_launch() {
  local persist=()
  if [[ -n "${DYNAMODB_PATH:-}" ]]; then persist=(--path "$DYNAMODB_PATH"); fi
  setsid "$tools/install/node_modules/.bin/dynalite" --host 127.0.0.1 --port "$port" "${persist[@]}" \
    --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 </dev/null >"$server_state/log" 2>&1 9>&- &
  echo $!
}

server_ready() {
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

server_main "$@"
