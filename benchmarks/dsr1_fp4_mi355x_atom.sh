#!/usr/bin/env bash
# DeepSeek-R1-0528 FP4 on MI355X with ATOM.
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
export AITER_ENABLE_VSKIP=0
serve_atom
run_all
