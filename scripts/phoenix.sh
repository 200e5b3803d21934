#!/usr/bin/env bash
# Arize Phoenix (PyPI arize-phoenix), a real OpenTelemetry backend, on 127.0.0.1 for the OTLP
# tests and the two-service example: OTLP/HTTP at $url/v1/traces, spans read back from
# $url/v1/projects/<project>/spans.
#
#   scripts/phoenix.sh start    installs Phoenix if needed, starts it (once), prints its URL
#   scripts/phoenix.sh stop     stops it
#   scripts/phoenix.sh url      prints the URL if it is running (exit 1 otherwise)
#   scripts/phoenix.sh python   installs Phoenix if needed, prints the venv's interpreter (it
#                               also has opentelemetry-proto)
#
# PHOENIX_PORT picks the port (default 6006). The venv is target/tools/phoenix/venv, built from
# $PHOENIX_BASE_PYTHON or the first CPython 3.13/3.12/3.11 found (pyenv's included). Telemetry
# and external resources are off; its database lives in a temporary working directory. A test
# sets TRACEKIT_OWNER_PID so that a server it started stops when it exits (scripts/lib/server.sh).
source "$(dirname "$0")/lib/server.sh"

port="${PHOENIX_PORT:-6006}"
tools="$lib_root/target/tools/phoenix"
venv="$tools/venv"
server_name="Phoenix"
server_lock="$tools/lock"
server_state="$tools/port-$port"
server_url="http://127.0.0.1:$port"

base_python() {
  find_python PHOENIX_BASE_PYTHON 3.13 3.12 3.11
}

server_install() {
  install_once "$venv" "$venv/bin/phoenix" pip_install
}

pip_install() {
  local base
  base=$(base_python) || { echo "no CPython 3.11-3.13 found: install one to run the OTLP tests" >&2; return 1; }
  "$base" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check arize-phoenix opentelemetry-proto >&2
}

server_launch() {
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/tracekit-phoenix.XXXXXX")
  echo "$work" >"$server_state/workdir"
  PHOENIX_TELEMETRY_ENABLED=false PHOENIX_ALLOW_EXTERNAL_RESOURCES=false \
    PHOENIX_HOST=127.0.0.1 PHOENIX_PORT="$port" PHOENIX_WORKING_DIR="$work" \
    PHOENIX_GRPC_PORT="$((port + 1000))" \
    setsid "$venv/bin/phoenix" serve </dev/null >"$server_state/log" 2>&1 9>&- &
  echo $!
}

server_ready() {
  "$venv/bin/python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$server_url/healthz" 2>/dev/null
}

server_cleanup() {
  if [[ -f "$server_state/workdir" ]]; then
    rm -rf "$(cat "$server_state/workdir")" "$server_state/workdir"
  fi
}

if [[ "${1:-}" == python ]]; then
  locked "$server_lock"
  server_install
  echo "$venv/bin/python"
  exit 0
fi
server_main "$@"
