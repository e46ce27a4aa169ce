"""What scripts/act-sweep.sh checks after act ran run-sweep.yml: the setup
job's matrix, every artifact by name, the aggregate's rows against the
matrix and the simulator's schedule, the step summaries, the report, and
that every job installed infmax from the release (no cargo).

Usage: act_sweep_check.py ARTIFACT_SERVER_DIR ACT_LOG ITL_MS"""
import io
import json
import pathlib
import sys
import zipfile

art_root = pathlib.Path(sys.argv[1])
log = pathlib.Path(sys.argv[2]).read_text()
itl_ms = float(sys.argv[3])
lines = log.splitlines()


def fail(msg):
    sys.exit(f"act sweep check: {msg}")


# The setup job's matrix output, as act logs it.
marker = "::set-output:: matrix="
setup = [l for l in lines if l.startswith("[Run sweep/setup]") and marker in l]
if not setup:
    fail("the setup job set no matrix output")
matrix = json.loads(setup[-1].split(marker, 1)[1])
entries = [e for group in ("single_node", "multi_node") for es in matrix[group].values() for e in es]
if not entries:
    fail(f"the matrix has no entries: {matrix}")
meta = matrix["changelog_metadata"]["entries"]
if [m["config-keys"] for m in meta] != [["actsim-*"]]:
    fail(f"changelog metadata: {meta}")

# Artifacts: act's server keeps each as NAME/NAME.zip under the run id (1).
runs = [p for p in art_root.iterdir() if p.is_dir()]
if len(runs) != 1:
    fail(f"expected one run in {art_root}, got {runs}")
artifacts = {}
for d in runs[0].iterdir():
    z = d / f"{d.name}.zip"
    if not z.is_file():
        fail(f"artifact {d.name} has no {z.name}")
    with zipfile.ZipFile(z) as f:
        artifacts[d.name] = {n: f.read(n) for n in f.namelist()}
names = sorted(artifacts)
bmk = [n for n in names if n.startswith("bmk_")]
logs = [n for n in names if n.startswith("server_logs_")]
if len(bmk) != len(entries) or len(logs) != len(entries):
    fail(f"{len(entries)} jobs but artifacts {names}")
for n in bmk:
    rf = n[len("bmk_"):]
    if not rf.endswith("_sim_0"):
        fail(f"{n}: RESULT_FILENAME without the runner name")
    if sorted(artifacts[n]) != [f"agg_{rf}.json"]:
        fail(f"{n} must hold agg_{rf}.json alone (the seed's collect reads every *.json in it): {sorted(artifacts[n])}")
    raw = artifacts.get(f"raw_{rf}", {})
    if sorted(raw) != [f"{rf}.json"]:
        fail(f"raw_{rf} must hold the raw result {rf}.json: {sorted(raw)}")
for n in ("changelog-metadata", "results_bmk", "report", "eval_results_all"):
    if n not in artifacts:
        fail(f"no artifact {n}; artifacts: {names}")
if "run-stats" in artifacts:
    fail("run-stats ran under act")
if "run-stats skipped - act has no GitHub API" not in log:
    fail("run-stats was not visibly skipped")
# A pull request's sweep compares itself with main's latest sweep; under act
# there is no API to find it, and that is said.
if "compare skipped - act has no GitHub API" not in log:
    fail("the comparison with the baseline was not visibly skipped")

# The aggregate: one row per job, each the simulator's fixed schedule.
agg = json.loads(artifacts["results_bmk"]["agg_bmk.json"])
if len(agg) != len(entries):
    fail(f"agg_bmk.json has {len(agg)} rows for {len(entries)} jobs")
key = lambda r: (r["isl"], r["osl"], r["tp"], r["conc"])
if sorted(map(key, agg)) != sorted(map(key, entries)):
    fail(f"rows {sorted(map(key, agg))} != jobs {sorted(map(key, entries))}")
for r in agg:
    if r["hw"] != "h100" or r["framework"] != "vllm" or r["infmax_model_prefix"] != "actsim":
        fail(f"row labels: {r}")
    tpot_ms = r["median_tpot"] * 1e3
    if abs(tpot_ms - itl_ms) > 0.02:
        fail(f"median TPOT {tpot_ms} ms, the simulator's is {itl_ms} ms: {r}")

# The step summary of collect-results is its tables file.
start = next((i for i, l in enumerate(lines)
              if l.startswith("[collect-results/") and "Summary - " in l), None)
if start is None:
    fail("collect-results wrote no step summary")
body = [lines[start].split("Summary - ", 1)[1]]
for l in lines[start + 1:]:
    if l.startswith("["):
        break
    body.append(l)
summary = "\n".join(body).strip()
if summary != artifacts["results_bmk"]["agg_bmk.md"].decode().strip():
    fail("the step summary is not results_bmk/agg_bmk.md")
rows = [l for l in summary.splitlines() if l.startswith("| actsim")]
if len(rows) != len(entries):
    fail(f"{len(rows)} table rows for {len(entries)} jobs:\n{summary}")

report = artifacts["report"]
if b"<svg" not in report.get("report.html", b"") or not any(n.endswith(".svg") for n in report):
    fail(f"report: {sorted(report)}")

# Every install came from the release server, none from cargo.
if "building from source" in log or "cargo install" in log:
    fail("a job built infmax from source")
downloads = sum("infmax: downloading http://127.0.0.1:" in l for l in lines)
if downloads < len(entries) + 1:
    fail(f"{downloads} release downloads for {len(entries)} jobs and setup")

print(f"act sweep: {len(entries)} benchmark jobs, {len(names)} artifacts, "
      f"{len(agg)} rows at TPOT {itl_ms} ms, step summary of {len(summary)} bytes, "
      f"report with {sum(n.endswith('.svg') for n in report)} charts, "
      f"{downloads} verified release installs: OK")
