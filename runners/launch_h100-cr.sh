#!/usr/bin/env bash
# H100 nodes at cluster cr: Docker on the runner host.
# Runs the matrix entry's engine script (see runners/lib/launch.sh).
set -euo pipefail
# shellcheck source=runners/lib/launch.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/launch.sh"
GPU_VENDOR=nvidia
HF_CACHE="${HF_CACHE:-/mnt/data/hf-hub-cache}"
launch_docker
