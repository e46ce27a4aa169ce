# shellcheck shell=bash
# Shared by runners/launch_<cluster>.sh: run one matrix entry's engine script
# (benchmarks/…) inside the engine's container image, with the workspace and
# the Hugging Face cache mounted and the job environment passed through.
#
# Called from the benchmark job (.github/workflows/benchmark-tmpl.yml) after
# `infmax matrix job-env --github-env`, in the workspace root. Settings (a
# cluster script sets the defaults it needs):
#   HF_CACHE       host folder of the HF hub cache (mounted at /root/.cache/huggingface)
#   GPU_VENDOR     nvidia | amd
#   SLURM_PARTITION, SLURM_ACCOUNT, SLURM_TIME (slurm/enroot launchers)
#   GPUS_PER_NODE  (slurm/enroot; default 4 on GB200 runners, else 8, as
#                  `infmax matrix job-env` assumes)
#   LAUNCH_SIM     true: the Slurm launchers run benchmarks/sim.sh (the
#                  simulated engine, no image, no GPU) in the allocation
#                  instead of the engine's container, so the Slurm path runs
#                  end to end without GPUs (scripts/slurm-e2e.sh)

: "${GPU_VENDOR:=nvidia}"
: "${SLURM_TIME:=04:00:00}"
case "${RUNNER_TYPE:-}" in
  gb*) : "${GPUS_PER_NODE:=4}" ;;
  *) : "${GPUS_PER_NODE:=8}" ;;
esac
# What the engine scripts read; passed by name into the container.
JOB_VARS=(IMAGE MODEL MODEL_PREFIX PRECISION FRAMEWORK RUNNER_TYPE ISL OSL SPEC_DECODING
  EXP_NAME MAX_MODEL_LEN DISAGG RUN_EVAL IS_MULTINODE TP EP_SIZE DP_ATTENTION CONC
  RESULT_FILENAME CONC_LIST RESULT_FILENAMES PREFILL_GPUS DECODE_GPUS PREFILL_NUM_WORKERS
  PREFILL_TP PREFILL_EP PREFILL_DP_ATTN PREFILL_ADDITIONAL_SETTINGS DECODE_NUM_WORKERS
  DECODE_TP DECODE_EP DECODE_DP_ATTN DECODE_ADDITIONAL_SETTINGS HF_TOKEN PORT RESULT_DIR
  NUM_PROMPTS EVAL_FRAMEWORK EVAL_TASK NUM_FEWSHOT EVAL_LIMIT EVAL_CONCURRENT_REQUESTS GPUS_PER_NODE)
# Mount points inside the container.
C_WORK=/workspace
C_BIN=/opt/infmax/bin
C_HF=/root/.cache/huggingface

# benchmarks/{model-prefix}_{precision}_{gpu}_{framework}[_{spec-decoding}].sh,
# gpu being the runner type's SKU (the part before the first `-`). Prints the
# path; fails naming the expected file when it does not exist.
bench_script() {
  local root="${1:-.}" sku="${RUNNER_TYPE%%-*}" spec=""
  if [ -n "${SPEC_DECODING:-}" ] && [ "$SPEC_DECODING" != none ]; then
    spec="_$SPEC_DECODING"
  fi
  local path="benchmarks/${MODEL_PREFIX}_${PRECISION}_${sku}_${FRAMEWORK}${spec}.sh"
  if [ ! -f "$root/$path" ]; then
    echo "error: no engine script $path for $MODEL_PREFIX/$PRECISION/$RUNNER_TYPE/$FRAMEWORK (spec-decoding ${SPEC_DECODING:-none}); add it to benchmarks/" >&2
    return 1
  fi
  echo "$path"
}

# The folder holding the infmax binary the job installed (mounted read-only).
infmax_dir() {
  local bin
  bin="$(command -v infmax)" || {
    echo "error: infmax is not on PATH; install it first (the action with no command does)" >&2
    return 1
  }
  dirname "$(readlink -f "$bin")"
}

# This runner's name as job names and container labels carry it (one
# machine may host several runners: cleanup.sh touches only its own).
runner_tag() {
  printf '%s\n' "${RUNNER_NAME:-$(hostname)}" | tr -c 'A-Za-z0-9_.\n-' '-'
}

# A name for the job's container/allocation, so cleanup.sh can find leftovers:
# infmax-{run id}-{attempt}-{runner tag}.
job_name() {
  echo "infmax-${GITHUB_RUN_ID:-local}-${GITHUB_RUN_ATTEMPT:-1}-$(runner_tag)" | tr -c 'A-Za-z0-9_.\n-' '-'
}

gpu_docker_args() {
  case "$GPU_VENDOR" in
    nvidia) echo "--gpus all" ;;
    amd) echo "--device /dev/kfd --device /dev/dri --group-add video --security-opt seccomp=unconfined" ;;
    *)
      echo "error: GPU_VENDOR=$GPU_VENDOR: use nvidia or amd" >&2
      return 1
      ;;
  esac
}

