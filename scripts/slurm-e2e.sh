#!/usr/bin/env bash
# The Slurm launchers, run for real: starts a one-node Slurm cluster on this
# machine (munge, slurmctld, slurmd from Debian's packages; eight fake GPUs),
# then benchmarks matrix entries through runners/launch_gb200-nv.sh (enroot
# launcher) and runners/launch_b200-nvd.sh (docker-on-Slurm launcher) with
# LAUNCH_SIM=true, so the job step runs the simulator instead of a container.
#
#   scripts/slurm-e2e.sh [INFMAX_BINARY]   (default target/debug/infmax)
#
# Checks: a single-node and a multi-node entry benchmarked and processed as
# the workflow's "Process results" step does; a multi-node entry too large
# for the cluster fails before allocating; two runners' jobs at once, and
# cleanup.sh of one leaves the other's running; a job cancelled from Slurm,
# one cancelled the way a runner cancels a step, and one that hits its time
# limit each leave no allocation and no process.
#
# Needs root (slurmd runs job steps as the submitting user) and the packages
# slurmctld slurmd slurm-client munge (`.ci/run` installs them). Everything
# else lives in one temporary directory; daemons listen on 127.0.0.1 ports
# picked here, are stopped by pid, and the directory is removed at exit.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$(readlink -f "${1:-$root/target/debug/infmax}")"
start=$(date +%s)
if [ "$(id -u)" != 0 ]; then
  echo "slurm e2e: needs root (slurmd and munged run as root here)" >&2
  exit 2
fi
for c in munged mungekey slurmctld slurmd salloc srun squeue sinfo scancel; do
  command -v "$c" >/dev/null || {
    echo "slurm e2e: $c not found; install slurmctld slurmd slurm-client munge" >&2
    exit 2
  }
done
[ -x "$bin" ] || {
  echo "slurm e2e: no infmax binary at $bin" >&2
  exit 2
}

