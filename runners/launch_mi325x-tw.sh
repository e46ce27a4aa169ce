#!/usr/bin/env bash
# MI325X nodes at cluster tw: Slurm, Docker on the compute node.
# Runs the matrix entry's engine script (see runners/lib/launch.sh).
set -euo pipefail
# shellcheck source=runners/lib/launch.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/launch.sh"
GPU_VENDOR=amd
HF_CACHE="${HF_CACHE:-/nfs/hf-hub-cache}"
SLURM_PARTITION="${SLURM_PARTITION:-mi325x}"
launch_slurm
