# shellcheck shell=bash
# Helpers for the engine scripts in this folder, with the names and flags of
# the seed system's library (InferenceMAX `benchmarks/benchmark_lib.sh`), so
# its engine scripts run unchanged: check_env_vars, wait_for_server_ready,
# run_benchmark_serving, run_eval / run_lm_eval, append_lm_eval_summary.
# Each is a thin wrapper over `infmax`; the benchmark protocol (range ratio,
# warm-ups, percentiles) comes from `infmax bench serve --protocol sweep`,
# the same place `infmax run --full-scale` reads it from.
#
# infmax's own engine scripts start the engine with engines.sh
# (`serve_vllm`, `serve_sglang`, ... or `start_server CMD...`) and call
# `run_all`.
#
# The job environment comes from `infmax matrix job-env` (MODEL, TP, EP_SIZE,
# DP_ATTENTION, CONC, ISL, OSL, MAX_MODEL_LEN, RESULT_FILENAME, RUN_EVAL, ...;
# multi-node: CONC_LIST and RESULT_FILENAMES). Optional settings:
#   PORT (8888), RESULT_DIR (results), SERVER_LOG (server.log),
#   SERVER_TIMEOUT seconds (3600), NUM_PROMPTS (10 x CONC), TOKENIZER (MODEL, from the local HF cache),
#   PROMPT_TOKEN_IDS=true (send token ids instead; no tokenizer needed),
#   BENCH_BACKEND (vllm), INFMAX (infmax);
#   evals: EVAL_FRAMEWORK (lm-eval), EVAL_TASK (gsm8k), NUM_FEWSHOT (2),
#   EVAL_RESULT_DIR (eval_out), EVAL_LIMIT, EVAL_CONCURRENT_REQUESTS (32),
#   MODEL_NAME (MODEL).

: "${PORT:=8888}"
: "${RESULT_DIR:=results}"
: "${SERVER_LOG:=server.log}"
: "${SERVER_TIMEOUT:=3600}"
: "${BENCH_BACKEND:=vllm}"
: "${INFMAX:=infmax}"
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SERVER_PID="${SERVER_PID:-}"

# Fails (exit 1) with one message naming every variable that is unset or empty.
check_env_vars() {
  local missing=() v
  for v in "$@"; do
    [ -n "${!v:-}" ] || missing+=("$v")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "error: $(basename "$0"): missing environment variables: ${missing[*]} (set them from the matrix entry with \`infmax matrix job-env\`)" >&2
    exit 1
  fi
}

# True when the value is true/1/yes (matrix booleans arrive as text).
is_true() {
  case "${1,,}" in
    true | 1 | yes) return 0 ;;
    *) return 1 ;;
  esac
}

# _flag_value FUNCTION FLAG ARGC: fails when FLAG came without a value.
_flag_value() {
  if [ "$3" -lt 2 ]; then
    echo "error: $1: $2 needs a value" >&2
    return 2
  fi
}

# _unknown_flag FUNCTION FLAG ALLOWED...
_unknown_flag() {
  local fn=$1 flag=$2
  shift 2
  echo "error: $fn: unknown option \`$flag\` (allowed: $*)" >&2
  return 2
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

# wait_for_server_ready [--port P] [--server-log F] [--server-pid PID] [--sleep-interval S]
# Waits for /health (or /v1/models), streaming the server log meanwhile
# (fenced from workflow commands); fails fast when the server dies.
wait_for_server_ready() {
  local port="$PORT" log="$SERVER_LOG" pid="$SERVER_PID" interval=1
  while [ $# -gt 0 ]; do
    case "${1//_/-}" in
      --port) port=${2-} ;;
      --server-log) log=${2-} ;;
      --server-pid) pid=${2-} ;;
      --sleep-interval) interval=${2-} ;;
      *) _unknown_flag "${FUNCNAME[0]}" "$1" --port --server-log --server-pid --sleep-interval || return ;;
    esac
    _flag_value "${FUNCNAME[0]}" "$1" $# || return
    shift 2
  done
  local args=(--port "$port" --log "$log" --timeout "$SERVER_TIMEOUT" --interval "$interval")
  if [ -n "$pid" ]; then
    args+=(--pid "$pid")
  fi
  "$INFMAX" server wait "${args[@]}"
}

