#!/usr/bin/env bash
# gpt-oss-120b FP4 on B200 with TensorRT-LLM.
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
serve_trt
run_all
