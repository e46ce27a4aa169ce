#!/usr/bin/env bash
# Before and after a benchmark job: stop what an earlier (cancelled or
# crashed) job on this runner left behind, so GPUs and ports are free.
# Only touches containers labelled infmax=1 and Slurm jobs named infmax-*.
set -euo pipefail
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  mapfile -t stale < <(docker ps -aq --filter label=infmax=1)
  if [ "${#stale[@]}" -gt 0 ]; then
    echo "infmax cleanup: removing ${#stale[@]} container(s) left by earlier jobs" >&2
    docker rm -f "${stale[@]}" >/dev/null || true
  fi
fi
if command -v squeue >/dev/null 2>&1; then
  mapfile -t jobs < <(squeue --me --noheader --format '%i %j' | awk '$2 ~ /^infmax-/ {print $1}')
  if [ "${#jobs[@]}" -gt 0 ]; then
    echo "infmax cleanup: cancelling Slurm job(s) ${jobs[*]}" >&2
    scancel "${jobs[@]}" || true
  fi
fi
# Results of an earlier job in a reused workspace must not be uploaded again.
rm -rf results server.log
