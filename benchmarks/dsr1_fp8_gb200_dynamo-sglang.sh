#!/usr/bin/env bash
# DeepSeek-R1-0528 FP8 on GB200 NVL72 with Dynamo + SGLang, disaggregated prefill/decode.
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
serve_dynamo dynamo.sglang
run_all
