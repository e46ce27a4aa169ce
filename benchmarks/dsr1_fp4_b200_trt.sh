#!/usr/bin/env bash
# DeepSeek-R1-0528 FP4 on B200 with TensorRT-LLM.
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
serve_trt "moe_config:" "  backend: TRTLLM"
run_all
