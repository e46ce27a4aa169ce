#!/usr/bin/env bash
# DeepSeek-R1-0528 FP8 on MI300X with SGLang.
# Started by runners/launch_*.sh inside the engine's container, with the job
# environment of one matrix entry (see benchmark_lib.sh).
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
export SGLANG_USE_AITER=1
require_env MODEL TP EP_SIZE DP_ATTENTION CONC MAX_MODEL_LEN
args=(python3 -m sglang.launch_server --model-path "$MODEL" --served-model-name "$MODEL"
  --host 0.0.0.0 --port "$PORT" --tp "$TP" --trust-remote-code
  --context-length "$MAX_MODEL_LEN" --max-running-requests "$CONC" --disable-radix-cache)
if [ "$EP_SIZE" -gt 1 ]; then
  args+=(--ep-size "$EP_SIZE")
fi
if is_true "$DP_ATTENTION"; then
  args+=(--enable-dp-attention --dp "$TP")
fi
BENCH_BACKEND=sglang
start_server "${args[@]}"
run_all
