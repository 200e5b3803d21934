#!/usr/bin/env bash
# The Python reference toolkit (PyPI generative-ai-toolkit 0.23.0, with boto3, and
# opentelemetry-proto for its OtlpTracer, as its `run-agent` extra has them) in a venv under
# target/tools/reference, for the interop tests. Prints the venv's interpreter.
#
#   scripts/reference-python.sh   builds the venv if needed (from CPython 3.13: python3.13 on
#                                 PATH, else pyenv's newest 3.13), prints its python
#
# REFERENCE_BASE_PYTHON names the CPython 3.13 to build from. Installs under a lock (two test
# binaries never install at once); a half-built venv is noticed and built again.
source "$(dirname "$0")/lib/server.sh"

tools="$lib_root/target/tools/reference"
venv="$tools/venv"

base_python() {
  find_python REFERENCE_BASE_PYTHON 3.13
}

pip_install() {
  local base
  base=$(base_python) || { echo "no CPython 3.13 found (python3.13 on PATH or under ~/.pyenv/versions): install one, or set REFERENCE_BASE_PYTHON" >&2; return 1; }
  "$base" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check generative-ai-toolkit==0.23.0 boto3 opentelemetry-proto >&2
  # A venv built before OtlpTracer's needs were added lacks this mark, and is built again.
  touch "$venv/.with-otlp"
}

locked "$tools/lock"
install_once "$venv" "$venv/.with-otlp" pip_install
echo "$venv/bin/python"
