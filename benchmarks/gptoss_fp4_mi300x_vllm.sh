#!/usr/bin/env bash
# gpt-oss-120b FP4 on MI300X with vLLM.
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
export VLLM_ROCM_USE_AITER=1
serve_vllm --async-scheduling
run_all
