#!/usr/bin/env bash
# DeepSeek-R1-0528 FP4 on MI355X with ATOM.
# Started by runners/launch_*.sh inside the engine's container, with the job
# environment of one matrix entry (see benchmark_lib.sh).
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
require_env MODEL TP CONC MAX_MODEL_LEN SPEC_DECODING
args=(python3 -m atom.entrypoints.openai_server --model "$MODEL" --server-port "$PORT"
  -tp "$TP" --max-model-len "$MAX_MODEL_LEN" --max-num-seqs "$CONC" --kv_cache_dtype fp8)
if [ "$SPEC_DECODING" = mtp ]; then
  args+=(--method mtp --num-speculative-tokens "${MTP_LAYERS:-3}")
fi
BENCH_BACKEND=vllm
start_server "${args[@]}"
run_all
