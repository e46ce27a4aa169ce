#!/usr/bin/env bash
# gpt-oss-120b FP4 on MI355X with ATOM.
set -euo pipefail
# shellcheck source=benchmarks/benchmark_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/benchmark_lib.sh"
serve_atom
run_all
