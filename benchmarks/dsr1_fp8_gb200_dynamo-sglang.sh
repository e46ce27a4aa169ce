#!/usr/bin/env bash
# DeepSeek-R1-0528 FP8 on GB200 NVL72 with Dynamo + SGLang, disaggregated prefill/decode.
# Started by runners/launch_*.sh inside the engine's container, with the job
# environment of one matrix entry (see benchmark_lib.sh).
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
# Runs on the first node of a Slurm allocation (runners/launch_gb200-nv.sh):
# etcd and NATS for Dynamo's control plane, the HTTP frontend here, then the
# prefill and decode workers with srun across the allocation.
require_env MODEL PREFILL_NUM_WORKERS PREFILL_TP PREFILL_EP PREFILL_DP_ATTN \
  DECODE_NUM_WORKERS DECODE_TP DECODE_EP DECODE_DP_ATTN CONC_LIST MAX_MODEL_LEN SPEC_DECODING
: "${GPUS_PER_NODE:=4}"
head_node="$(hostname)"
etcd --listen-client-urls http://0.0.0.0:2379 --advertise-client-urls "http://$head_node:2379" >etcd.log 2>&1 &
nats-server -js >nats.log 2>&1 &
export ETCD_ENDPOINTS="http://$head_node:2379" NATS_SERVER="nats://$head_node:4222"

# One worker group: srun over the nodes its GPUs need, in the background.
start_workers() {
  local mode="$1" workers="$2" tp="$3" ep="$4" dp="$5" settings="$6" i nodes
  nodes=$(((tp + GPUS_PER_NODE - 1) / GPUS_PER_NODE))
  for i in $(seq 1 "$workers"); do
    local args=(python3 -m dynamo.sglang --model-path "$MODEL" --disaggregation-mode "$mode"
      --tp "$tp" --ep "$ep" --context-length "$MAX_MODEL_LEN")
    if is_true "$dp"; then
      args+=(--enable-dp-attention)
    fi
    if [ "$SPEC_DECODING" = mtp ]; then
      args+=(--speculative-algorithm MTP)
    fi
    # additional-settings from the config: one KEY=VALUE per line, as environment.
    local env_args=()
    if [ -n "$settings" ]; then
      mapfile -t env_args <<<"$settings"
    fi
    env "${env_args[@]}" srun --overlap --nodes "$nodes" --ntasks-per-node 1 "${args[@]}" \
      >"worker_${mode}_$i.log" 2>&1 &
  done
}
start_workers prefill "$PREFILL_NUM_WORKERS" "$PREFILL_TP" "$PREFILL_EP" "$PREFILL_DP_ATTN" "${PREFILL_ADDITIONAL_SETTINGS:-}"
start_workers decode "$DECODE_NUM_WORKERS" "$DECODE_TP" "$DECODE_EP" "$DECODE_DP_ATTN" "${DECODE_ADDITIONAL_SETTINGS:-}"
BENCH_BACKEND=openai
start_server python3 -m dynamo.frontend --http-port "$PORT"
run_all
