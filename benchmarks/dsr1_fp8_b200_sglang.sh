#!/usr/bin/env bash
# DeepSeek-R1-0528 FP8 on B200 with SGLang.
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
serve_sglang --attention-backend trtllm_mla
run_all
