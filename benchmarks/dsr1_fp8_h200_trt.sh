#!/usr/bin/env bash
# DeepSeek-R1-0528 FP8 on H200 with TensorRT-LLM.
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
serve_trt
run_all