# The `docker run` argument list (without the image and command).
docker_run_args() {
  local gpu v bindir
  gpu="$(gpu_docker_args)"
  bindir="$(infmax_dir)"
  read -ra DOCKER_ARGS <<<"$gpu"
  DOCKER_ARGS+=(--rm --name "$(job_name)" --label infmax=1 --label "infmax.runner=$(runner_tag)" --network host --ipc host
    --shm-size 16g -v "$PWD:$C_WORK" -w "$C_WORK" -v "$bindir:$C_BIN:ro"
    -v "${HF_CACHE:?set HF_CACHE to the host HF hub cache}:$C_HF" -e "PATH=$C_BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
  for v in "${JOB_VARS[@]}"; do
    if [ -n "${!v+x}" ]; then
      DOCKER_ARGS+=(-e "$v")
    fi
  done
}

# One host: the runner itself runs the container.
launch_docker() {
  local script
  script="$(bench_script .)"
  docker_run_args
  docker run "${DOCKER_ARGS[@]}" "$IMAGE" bash "$script"
}

# Allocates NODES whole nodes for this job (named for cleanup.sh) and runs
# CMD... in the allocation: slurm_alloc NODES CMD...
slurm_alloc() {
  local nodes="$1"
  shift
  local args=(--job-name "$(job_name)" --nodes "$nodes" --exclusive
    --gres "gpu:$GPUS_PER_NODE" --time "$SLURM_TIME")
  if [ -n "${SLURM_PARTITION:-}" ]; then
    args+=(--partition "$SLURM_PARTITION")
  fi
  if [ -n "${SLURM_ACCOUNT:-}" ]; then
    args+=(--account "$SLURM_ACCOUNT")
  fi
  salloc "${args[@]}" "$@"
}

# The nodes this job needs: 1, or for a multi-node entry as many as its
# prefill and decode GPUs fill at GPUS_PER_NODE each. Fails before anything
# is allocated when the partition has fewer nodes (salloc would wait for them
# for ever, or fail without naming the entry).
slurm_nodes() {
  local nodes=1 have v
  if [ "${IS_MULTINODE:-false}" = true ]; then
    for v in PREFILL_GPUS DECODE_GPUS GPUS_PER_NODE; do
      if ! [[ "${!v:-}" =~ ^[1-9][0-9]*$ ]]; then
        echo "error: multi-node entry: $v is \`${!v:-}\`; expected a positive whole number (set by \`infmax matrix job-env\`)" >&2
        return 1
      fi
    done
    nodes=$(((PREFILL_GPUS + DECODE_GPUS + GPUS_PER_NODE - 1) / GPUS_PER_NODE))
  fi
  local sinfo_args=(--noheader --Node --format %N)
  if [ -n "${SLURM_PARTITION:-}" ]; then
    sinfo_args+=(--partition "$SLURM_PARTITION")
  fi
  local listed errf
  errf="$(mktemp)"
  if ! listed="$(sinfo "${sinfo_args[@]}" 2>"$errf")"; then
    echo "error: cannot count the nodes of Slurm partition ${SLURM_PARTITION:-(default)}: sinfo failed: $(cat "$errf")" >&2
    rm -f "$errf"
    return 1
  fi
  rm -f "$errf"
  have="$(sort -u <<<"$listed" | grep -c . || true)"
  if [ "$have" -lt "$nodes" ]; then
    echo "error: this entry needs $nodes node(s) of $GPUS_PER_NODE GPUs (PREFILL_GPUS=${PREFILL_GPUS:-} + DECODE_GPUS=${DECODE_GPUS:-}), but Slurm partition ${SLURM_PARTITION:-(default)} has $have; run it on a larger partition (SLURM_PARTITION) or give it fewer workers" >&2
    return 1
  fi
  echo "$nodes"
}

# LAUNCH_SIM=true: the simulated engine runs in the allocation (on the host of
# its first node, in this workspace) in place of the engine's container.
slurm_sim() {
  slurm_alloc "$1" srun --nodes 1 --ntasks 1 --export ALL bash benchmarks/sim.sh
}

# Slurm with Docker on the compute node: one node allocated with salloc,
# the container started there with srun.
launch_slurm() {
  local script nodes
  nodes="$(slurm_nodes)"
  if [ "${LAUNCH_SIM:-false}" = true ]; then
    slurm_sim "$nodes"
    return
  fi
  script="$(bench_script .)"
  docker_run_args
  slurm_alloc "$nodes" srun --nodes 1 --ntasks 1 docker run "${DOCKER_ARGS[@]}" "$IMAGE" bash "$script"
}

# Slurm with enroot/pyxis: the image is imported by pyxis; multi-node
# entries get as many nodes as their prefill and decode GPUs need, and the
# engine script runs on the first node (it starts workers with srun).
launch_enroot() {
  local script nodes bindir
  nodes="$(slurm_nodes)"
  if [ "${LAUNCH_SIM:-false}" = true ]; then
    slurm_sim "$nodes"
    return
  fi
  script="$(bench_script .)"
  bindir="$(infmax_dir)"
  export PATH="$C_BIN:$PATH"
  slurm_alloc "$nodes" srun --nodes 1 --ntasks 1 --export ALL \
    --container-image "$IMAGE" \
    --container-mounts "$PWD:$C_WORK,$bindir:$C_BIN:ro,${HF_CACHE:?set HF_CACHE to the host HF hub cache}:$C_HF" \
    --container-workdir "$C_WORK" \
    bash "$script"
}
