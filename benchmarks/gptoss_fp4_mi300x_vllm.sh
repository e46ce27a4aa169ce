#!/usr/bin/env bash
# gpt-oss-120b FP4 on MI300X with vLLM.
# Started by runners/launch_*.sh inside the engine's container, with the job
# environment of one matrix entry (see benchmark_lib.sh).
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
export VLLM_ROCM_USE_AITER=1
require_env MODEL TP EP_SIZE CONC MAX_MODEL_LEN
args=(vllm serve "$MODEL" --host 0.0.0.0 --port "$PORT"
  --tensor-parallel-size "$TP" --max-model-len "$MAX_MODEL_LEN"
  --max-num-seqs "$CONC" --gpu-memory-utilization 0.9 --no-enable-prefix-caching --async-scheduling)
if [ "$EP_SIZE" -gt 1 ]; then
  args+=(--enable-expert-parallel)
fi
BENCH_BACKEND=vllm
start_server "${args[@]}"
run_all
