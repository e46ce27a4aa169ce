#!/usr/bin/env bash
# DeepSeek-R1-0528 FP4 on B200 with TensorRT-LLM (trtllm-serve), MTP speculative decoding:
# the same engine launch as dsr1_fp4_b200_trt.sh, which adds the MTP options when
# SPEC_DECODING=mtp.
set -euo pipefail
export SPEC_DECODING=mtp
exec bash "$(dirname "${BASH_SOURCE[0]}")/dsr1_fp4_b200_trt.sh"
