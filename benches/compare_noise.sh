#!/usr/bin/env bash
# The regression gate on the simulator: how often identical reruns are
# called a regression (false positives), and what a 10% slower engine is
# measured as. The sweep of benches/compare-master.yaml (two H100 series and
# one B200 series, each at concurrency 4, 16 and 64), scaled down (`infmax
# run` defaults) with the simulated clock at 2x.
#
#   benches/compare_noise.sh [INFMAX_BINARY] [PAIRS]   (default target/debug/infmax, 20)
#
# Prints, per pair, the regression count and TPOT change; then the totals.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$(readlink -f "${1:-target/debug/infmax}")"
pairs="${2:-20}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$root/benches/compare-master.yaml" tiny-master.yaml
printf 'h100: [h100-x_0]\nb200: [b200-x_0]\n' >runners.yaml
run() { # run OUT [run args...]
  local out="$1"
  shift
  "$bin" run --config-files tiny-master.yaml --runner-config runners.yaml --sim-speedup 2 \
    --out "$out" "$@" >/dev/null 2>"$out.log"
}
verdicts() { # verdicts DIR: "regressions tpot-changes"
  python3 - "$1/compare/compare.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
tpot = [m["median_change"] for s in c["series"] for m in s["metrics"] if m["metric"] == "tpot"]
flagged = [f'{s["series"]}/{m["metric"]}' for s in c["series"] for m in s["metrics"] if m["verdict"] == "regression"]
print(len(flagged), " ".join(f"{t * 100:+.2f}%" for t in tpot), ";".join(flagged))
PY
}
fp=0
for i in $(seq "$pairs"); do
  run "a$i"
  run "b$i" --compare-to "a$i"
  read -r n rest < <(verdicts "b$i")
  echo "identical pair $i: $n regression(s); TPOT $rest"
  fp=$((fp + n))
done
run base
for i in 1 2 3; do
  run "slow$i" --sim-slowdown 1.1 --compare-to base
  read -r n rest < <(verdicts "slow$i")
  echo "10% slower, run $i: $n regression(s); TPOT $rest"
done
echo "false positives: $fp regression verdict(s) in $pairs identical pairs (3 series x 4 metrics each)"
