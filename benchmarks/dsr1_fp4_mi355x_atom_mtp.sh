#!/usr/bin/env bash
# DeepSeek-R1-0528 FP4 on MI355X with ATOM, MTP speculative decoding:
# the same engine launch as dsr1_fp4_mi355x_atom.sh, which adds the MTP options when
# SPEC_DECODING=mtp.
set -euo pipefail
export SPEC_DECODING=mtp
exec bash "$(dirname "${BASH_SOURCE[0]}")/dsr1_fp4_mi355x_atom.sh"
