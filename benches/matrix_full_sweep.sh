#!/usr/bin/env bash
# End-to-end cost of `infmax matrix full-sweep` (process start, read and
# validate every config, expand, print JSON) on the bundled configs.
# Usage: benches/matrix_full_sweep.sh [RUNS]   (from the repository root)
set -euo pipefail
runs=${1:-200}
cargo build --release --quiet
bin=target/release/infmax
entries=$("$bin" matrix full-sweep | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
"$bin" matrix full-sweep >/dev/null # warm the page cache
start=$(date +%s%N)
for _ in $(seq "$runs"); do
  "$bin" matrix full-sweep >/dev/null
done
end=$(date +%s%N)
awk -v ns=$((end - start)) -v n="$runs" -v e="$entries" \
  'BEGIN { printf "matrix full-sweep: %d entries, %d runs, %.2f ms per run\n", e, n, ns / n / 1e6 }'
