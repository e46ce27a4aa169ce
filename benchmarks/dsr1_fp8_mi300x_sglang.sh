#!/usr/bin/env bash
# DeepSeek-R1-0528 FP8 on MI300X with SGLang.
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
export SGLANG_USE_AITER=1
serve_sglang
run_all
