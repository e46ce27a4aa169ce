#!/usr/bin/env bash
# Builds the static Linux release archives: infmax-TAG-TARGET.tar.gz for
# x86_64- and aarch64-unknown-linux-musl, and SHA256SUMS, in OUT. The C
# parts (ring) are compiled by zig's cross toolchain (cargo-zigbuild), so
# one x86_64 machine builds both. The aarch64 binary is run under qemu-user
# (`--version` and a `matrix full-sweep` of the bundled configs) when
# qemu-aarch64 is on PATH. Prints size and start-up time of each binary.
#
#   scripts/release.sh TAG OUT [TARGET...]
#
# Needs rustup and python3; installs ziglang and cargo-zigbuild (PyPI, in
# OUT/.zig-venv) when missing. release.yml runs it on a tag; .ci/run with
# INFMAX_CI_RELEASE=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tag=${1:?usage: release.sh TAG OUT [TARGET...]}
out=${2:?usage: release.sh TAG OUT [TARGET...]}
shift 2
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
mkdir -p "$out"
out="$(readlink -f "$out")"

if ! command -v cargo-zigbuild >/dev/null || ! python3 -m ziglang version >/dev/null 2>&1; then
  if [ ! -x "$out/.zig-venv/bin/cargo-zigbuild" ]; then
    python3 -m venv "$out/.zig-venv"
    "$out/.zig-venv/bin/python" -m pip install --quiet 'ziglang==0.17.0' 'cargo-zigbuild==0.24.0'
  fi
  export PATH="$out/.zig-venv/bin:$PATH"
fi
for t in "${targets[@]}"; do
  rustup target list --installed | grep -qx "$t" || rustup target add "$t"
done

for t in "${targets[@]}"; do
  start=$(date +%s)
  cargo zigbuild --release --locked --target "$t" >&2
  echo "release: $t built in $(($(date +%s) - start)) s" >&2
  bin="target/$t/release/infmax"
  tar -czf "$out/infmax-$tag-$t.tar.gz" -C "target/$t/release" infmax
  run=()
  case "$t" in
    x86_64-*) [ "$(uname -m)" = x86_64 ] || run=(skip) ;;
    aarch64-*)
      if [ "$(uname -m)" != aarch64 ]; then
        if command -v qemu-aarch64 >/dev/null; then run=(qemu-aarch64); else run=(skip); fi
      fi
      ;;
  esac
  if [ "${run[0]:-}" = skip ]; then
    echo "release: $t not run here (no emulator)" >&2
    continue
  fi
  "${run[@]}" "$bin" --version >&2
  jobs="$("${run[@]}" "$bin" matrix full-sweep --config-files 'configs/*-master.yaml' \
    --runner-config configs/runners.yaml | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
  [ "$jobs" -gt 0 ] || { echo "release: $t: matrix full-sweep gave no jobs" >&2; exit 1; }
  t0=$(date +%s%N)
  for _ in 1 2 3 4 5; do "${run[@]}" "$bin" --version >/dev/null; done
  per=$((($(date +%s%N) - t0) / 5000000))
  echo "release: $t: $(stat -c %s "$bin") bytes, $jobs matrix jobs, start-up ${per} ms${run:+ under ${run[*]}}" >&2
done
(cd "$out" && sha256sum infmax-"$tag"-*.tar.gz >SHA256SUMS && cat SHA256SUMS)
