# shellcheck shell=bash
# Helpers for the engine scripts in this folder. Source it, start the engine
# (`serve_vllm`, `serve_sglang`, ... from engines.sh, or `start_server CMD...`),
# then call `run_all` (or the steps one by one).
#
# The job environment comes from `infmax matrix job-env` (MODEL, TP, EP_SIZE,
# DP_ATTENTION, CONC, ISL, OSL, MAX_MODEL_LEN, RESULT_FILENAME, RUN_EVAL, ...;
# multi-node: CONC_LIST and RESULT_FILENAMES). Optional settings:
#   PORT (8888), RESULT_DIR (results), SERVER_LOG (server.log),
#   SERVER_TIMEOUT seconds (3600), NUM_PROMPTS (CONC x 10),
#   RANDOM_RANGE_RATIO (0.8), TOKENIZER (MODEL, from the local HF cache),
#   PROMPT_TOKEN_IDS=true (send token ids instead; no tokenizer needed),
#   BENCH_BACKEND (vllm), EVAL_TASKS (gsm8k_infmax), EVAL_LIMIT, INFMAX (infmax).

: "${PORT:=8888}"
: "${RESULT_DIR:=results}"
: "${SERVER_LOG:=server.log}"
: "${SERVER_TIMEOUT:=3600}"
: "${RANDOM_RANGE_RATIO:=0.8}"
: "${BENCH_BACKEND:=vllm}"
: "${EVAL_TASKS:=gsm8k_infmax}"
: "${INFMAX:=infmax}"
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SERVER_PID=""

# Fails with one message naming every variable that is missing or empty.
require_env() {
  local missing=() v
  for v in "$@"; do
    [ -n "${!v:-}" ] || missing+=("$v")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "error: $(basename "$0"): missing environment variables: ${missing[*]} (set them from the matrix entry with \`infmax matrix job-env\`)" >&2
    exit 2
  fi
}

# True when the value is true/1/yes (matrix booleans arrive as text).
is_true() {
  case "${1,,}" in
    true | 1 | yes) return 0 ;;
    *) return 1 ;;
  esac
}

# Starts the engine in the background, its output in $SERVER_LOG; the engine
# is stopped when the script exits, whatever the outcome.
start_server() {
  echo "infmax: starting the server: $*" >&2
  "$@" >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  trap stop_server EXIT
}

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do
      kill -0 "$SERVER_PID" 2>/dev/null || return 0
      sleep 1
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
}

# Waits for /health (or /v1/models), streaming the server log meanwhile
# (fenced from workflow commands); fails fast when the server dies.
wait_for_server() {
  "$INFMAX" server wait --port "$PORT" --pid "$SERVER_PID" --log "$SERVER_LOG" --timeout "$SERVER_TIMEOUT"
}

# One benchmark at concurrency $1 (default CONC) into $RESULT_DIR/$2.json
# (default RESULT_FILENAME). Aborts cleanly, keeping what was measured, when
# the server process dies.
run_benchmark() {
  local conc="${1:-$CONC}" name="${2:-$RESULT_FILENAME}"
  local prompts=(--tokenizer "${TOKENIZER:-$MODEL}")
  if is_true "${PROMPT_TOKEN_IDS:-false}"; then
    prompts=(--prompt-token-ids)
  fi
  mkdir -p "$RESULT_DIR"
  "$INFMAX" bench serve \
    --backend "$BENCH_BACKEND" \
    --port "$PORT" \
    --model "$MODEL" \
    "${prompts[@]}" \
    --dataset-name random \
    --random-input-len "$ISL" \
    --random-output-len "$OSL" \
    --random-range-ratio "$RANDOM_RANGE_RATIO" \
    --num-prompts "${NUM_PROMPTS:-$((conc * 10))}" \
    --max-concurrency "$conc" \
    --num-warmups "$((conc < 8 ? conc : 8))" \
    --request-rate inf \
    --ignore-eos \
    --percentile-metrics ttft,tpot,itl,e2el \
    --metric-percentiles 50,90,99,99.9 \
    --server-pid "$SERVER_PID" \
    --save-result \
    --result-dir "$RESULT_DIR" \
    --result-filename "$name.json" \
    --metadata "image=${IMAGE:-}" "framework=${FRAMEWORK:-}" "precision=${PRECISION:-}" "runner=${RUNNER_TYPE:-}"
}

# Accuracy eval when the matrix marked this entry (RUN_EVAL=true).
run_eval_if_marked() {
  is_true "${RUN_EVAL:-false}" || return 0
  local args=(--port "$PORT" --model "$MODEL" --tasks "$EVAL_TASKS"
    --include-path "$BENCH_DIR/evals" --out "$RESULT_DIR/eval_$RESULT_FILENAME")
  if [ -n "${EVAL_LIMIT:-}" ]; then
    args+=(--limit "$EVAL_LIMIT")
  fi
  "$INFMAX" eval run "${args[@]}"
}

# Wait, benchmark (every concurrency of a multi-node entry), eval.
run_all() {
  require_env MODEL ISL OSL CONC RESULT_FILENAME
  wait_for_server
  if is_true "${IS_MULTINODE:-false}"; then
    require_env CONC_LIST RESULT_FILENAMES
    local concs names i
    read -ra concs <<<"$CONC_LIST"
    read -ra names <<<"$RESULT_FILENAMES"
    for i in "${!concs[@]}"; do
      run_benchmark "${concs[$i]}" "${names[$i]}"
    done
  else
    run_benchmark "$CONC" "$RESULT_FILENAME"
  fi
  run_eval_if_marked
}

# shellcheck source=benchmarks/engines.sh
source "$BENCH_DIR/engines.sh"
