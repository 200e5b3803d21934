#!/usr/bin/env bash
# Python's OpenTelemetry SDK with its OTLP exporters (protobuf over HTTP and gRPC), the baggage
# span processor, OpenInference's OpenAI instrumentation, the `openai` client and the official
# MCP SDK (`mcp` 2.x, which creates OpenTelemetry spans and puts `traceparent` in `_meta` by
# itself), in a venv under target/tools/otel-python, for the collector's and the MCP tests
# with clients and servers nobody here wrote. Prints the venv's interpreter.
#
#   scripts/otel-python.sh   builds the venv if needed (from CPython 3.11-3.13, pyenv's
#                            included, or $OTEL_BASE_PYTHON), prints its python
#
# Installs under a lock (two test binaries never install at once); a half-built venv is
# noticed and built again.
source "$(dirname "$0")/lib/server.sh"

tools="$lib_root/target/tools/otel-python"
venv="$tools/venv"

base_python() {
  find_python OTEL_BASE_PYTHON 3.13 3.12 3.11
}

pip_install() {
  local base
  base=$(base_python) || { echo "no CPython 3.11-3.13 found: install one to run the collector's Python tests" >&2; return 1; }
  "$base" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    opentelemetry-sdk opentelemetry-exporter-otlp-proto-http opentelemetry-exporter-otlp-proto-grpc \
    opentelemetry-processor-baggage openinference-instrumentation-openai openai 'mcp>=2,<3' >&2
  touch "$venv/.with-mcp"
}

locked "$tools/lock"
# .with-mcp: a venv built before the MCP tests is built again.
install_once "$venv" "$venv/.with-mcp" pip_install
echo "$venv/bin/python"