tmp="$(mktemp -d /tmp/infmax-slurm.XXXXXX)"
chmod 700 "$tmp"
daemons=()
stop_all() {
  local rc=$? pid p
  # A second signal (a runner's TERM after its INT) must not cut this short.
  trap '' INT TERM HUP
  # Jobs first (their steps end with them), then the daemons, newest first.
  if [ -n "${SLURM_CONF:-}" ] && [ "${#daemons[@]}" -gt 0 ]; then
    scancel --full --quiet --user root 2>/dev/null || true
    for _ in $(seq 50); do
      [ -z "$(squeue --noheader 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  # Whatever a job step left running (marked INFMAX_E2E_JOB) goes too.
  for p in /proc/[0-9]*; do
    if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -q '^INFMAX_E2E_JOB='; then
      kill -9 "${p#/proc/}" 2>/dev/null || true
    fi
  done
  for ((i = ${#daemons[@]} - 1; i >= 0; i--)); do
    pid="${daemons[$i]}"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" != 0 ]; then
    for f in "$tmp"/log/*.log; do
      [ -f "$f" ] || continue
      echo "--- $(basename "$f") (last 30 lines)" >&2
      tail -n 30 "$f" >&2
    done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap stop_all EXIT
# A runner's cancel (or ^C) still stops the daemons and removes $tmp.
trap 'exit 143' TERM
trap 'exit 130' INT HUP

fail() {
  echo "slurm e2e: FAILED: $*" >&2
  exit 1
}
ok() {
  echo "slurm e2e: ok: $*" >&2
}
# A free port below the kernel's ephemeral range: one from bind(:0) could be
# taken by any outgoing connection before the daemon or server binds it.
free_port() {
  python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    port = random.randrange(10000, max(low, 11000))
    try:
        socket.socket().bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
else:
    raise SystemExit("no free port")
PY
}

# --- the cluster -----------------------------------------------------------
mkdir -p "$tmp"/{munge,etc,state,spool,log,run,gpu,bin}
ln -s "$bin" "$tmp/bin/infmax"
export PATH="$tmp/bin:$PATH"
mungekey --create --keyfile="$tmp/munge/munge.key" 2>/dev/null
chmod 600 "$tmp/munge/munge.key"
munged --foreground --force --socket="$tmp/munge/munge.sock" --key-file="$tmp/munge/munge.key" \
  --pid-file="$tmp/run/munged.pid" --log-file="$tmp/log/munged.log" \
  --seed-file="$tmp/munge/munged.seed" 2>"$tmp/log/munged.err" &
daemons+=($!)

node="$(hostname -s)"
cpus="$(nproc)"
for i in $(seq 0 7); do : >"$tmp/gpu/fakegpu$i"; done
cat >"$tmp/etc/gres.conf" <<EOF
AutoDetect=off
Name=gpu File=$tmp/gpu/fakegpu[0-7]
EOF
cat >"$tmp/etc/slurm.conf" <<EOF
ClusterName=infmax-e2e
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
CommunicationParameters=NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
KillWait=5
MinJobAge=600
InactiveLimit=0
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus Gres=gpu:8 State=UNKNOWN
PartitionName=gb200 Nodes=$node Default=YES MaxTime=INFINITE State=UP
PartitionName=b200 Nodes=$node MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$tmp/etc/slurm.conf"
for _ in $(seq 50); do [ -S "$tmp/munge/munge.sock" ] && break; sleep 0.1; done
slurmctld -D -i -f "$SLURM_CONF" 2>"$tmp/log/slurmctld.err" &
daemons+=($!)
slurmd -D -f "$SLURM_CONF" 2>"$tmp/log/slurmd.err" &
daemons+=($!)
state=""
for _ in $(seq 100); do
  state="$(sinfo --noheader --Node --format %t 2>/dev/null | head -n 1 || true)"
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || fail "node $node is \`$state\` after 20 s, not idle"
gres="$(sinfo --noheader --Node --format %G | head -n 1)"
[ "$gres" = "gpu:8" ] || fail "node $node registered GPUs \`$gres\`, expected gpu:8"
ok "one-node cluster up in $(($(date +%s) - start)) s: $node, $cpus CPUs, $gres, partitions gb200 and b200"

# --- the workspaces: one per runner, as on a cluster's runner machines -----
# A config with a single-node entry (b200, docker-on-Slurm launcher) and
# multi-node entries (gb200, enroot launcher, 4 GPUs per node): 2+2 GPUs fit
# on one node, 4+4 need two.
conf="$tmp/configs"
mkdir -p "$conf"
cat >"$conf/slurmsim-master.yaml" <<'YAML'
slurmsim-fp8-b200-vllm:
  image: vllm/vllm-openai:v0.11.0
  model: slurmsim/model
  model-prefix: slurmsim
  precision: fp8
  framework: vllm
  runner: b200
  multinode: false
  seq-len-configs:
  - isl: 256
    osl: 64
    search-space:
    - { tp: 8, conc-list: [4] }
slurmsim-fp8-gb200-dynamo-sglang:
  image: lmsysorg/sglang:v0.5.3-cu129-gb200
  model: slurmsim/model
  model-prefix: slurmsim
  precision: fp8
  framework: dynamo-sglang
  runner: gb200
  multinode: true
  disagg: true
  seq-len-configs:
  - isl: 256
    osl: 64
    search-space:
    - prefill: { num-worker: 1, tp: 2, ep: 2, dp-attn: false }
      decode: { num-worker: 1, tp: 2, ep: 2, dp-attn: false }
      conc-list: [2, 4]
  - isl: 512
    osl: 64
    search-space:
    - prefill: { num-worker: 1, tp: 4, ep: 4, dp-attn: false }
      decode: { num-worker: 1, tp: 4, ep: 4, dp-attn: false }
      conc-list: [4]
YAML
printf 'b200: [b200-nvd_0]\ngb200: [gb200-nv_0, gb200-nv_1]\n' >"$conf/runners.yaml"
infmax matrix full-sweep --config-files "$conf/slurmsim-master.yaml" --runner-config "$conf/runners.yaml" \
  >"$tmp/matrix.json" 2>"$tmp/log/matrix.log" || fail "matrix full-sweep: $(cat "$tmp/log/matrix.log")"
single="$(jq -c '[.[] | select(.runner == "b200")][0]' "$tmp/matrix.json")"
fits="$(jq -c '[.[] | select(.runner == "gb200" and .isl == 256)][0]' "$tmp/matrix.json")"
too_big="$(jq -c '[.[] | select(.runner == "gb200" and .isl == 512)][0]' "$tmp/matrix.json")"
for e in single fits too_big; do
  [ "${!e}" != null ] || fail "no $e entry in the matrix: $(cat "$tmp/matrix.json")"
done

# The workflow's own "Process results" step (benchmark-tmpl.yml), run as is:
# the `run: |` block of the step of that name (read without a YAML library,
# which a fresh machine's python3 may lack).
process_step="$(python3 - "$root/.github/workflows/benchmark-tmpl.yml" "Process results" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
for i, line in enumerate(lines):
    if re.fullmatch(r"\s*- name: " + re.escape(sys.argv[2]), line):
        for j in range(i + 1, len(lines)):
            m = re.fullmatch(r"(\s*)run: \|", lines[j])
            if m:
                indent = len(m.group(1))
                block = []
                for body in lines[j + 1:]:
                    if body.strip() and len(body) - len(body.lstrip()) <= indent:
                        break
                    block.append(body)
                cut = min(len(b) - len(b.lstrip()) for b in block if b.strip())
                print("\n".join(b[cut:] for b in block))
                sys.exit(0)
sys.exit(f"no `run: |` step named {sys.argv[2]!r} in {sys.argv[1]}")
PY
)"

# workspace RUNNER: the runner's workspace, holding this checkout's
# benchmarks/ and runners/ (created on first use).
workspace() {
  local ws="$tmp/ws/$1"
  if [ ! -d "$ws" ]; then
    mkdir -p "$ws"
    cp -r "$root/benchmarks" "$root/runners" "$ws/"
  fi
  echo "$ws"
}

# job RUNNER ENTRY [VAR=VALUE...]: the benchmark job's steps for one matrix
# entry on one runner, in its workspace: cleanup.sh, `infmax matrix job-env`,
# the runner's launcher with LAUNCH_SIM=true, then (when the launcher
# succeeded) the "Process results" step. Every process it starts carries
# INFMAX_E2E_JOB=RUNNER in its environment, so strays can be found. Runs in
# its own process group (setsid), as a runner step does; the caller waits.
job() {
  local runner="$1" entry="$2" ws
  shift 2
  ws="$(workspace "$runner")"
  (
    cd "$ws"
    export RUNNER_NAME="$runner" INFMAX_E2E_JOB="$runner" LAUNCH_SIM=true
    PORT="$(free_port)"
    export GITHUB_RUN_ID=4242 GITHUB_RUN_ATTEMPT=1 PORT
    export SIM_ARGS="--ttft-ms 20 --itl-ms 5" SERVER_TIMEOUT=60
    for kv in "$@"; do export "${kv?}"; done
    bash runners/cleanup.sh
    set -a
    eval "$(INFMAX_ENTRY="$entry" infmax matrix job-env)"
    set +a
    bash "runners/launch_${runner%_*}.sh"
    bash -c "$process_step"
  ) >"$tmp/log/job-$runner.log" 2>&1
}

# The processes of RUNNER's jobs still alive (by their INFMAX_E2E_JOB).
strays() {
  local p
  for p in /proc/[0-9]*; do
    if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "INFMAX_E2E_JOB=$1"; then
      echo "${p#/proc/}:$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)"
    fi
  done
}
# Fails unless RUNNER's jobs left no allocation (none queued, running or
# completing, within KillWait) and no process.
assert_gone() {
  local left=""
  for _ in $(seq 75); do
    left="$(squeue --noheader --format '%j %i %T' | grep -- "^infmax-4242-1-$1 " || true)"
    [ -z "$left" ] && break
    sleep 0.2
  done
  [ -z "$left" ] || fail "$1: allocation left behind: $left"
  for _ in $(seq 50); do
    left="$(strays "$1")"
    [ -z "$left" ] && return 0
    sleep 0.2
  done
  fail "$1: processes left behind: $left"
}
# The one Slurm job record named for RUNNER (scontrol keeps ended jobs for
# MinJobAge), as `Key=Value` words; the newest when there are several.
job_record() {
  scontrol show job --oneliner | grep -- " JobName=infmax-4242-1-$1 " | sort -t= -k2 -n | tail -n 1
}
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n 1; }
# assert_allocation RUNNER PARTITION NODES GRES: RUNNER's last job completed
# on that partition with that many nodes and GPUs per node.
assert_allocation() {
  local rec
  rec="$(job_record "$1")"
  if ! { [ "$(field "$rec" JobState)" = COMPLETED ] && [ "$(field "$rec" Partition)" = "$2" ] &&
    [ "$(field "$rec" NumNodes)" = "$3" ] &&
    case "$(field "$rec" TresPerNode)" in "gres:$4" | "gres/$4") ;; *) false ;; esac; }; then
    fail "$1: expected a completed job on partition $2 with $3 node(s) and $4: $rec"
  fi
}
# wait_state RUNNER STATE SECONDS
wait_state() {
  local s=""
  for _ in $(seq $(($3 * 5))); do
    s="$(field "$(job_record "$1")" JobState)"
    [ "$s" = "$2" ] && return 0
    sleep 0.2
  done
  fail "$1: job state \`$s\` after $3 s, expected $2"
}

# --- 1. a single-node entry through the docker-on-Slurm launcher -----------
t0=$(date +%s)
job b200-nvd_0 "$single" || fail "single-node job: $(tail -n 20 "$tmp/log/job-b200-nvd_0.log")"
assert_allocation b200-nvd_0 b200 1 gpu:8
assert_gone b200-nvd_0
ws="$(workspace b200-nvd_0)"
python3 - "$ws" <<'PY' || fail "single-node results"
import glob, json, sys
ws = sys.argv[1]
raw = glob.glob(f"{ws}/results/*.json")
agg = glob.glob(f"{ws}/agg_*.json")
assert len(raw) == 1 and len(agg) == 1, (raw, agg)
r = json.load(open(agg[0]))
name = "slurmsim_256_64_fp8_vllm_tp8_ep1_dpa_false_conc4_specdecode_none_b200-nvd_0"
assert agg[0].endswith(f"/agg_{name}.json"), agg[0]
assert (r["hw"], r["conc"], r["tp"], r["isl"], r["osl"]) == ("b200", 4, 8, 256, 64), r
# The simulator's timing: 20 ms to the first token, then 5 ms a token.
assert 0.0045 <= r["median_tpot"] <= 0.006, r["median_tpot"]
assert 0.019 <= r["median_ttft"] <= 0.040, r["median_ttft"]
total = json.load(open(raw[0]))["total_token_throughput"]
assert abs(r["tput_per_gpu"] * 8 - total) < 1e-6 * total, (r, total)
PY
ok "single-node entry: launch_b200-nvd.sh allocated 1 node with gpu:8 on partition b200, benchmarked and processed, released ($(($(date +%s) - t0)) s)"

# --- 2. a multi-node entry that fits on the node (enroot launcher) ---------
t0=$(date +%s)
job gb200-nv_0 "$fits" || fail "multi-node job: $(tail -n 20 "$tmp/log/job-gb200-nv_0.log")"
# 2+2 GPUs at 4 a node: one node.
assert_allocation gb200-nv_0 gb200 1 gpu:4
assert_gone gb200-nv_0
ws="$(workspace gb200-nv_0)"
python3 - "$ws" <<'PY' || fail "multi-node results"
import glob, json, sys
ws = sys.argv[1]
agg = sorted(glob.glob(f"{ws}/agg_*.json"))
assert len(glob.glob(f"{ws}/results/*.json")) == 2 and len(agg) == 2, agg
rows = [json.load(open(f)) for f in agg]
assert sorted(r["conc"] for r in rows) == [2, 4], rows
for f, r in zip(agg, rows):
    assert r["is_multinode"] is True and r["disagg"] is True, r
    assert (r["num_prefill_gpu"], r["num_decode_gpu"]) == (2, 2), r
    raw = f"{ws}/results/" + f.rsplit("/agg_", 1)[1]
    total = json.load(open(raw))["total_token_throughput"]
    assert abs(r["tput_per_gpu"] * 4 - total) < 1e-6 * total, (r, total)
    assert 0.0045 <= r["median_tpot"] <= 0.006, r["median_tpot"]
PY
ok "multi-node entry (2+2 GPUs): 1 node with gpu:4 on partition gb200, two concurrencies benchmarked and processed, released ($(($(date +%s) - t0)) s)"

# --- 3. a multi-node entry that does not fit fails before allocating -------
before="$(scontrol show job --oneliner | grep -c JobId= || true)"
if job gb200-nv_1 "$too_big"; then
  fail "a 4+4 GPU entry on one 4-GPU node ran"
fi
grep -q "needs 2 node(s) of 4 GPUs (PREFILL_GPUS=4 + DECODE_GPUS=4), but Slurm partition gb200 has 1" "$tmp/log/job-gb200-nv_1.log" ||
  fail "too-large entry: $(tail -n 5 "$tmp/log/job-gb200-nv_1.log")"
after="$(scontrol show job --oneliner | grep -c JobId= || true)"
[ "$before" = "$after" ] || fail "the too-large entry reached Slurm ($before jobs before, $after after)"
ok "multi-node entry (4+4 GPUs) refused before allocating: $(grep -o 'needs 2 node.*has 1' "$tmp/log/job-gb200-nv_1.log")"

# --- 4. two runners at once; cleanup.sh of one; a job past its time limit --
# Long runs (5000 prompts) so they are still going when the checks look.
t0=$(date +%s)
set -m # background jobs get process groups of their own, as runner steps do
job gb200-nv_0 "$fits" NUM_PROMPTS=5000 SLURM_TIME=1 &
pid_a=$!
wait_state gb200-nv_0 RUNNING 30
job gb200-nv_1 "$fits" NUM_PROMPTS=5000 &
pid_b=$!
set +m
wait_state gb200-nv_1 PENDING 30
(cd "$(workspace gb200-nv_1)" && RUNNER_NAME=gb200-nv_1 bash runners/cleanup.sh) 2>"$tmp/log/cleanup-b.log"
grep -q "cancelling Slurm job(s) [0-9]* of gb200-nv_1" "$tmp/log/cleanup-b.log" ||
  fail "cleanup.sh of gb200-nv_1: $(cat "$tmp/log/cleanup-b.log")"
if wait "$pid_b"; then fail "gb200-nv_1's launcher succeeded after its job was cancelled"; fi
wait_state gb200-nv_1 CANCELLED 10
assert_gone gb200-nv_1
[ "$(field "$(job_record gb200-nv_0)" JobState)" = RUNNING ] || fail "gb200-nv_0's job stopped: $(job_record gb200-nv_0)"
[ -n "$(strays gb200-nv_0)" ] || fail "gb200-nv_0's job runs no process"
ok "two runners: gb200-nv_1's queued job cancelled by its cleanup.sh, gb200-nv_0's kept running"
wait_state gb200-nv_0 TIMEOUT 150
if wait "$pid_a"; then fail "gb200-nv_0's launcher succeeded past its time limit"; fi
assert_gone gb200-nv_0
ok "a job past its 1-minute time limit (TIMEOUT) left no allocation and no process ($(($(date +%s) - t0)) s)"

# --- 5. a step cancelled the way a runner cancels it -----------------------
# SIGINT to the step's process group, SIGTERM 7.5 s later, SIGKILL 2.5 s
# after that; then the job's `if: always()` cleanup.sh step.
t0=$(date +%s)
set -m
job b200-nvd_0 "$single" NUM_PROMPTS=5000 &
pid_c=$!
set +m
wait_state b200-nvd_0 RUNNING 30
for _ in $(seq 100); do
  strays b200-nvd_0 | grep -q "infmax bench serve" && break
  sleep 0.2
done
strays b200-nvd_0 | grep -q "infmax bench serve" || fail "b200-nvd_0's benchmark never started: $(strays b200-nvd_0)"
for sig_wait in INT:75 TERM:25 KILL:10; do
  kill -0 -- "-$pid_c" 2>/dev/null || break
  kill "-${sig_wait%:*}" -- "-$pid_c" 2>/dev/null || true
  for _ in $(seq "${sig_wait#*:}"); do
    kill -0 -- "-$pid_c" 2>/dev/null || break
    sleep 0.1
  done
done
wait "$pid_c" 2>/dev/null || true
(cd "$(workspace b200-nvd_0)" && RUNNER_NAME=b200-nvd_0 bash runners/cleanup.sh) 2>"$tmp/log/cleanup-c.log"
assert_gone b200-nvd_0
ok "a step cancelled like a runner cancels it (then cleanup.sh): job $(field "$(job_record b200-nvd_0)" JobState), no allocation, no process ($(($(date +%s) - t0)) s)"

[ -z "$(squeue --noheader)" ] || fail "jobs left in the queue: $(squeue --noheader)"
echo "slurm e2e: all checks passed in $(($(date +%s) - start)) s" >&2