# run_benchmark_serving --model M --input-len I --output-len O --max-concurrency C
#   --result-filename F [--port P] [--backend B] [--random-range-ratio R]
#   [--num-prompts N] [--result-dir D] [--tokenizer T] [--use-chat-template]
#   [--server-pid PID] [--bench-serving-dir D (ignored)] [--trust-remote-code]
# One benchmark under the sweep protocol (random dataset, request rate inf,
# ignore-eos, 2 x C warm-ups, ttft/tpot/itl/e2el percentiles; range ratio
# 0.8 and 10 x C prompts unless given) into D/F.json. With a server pid it
# stops early, keeping what was measured, when the server dies.
run_benchmark_serving() {
  local model="" port="$PORT" backend="$BENCH_BACKEND" isl="" osl="" ratio="" prompts=""
  local conc="" name="" dir="$RESULT_DIR" tokenizer="${TOKENIZER:-}" pid="$SERVER_PID" chat=()
  while [ $# -gt 0 ]; do
    case "${1//_/-}" in
      --use-chat-template)
        chat=(--use-chat-template)
        shift
        continue
        ;;
      --trust-remote-code)
        shift
        continue
        ;;
    esac
    case "${1//_/-}" in
      --model) model=${2-} ;;
      --port) port=${2-} ;;
      --backend) backend=${2-} ;;
      --input-len) isl=${2-} ;;
      --output-len) osl=${2-} ;;
      --random-range-ratio) ratio=${2-} ;;
      --num-prompts) prompts=${2-} ;;
      --max-concurrency) conc=${2-} ;;
      --result-filename) name=${2-} ;;
      --result-dir) dir=${2-} ;;
      --tokenizer) tokenizer=${2-} ;;
      --server-pid) pid=${2-} ;;
      --bench-serving-dir) ;; # the seed's client location; infmax is the client
      *) _unknown_flag "${FUNCNAME[0]}" "$1" --model --port --backend --input-len --output-len \
        --random-range-ratio --num-prompts --max-concurrency --result-filename --result-dir \
        --tokenizer --use-chat-template --server-pid --bench-serving-dir --trust-remote-code || return ;;
    esac
    _flag_value "${FUNCNAME[0]}" "$1" $# || return
    shift 2
  done
  local missing=() f
  for f in model isl osl conc name; do
    [ -n "${!f}" ] || missing+=("$f")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "error: ${FUNCNAME[0]}: missing options for: ${missing[*]} (needs --model, --input-len, --output-len, --max-concurrency, --result-filename)" >&2
    return 2
  fi
  local args=(--protocol sweep --backend "$backend" --port "$port" --model "$model"
    --dataset-name random --random-input-len "$isl" --random-output-len "$osl"
    --max-concurrency "$conc" --save-result --result-dir "$dir" --result-filename "${name%.json}.json"
    --metadata "image=${IMAGE:-}" "framework=${FRAMEWORK:-}" "precision=${PRECISION:-}" "runner=${RUNNER_TYPE:-}")
  if [ -n "$ratio" ]; then
    args+=(--random-range-ratio "$ratio")
  fi
  if [ -n "$prompts" ]; then
    args+=(--num-prompts "$prompts")
  fi
  if is_true "${PROMPT_TOKEN_IDS:-false}" && [ "${#chat[@]}" -eq 0 ]; then
    args+=(--prompt-token-ids)
  else
    args+=(--tokenizer "${tokenizer:-$model}" "${chat[@]}")
  fi
  if [ -n "$pid" ]; then
    args+=(--server-pid "$pid")
  fi
  mkdir -p "$dir"
  "$INFMAX" bench serve "${args[@]}"
}

# run_lm_eval [--port P] [--task T] [--num-fewshot K] [--results-dir D]
#   [--gen-max-tokens N] [--temperature X] [--top-p Y] [--concurrent-requests C]
# lm-evaluation-harness (chat completions) against the server; the results
# and meta_env.json go to D, exported as EVAL_RESULT_DIR for
# append_lm_eval_summary. A task is a YAML file, a file `evals/T.yaml`
# beside this library, or an lm-eval task name.
run_lm_eval() {
  local port="$PORT" task="${EVAL_TASK:-gsm8k}" fewshot="${NUM_FEWSHOT:-2}"
  local dir="${EVAL_RESULT_DIR:-eval_out}" gen=4096 temperature=0 top_p=1
  local conc="${EVAL_CONCURRENT_REQUESTS:-32}"
  while [ $# -gt 0 ]; do
    case "${1//_/-}" in
      --port) port=${2-} ;;
      --task) task=${2-} ;;
      --num-fewshot) fewshot=${2-} ;;
      --results-dir) dir=${2-} ;;
      --gen-max-tokens) gen=${2-} ;;
      --temperature) temperature=${2-} ;;
      --top-p) top_p=${2-} ;;
      --concurrent-requests) conc=${2-} ;;
      *) _unknown_flag "${FUNCNAME[0]}" "$1" --port --task --num-fewshot --results-dir \
        --gen-max-tokens --temperature --top-p --concurrent-requests || return ;;
    esac
    _flag_value "${FUNCNAME[0]}" "$1" $# || return
    shift 2
  done
  if [ ! -f "$task" ] && [ -f "$BENCH_DIR/evals/$task.yaml" ]; then
    task="$BENCH_DIR/evals/$task.yaml"
  fi
  export OPENAI_API_KEY="${OPENAI_API_KEY:-EMPTY}"
  export EVAL_RESULT_DIR="$dir"
  local args=(--port "$port" --model "${MODEL_NAME:-$MODEL}" --tasks "$task"
    --include-path "$BENCH_DIR/evals" --num-fewshot "$fewshot" --max-tokens "$gen"
    --temperature "$temperature" --top-p "$top_p" --concurrency "$conc" --out "$dir")
  if [ -n "${EVAL_LIMIT:-}" ]; then
    args+=(--limit "$EVAL_LIMIT")
  fi
  "$INFMAX" eval run "${args[@]}"
}

