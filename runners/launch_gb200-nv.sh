#!/usr/bin/env bash
# GB200 NVL72 (aarch64, 4 GPUs per node): Slurm with enroot/pyxis; multi-node entries take as many nodes as their workers need.
# Runs the matrix entry's engine script (see runners/lib/launch.sh).
set -euo pipefail
# shellcheck source=runners/lib/launch.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/launch.sh"
GPU_VENDOR=nvidia
HF_CACHE="${HF_CACHE:-/lustre/fsw/hf-hub-cache}"
SLURM_PARTITION="${SLURM_PARTITION:-gb200}"
GPUS_PER_NODE="${GPUS_PER_NODE:-4}"
launch_enroot
