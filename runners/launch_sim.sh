#!/usr/bin/env bash
# Runners named sim_N (act runs, a laptop): the matrix entry's benchmark on
# this machine with the simulated engine (benchmarks/sim.sh) instead of the
# engine's container, so the whole sweep runs without a GPU. SIM_ARGS and
# NUM_PROMPTS pass through to benchmarks/sim.sh; PORT defaults to a free one.
set -euo pipefail
if [ -z "${PORT:-}" ]; then
  PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  export PORT
fi
exec bash "$(dirname "${BASH_SOURCE[0]}")/../benchmarks/sim.sh"
