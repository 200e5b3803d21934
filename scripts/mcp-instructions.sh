#!/usr/bin/env bash
# Instructions per MCP `tools/call` (callgrind: counted, not timed, so the same on a busy
# machine), for each row of benches/mcp.rs in one process and one thread: the difference
# between a run of FEW and of MANY calls, over MANY - FEW, leaves the set-up out.
#
#   bash scripts/mcp-instructions.sh [FEW MANY]     (default 500 2500; needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
few=${1:-500}
many=${2:-2500}
cargo bench -p tracekit-benches --bench mcp --features mcp --no-run >/dev/null 2>&1
bench=$(ls -t target/release/deps/mcp-* | grep -v '\.d$' | head -1)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() {
  ONLY="$1" CALLS="$2" valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bench" --bench interleaved \
    >/dev/null 2>"$out/err"
  sed -n 's/.*Collected : //p' "$out/err" | tail -n 1
}
printf '%-14s %12s %9s\n' row "instr/call" "vs bare+_meta"
base=""
for row in "bare rmcp" "bare + _meta" "traced client" "traced server" "traced both"; do
  per=$(( ($(count "$row" "$many") - $(count "$row" "$few")) / (many - few) ))
  [[ "$row" == "bare + _meta" ]] && base=$per
  if [[ -n "$base" ]]; then
    printf '%-14s %12d %+8.1f%%\n' "$row" "$per" "$(echo "($per / $base - 1) * 100" | bc -l)"
  else
    printf '%-14s %12d\n' "$row" "$per"
  fi
done
