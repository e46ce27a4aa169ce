#!/usr/bin/env bash
# Before and after a benchmark job: stop what an earlier (cancelled or
# crashed) job on this runner left behind, so GPUs and ports are free.
# Only touches this runner's leftovers: containers labelled infmax=1 and
# infmax.runner=<runner tag>, and Slurm jobs named infmax-<run>-<attempt>-<runner tag>
# (other runners of the same machine or cluster keep theirs running).
set -euo pipefail
# shellcheck source=runners/lib/launch.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/launch.sh"
tag="$(runner_tag)"
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  mapfile -t stale < <(docker ps -aq --filter label=infmax=1 --filter "label=infmax.runner=$tag")
  if [ "${#stale[@]}" -gt 0 ]; then
    echo "infmax cleanup: removing ${#stale[@]} container(s) left by earlier jobs of $tag" >&2
    docker rm -f "${stale[@]}" >/dev/null || true
  fi
fi
if command -v squeue >/dev/null 2>&1; then
  mapfile -t jobs < <(squeue --me --noheader --format '%i %j' |
    awk -v tag="$tag" '{ n = $2; if (sub(/^infmax-[^-]+-[^-]+-/, "", n) && n == tag) print $1 }')
  if [ "${#jobs[@]}" -gt 0 ]; then
    echo "infmax cleanup: cancelling Slurm job(s) ${jobs[*]} of $tag" >&2
    scancel "${jobs[@]}" || true
  fi
fi
# Results of an earlier job in a reused workspace must not be uploaded again.
rm -rf results server.log agg_*.json meta_env.json results*.json
