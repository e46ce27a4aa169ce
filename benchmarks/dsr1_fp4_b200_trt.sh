#!/usr/bin/env bash
# DeepSeek-R1-0528 FP4 on B200 with TensorRT-LLM (trtllm-serve).
# Started by runners/launch_*.sh inside the engine's container, with the job
# environment of one matrix entry (see benchmark_lib.sh).
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
require_env MODEL TP EP_SIZE DP_ATTENTION CONC MAX_MODEL_LEN SPEC_DECODING
# Engine options trtllm-serve takes as a YAML file.
extra="$(mktemp --suffix=.yaml)"
{
  echo "enable_attention_dp: $(is_true "$DP_ATTENTION" && echo true || echo false)"
  echo "cuda_graph_config:"
  echo "  enable_padding: true"
  echo "  max_batch_size: $CONC"
  echo "kv_cache_config:"
  echo "  free_gpu_memory_fraction: 0.85"
  echo "  enable_block_reuse: false"
  if [ "$SPEC_DECODING" = mtp ]; then
    echo "speculative_config:"
    echo "  decoding_type: MTP"
    echo "  num_nextn_predict_layers: ${MTP_LAYERS:-3}"
  fi
} >"$extra"
args=(trtllm-serve "$MODEL" --host 0.0.0.0 --port "$PORT" --backend pytorch
  --tp_size "$TP" --ep_size "$EP_SIZE" --max_batch_size "$CONC"
  --max_seq_len "$MAX_MODEL_LEN" --max_num_tokens "$((MAX_MODEL_LEN > 8192 ? MAX_MODEL_LEN : 8192))"
  --extra_llm_api_options "$extra")
BENCH_BACKEND=trt
start_server "${args[@]}"
run_all