# run_eval [--framework lm-eval] [run_lm_eval options...]
run_eval() {
  local framework="${EVAL_FRAMEWORK:-lm-eval}" rest=()
  while [ $# -gt 0 ]; do
    if [ "${1//_/-}" = --framework ]; then
      _flag_value "${FUNCNAME[0]}" "$1" $# || return
      framework=$2
      shift 2
    else
      rest+=("$1")
      shift
    fi
  done
  case "$framework" in
    lm-eval | lm_eval) run_lm_eval "${rest[@]}" ;;
    *)
      echo "error: ${FUNCNAME[0]}: --framework $framework is not supported (allowed: lm-eval)" >&2
      return 2
      ;;
  esac
}

# Writes meta_env.json (the job's environment; `infmax eval run` has already
# written it, `infmax eval meta` does when lm-eval ran another way) and moves
# it with the lm-eval results*.json from EVAL_RESULT_DIR to the working
# directory, where the workflow uploads them as the
# eval_{EXP_NAME}_{RESULT_FILENAME} artifact.
append_lm_eval_summary() {
  local dir="${EVAL_RESULT_DIR:-}"
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    echo "error: ${FUNCNAME[0]}: EVAL_RESULT_DIR='$dir' is not a folder of lm-eval results; run run_eval first (its output says why it did not finish)" >&2
    return 1
  fi
  local results=() f
  while IFS= read -r -d '' f; do
    results+=("$f")
  done < <(find "$dir" -type f -name 'results*.json' -print0)
  if [ "${#results[@]}" = 0 ]; then
    echo "error: ${FUNCNAME[0]}: no lm-eval results*.json under $dir" >&2
    return 1
  fi
  if [ ! -f "$dir/meta_env.json" ]; then
    "$INFMAX" eval meta --out "$dir" >/dev/null || return
  fi
  mv -f "${results[@]}" ./
  mv -f "$dir/meta_env.json" ./
}

# Compatibility with earlier infmax engine scripts.
wait_for_server() {
  wait_for_server_ready --port "$PORT" --server-log "$SERVER_LOG"
}

# One benchmark at concurrency $1 (default CONC) into $RESULT_DIR/$2.json
# (default RESULT_FILENAME), the chat template for speculative decoding
# (EAGLE-style drafts are trained on chat-formatted input).
run_benchmark() {
  local conc="${1:-$CONC}" name="${2:-$RESULT_FILENAME}" extra=()
  if [ -n "${NUM_PROMPTS:-}" ]; then
    extra+=(--num-prompts "$NUM_PROMPTS")
  fi
  if [ "${SPEC_DECODING:-none}" != none ] && ! is_true "${PROMPT_TOKEN_IDS:-false}"; then
    extra+=(--use-chat-template)
  fi
  run_benchmark_serving --model "$MODEL" --input-len "$ISL" --output-len "$OSL" \
    --max-concurrency "$conc" --result-filename "$name" "${extra[@]}"
}

# Accuracy eval when the matrix marked this entry (RUN_EVAL=true).
run_eval_if_marked() {
  is_true "${RUN_EVAL:-false}" || return 0
  run_eval --framework "${EVAL_FRAMEWORK:-lm-eval}"
  append_lm_eval_summary
}

# Wait, benchmark (every concurrency of a multi-node entry), eval.
run_all() {
  check_env_vars MODEL ISL OSL CONC RESULT_FILENAME
  wait_for_server
  if is_true "${IS_MULTINODE:-false}"; then
    check_env_vars CONC_LIST RESULT_FILENAMES
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
