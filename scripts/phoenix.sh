#!/usr/bin/env bash
# Arize Phoenix (PyPI arize-phoenix), a real OpenTelemetry backend, on 127.0.0.1 for the OTLP
# tests and the two-service example: OTLP/HTTP at $url/v1/traces, spans read back from
# $url/v1/projects/<project>/spans.
#
#   scripts/phoenix.sh start    installs Phoenix if needed, starts it (once), prints its URL
#   scripts/phoenix.sh stop     stops it
#   scripts/phoenix.sh url      prints the URL if it is running (exit 1 otherwise)
#   scripts/phoenix.sh python   prints the venv's interpreter (it also has opentelemetry-proto)
#
# PHOENIX_PORT picks the port (default 6006). The venv is target/tools/phoenix/venv, built from
# $PHOENIX_BASE_PYTHON or the first CPython 3.13/3.12/3.11 found (pyenv's included). Telemetry
# and external resources are off; its database lives in a temporary working directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
port="${PHOENIX_PORT:-6006}"
tools="$root/target/tools/phoenix"
venv="$tools/venv"
pidfile="$tools/phoenix-$port.pid"
url="http://127.0.0.1:$port"

running() {
  [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

base_python() {
  if [[ -n "${PHOENIX_BASE_PYTHON:-}" ]]; then echo "$PHOENIX_BASE_PYTHON"; return; fi
  for v in 3.13 3.12 3.11; do
    # pyenv's shims answer `command -v` for versions that are not active: run it to be sure.
    if "python$v" -c "" >/dev/null 2>&1; then command -v "python$v"; return; fi
    local found
    found=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python3 2>/dev/null | sort -V | tail -1 || true)
    if [[ -n "$found" ]]; then echo "$found"; return; fi
  done
  return 1
}

install() {
  if [[ -x "$venv/bin/phoenix" ]] && "$venv/bin/python" -c "import phoenix, opentelemetry.proto" 2>/dev/null; then
    return
  fi
  local base
  base=$(base_python) || { echo "no CPython 3.11-3.13 found: install one to run the OTLP tests" >&2; return 1; }
  mkdir -p "$tools"
  "$base" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check arize-phoenix opentelemetry-proto >&2
}

case "${1:-}" in
  start)
    if running; then echo "$url"; exit 0; fi
    install
    work=$(mktemp -d "${TMPDIR:-/tmp}/tracekit-phoenix.XXXXXX")
    echo "$work" >"$tools/phoenix-$port.workdir"
    # Its own session, so it outlives the shell that started it until `stop`.
    PHOENIX_TELEMETRY_ENABLED=false PHOENIX_ALLOW_EXTERNAL_RESOURCES=false \
      PHOENIX_HOST=127.0.0.1 PHOENIX_PORT="$port" PHOENIX_WORKING_DIR="$work" \
      PHOENIX_GRPC_PORT="$((port + 1000))" \
      setsid "$venv/bin/phoenix" serve >"$tools/phoenix-$port.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 600); do
      if "$venv/bin/python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$url/healthz" 2>/dev/null; then echo "$url"; exit 0; fi
      if ! running; then break; fi
      sleep 0.1
    done
    echo "Phoenix did not start on $port; see $tools/phoenix-$port.log" >&2
    tail -20 "$tools/phoenix-$port.log" >&2 || true
    exit 1
    ;;
  stop)
    if running; then kill "$(cat "$pidfile")"; fi
    rm -f "$pidfile"
    if [[ -f "$tools/phoenix-$port.workdir" ]]; then
      rm -rf "$(cat "$tools/phoenix-$port.workdir")" "$tools/phoenix-$port.workdir"
    fi
    ;;
  url)
    running && echo "$url"
    ;;
  python)
    install
    echo "$venv/bin/python"
    ;;
  *)
    echo "usage: $0 start|stop|url|python" >&2
    exit 2
    ;;
esac
