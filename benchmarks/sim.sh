#!/usr/bin/env bash
# The simulated engine (`infmax sim`) in place of a real one: the act
# self-test and laptops run the whole job path with it, no GPU needed.
# SIM_ARGS adds simulator options (default: the preset for the runner's GPU
# family is not known here, so a fixed 20 ms first token / 5 ms per token).
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
check_env_vars MODEL CONC MAX_MODEL_LEN
read -ra sim_args <<<"${SIM_ARGS:---ttft-ms 20 --itl-ms 5}"
start_server "$INFMAX" sim --port "$PORT" --served-model-name "$MODEL" \
  --max-model-len "$MAX_MODEL_LEN" "${sim_args[@]}"
# The simulator has no tokenizer of the model: send token ids instead.
PROMPT_TOKEN_IDS=true
run_all
