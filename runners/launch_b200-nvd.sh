#!/usr/bin/env bash
# B200 nodes at cluster nvd: Slurm, Docker on the compute node.
# Runs the matrix entry's engine script (see runners/lib/launch.sh).
set -euo pipefail
# shellcheck source=runners/lib/launch.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/launch.sh"
GPU_VENDOR=nvidia
HF_CACHE="${HF_CACHE:-/lustre/hf-hub-cache}"
SLURM_PARTITION="${SLURM_PARTITION:-b200}"
launch_slurm
