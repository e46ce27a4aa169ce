#!/usr/bin/env bash
# gpt-oss-120b FP4 on H100 with vLLM.
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
serve_vllm --async-scheduling
run_all
