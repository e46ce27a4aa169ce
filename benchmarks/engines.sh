# shellcheck shell=bash
# How each engine is started from the job environment; the per-config
# scripts add only what is specific to their model and GPU (extra flags,
# environment). Each function starts the server with start_server
# (benchmark_lib.sh) and sets the bench client's backend.
# shellcheck disable=SC2034  # BENCH_BACKEND is read by run_benchmark

# vLLM: serve_vllm [EXTRA_FLAG...]
serve_vllm() {
  check_env_vars MODEL TP EP_SIZE CONC MAX_MODEL_LEN
  local args=(vllm serve "$MODEL" --host 0.0.0.0 --port "$PORT"
    --tensor-parallel-size "$TP" --max-model-len "$MAX_MODEL_LEN"
    --max-num-seqs "$CONC" --gpu-memory-utilization 0.9 --no-enable-prefix-caching)
  if [ "$EP_SIZE" -gt 1 ]; then
    args+=(--enable-expert-parallel)
  fi
  BENCH_BACKEND=vllm
  start_server "${args[@]}" "$@"
}

# SGLang: serve_sglang [EXTRA_FLAG...]
serve_sglang() {
  check_env_vars MODEL TP EP_SIZE DP_ATTENTION CONC MAX_MODEL_LEN
  local args=(python3 -m sglang.launch_server --model-path "$MODEL" --served-model-name "$MODEL"
    --host 0.0.0.0 --port "$PORT" --tp "$TP" --trust-remote-code
    --context-length "$MAX_MODEL_LEN" --max-running-requests "$CONC" --disable-radix-cache)
  if [ "$EP_SIZE" -gt 1 ]; then
    args+=(--ep-size "$EP_SIZE")
  fi
  if is_true "$DP_ATTENTION"; then
    args+=(--enable-dp-attention --dp "$TP")
  fi
  BENCH_BACKEND=sglang
  start_server "${args[@]}" "$@"
}

# TensorRT-LLM (trtllm-serve, PyTorch backend): serve_trt [EXTRA_YAML_LINE...]
# The engine options go in a YAML file; MTP when SPEC_DECODING=mtp.
serve_trt() {
  check_env_vars MODEL TP EP_SIZE DP_ATTENTION CONC MAX_MODEL_LEN SPEC_DECODING
  local extra line
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
    for line in "$@"; do
      echo "$line"
    done
  } >"$extra"
  BENCH_BACKEND=trt
  start_server trtllm-serve "$MODEL" --host 0.0.0.0 --port "$PORT" --backend pytorch \
    --tp_size "$TP" --ep_size "$EP_SIZE" --max_batch_size "$CONC" \
    --max_seq_len "$MAX_MODEL_LEN" --max_num_tokens "$((MAX_MODEL_LEN > 8192 ? MAX_MODEL_LEN : 8192))" \
    --extra_llm_api_options "$extra"
}

# ATOM (AMD): serve_atom [EXTRA_FLAG...]; MTP when SPEC_DECODING=mtp.
serve_atom() {
  check_env_vars MODEL TP CONC MAX_MODEL_LEN SPEC_DECODING
  local args=(python3 -m atom.entrypoints.openai_server --model "$MODEL" --server-port "$PORT"
    -tp "$TP" --max-model-len "$MAX_MODEL_LEN" --max-num-seqs "$CONC" --kv_cache_dtype fp8)
  if [ "$SPEC_DECODING" = mtp ]; then
    args+=(--method mtp --num-speculative-tokens "${MTP_LAYERS:-3}")
  fi
  BENCH_BACKEND=vllm
  start_server "${args[@]}" "$@"
}

# Dynamo, disaggregated prefill/decode: serve_dynamo WORKER_MODULE [EXTRA_FLAG...]
# Runs on the first node of a Slurm allocation (runners/launch_gb200-nv.sh):
# etcd and NATS for Dynamo's control plane, the prefill and decode workers
# with srun across the allocation, and the HTTP frontend here.
serve_dynamo() {
  check_env_vars MODEL PREFILL_NUM_WORKERS PREFILL_TP PREFILL_EP PREFILL_DP_ATTN \
    DECODE_NUM_WORKERS DECODE_TP DECODE_EP DECODE_DP_ATTN CONC_LIST MAX_MODEL_LEN SPEC_DECODING
  local module="$1" head_node
  shift
  : "${GPUS_PER_NODE:=4}"
  head_node="$(hostname)"
  etcd --listen-client-urls http://0.0.0.0:2379 --advertise-client-urls "http://$head_node:2379" >etcd.log 2>&1 &
  nats-server -js >nats.log 2>&1 &
  export ETCD_ENDPOINTS="http://$head_node:2379" NATS_SERVER="nats://$head_node:4222"
  dynamo_workers "$module" prefill "$PREFILL_NUM_WORKERS" "$PREFILL_TP" "$PREFILL_EP" \
    "$PREFILL_DP_ATTN" "${PREFILL_ADDITIONAL_SETTINGS:-}" "$@"
  dynamo_workers "$module" decode "$DECODE_NUM_WORKERS" "$DECODE_TP" "$DECODE_EP" \
    "$DECODE_DP_ATTN" "${DECODE_ADDITIONAL_SETTINGS:-}" "$@"
  BENCH_BACKEND=openai
  start_server python3 -m dynamo.frontend --http-port "$PORT"
}

# One worker group, each worker an srun over the nodes its GPUs need, in the
# background; additional-settings (KEY=VALUE lines) become its environment.
dynamo_workers() {
  local module="$1" mode="$2" workers="$3" tp="$4" ep="$5" dp="$6" settings="$7" i nodes
  shift 7
  nodes=$(((tp + GPUS_PER_NODE - 1) / GPUS_PER_NODE))
  for i in $(seq 1 "$workers"); do
    local args=(python3 -m "$module" --model-path "$MODEL" --disaggregation-mode "$mode"
      --tp "$tp" --ep "$ep" --context-length "$MAX_MODEL_LEN")
    if is_true "$dp"; then
      args+=(--enable-dp-attention)
    fi
    if [ "$SPEC_DECODING" = mtp ]; then
      args+=(--speculative-algorithm MTP)
    fi
    local env_args=()
    if [ -n "$settings" ]; then
      mapfile -t env_args <<<"$settings"
    fi
    env "${env_args[@]}" srun --overlap --nodes "$nodes" --ntasks-per-node 1 "${args[@]}" "$@" \
      >"worker_${mode}_$i.log" 2>&1 &
  done
}
