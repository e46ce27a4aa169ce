#!/usr/bin/env bash
# gpt-oss-120b FP4 on B200 with SGLang.
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
serve_sglang
run_all
