#!/usr/bin/env bash
# The action's install step: put an infmax binary on PATH and in the step
# output `path`. In order: the given binary-path; a release archive for this
# platform, verified against the SHA-256 sums committed in
# release-checksums/<version>.sha256 (a mismatch is always fatal); else, when
# build-from-source is true, `cargo install --locked` from the action's tree.
set -euo pipefail

action_dir="${GITHUB_ACTION_PATH:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
tmp_root="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/infmax-action"
bin_dir="$tmp_root/bin"
mkdir -p "$bin_dir"

fail() {
  echo "::error title=infmax install::$*" >&2
  exit 3
}

finish() {
  local bin="$1"
  "$bin" --version >&2 || fail "$bin does not run on this runner ($RUNNER_OS/$RUNNER_ARCH)"
  echo "$bin_dir" >>"${GITHUB_PATH:-/dev/null}"
  echo "path=$bin" >>"${GITHUB_OUTPUT:-/dev/null}"
  exit 0
}

# 1. A given binary.
if [ -n "${INFMAX_INPUT_BINARY_PATH:-}" ]; then
  bin="$(readlink -f "$INFMAX_INPUT_BINARY_PATH" 2>/dev/null || true)"
  if [ -z "$bin" ] || [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
    fail "binary-path $INFMAX_INPUT_BINARY_PATH is not an executable file"
  fi
  # A later step given the binary an earlier one installed is already set.
  if [ ! "$bin" -ef "$bin_dir/infmax" ]; then
    ln -sf "$bin" "$bin_dir/infmax"
  fi
  finish "$bin_dir/infmax"
fi

build_from_source() {
  command -v cargo >/dev/null 2>&1 ||
    fail "build-from-source needs cargo on the runner (install Rust, e.g. with rustup)"
  echo "infmax: building from source ($action_dir) with cargo install --locked" >&2
  CARGO_TARGET_DIR="$tmp_root/target" cargo install --locked --quiet \
    --path "$action_dir" --root "$tmp_root/cargo" >&2
  ln -sf "$tmp_root/cargo/bin/infmax" "$bin_dir/infmax"
  finish "$bin_dir/infmax"
}

want_build=false
case "${INFMAX_INPUT_BUILD_FROM_SOURCE:-false}" in
  true | True | TRUE | 1 | yes) want_build=true ;;
  false | False | FALSE | 0 | no | '') ;;
  *) fail "build-from-source: ${INFMAX_INPUT_BUILD_FROM_SOURCE} is not true or false" ;;
esac

# 2. A verified release archive.
case "${RUNNER_OS:-$(uname -s)}/${RUNNER_ARCH:-$(uname -m)}" in
  Linux/X64 | Linux/x86_64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64 | Linux/aarch64) target=aarch64-unknown-linux-musl ;;
  macOS/ARM64 | Darwin/arm64) target=aarch64-apple-darwin ;;
  *) target="" ;;
esac

sums_dir="$action_dir/release-checksums"
# Releases with committed sums, oldest first.
known="$(find "$sums_dir" -maxdepth 1 -name 'v*.sha256' -exec basename {} .sha256 \; 2>/dev/null | sort -V | tr '\n' ' ')"
version="${INFMAX_INPUT_VERSION:-}"
if [ -z "$version" ] && [[ "${INFMAX_ACTION_REF:-}" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] &&
  [ -f "$sums_dir/$INFMAX_ACTION_REF.sha256" ]; then
  version="$INFMAX_ACTION_REF"
fi
if [ -z "$version" ]; then
  version="${known% }"
  version="${version##* }"
fi

why=""
if [ -z "$target" ]; then
  why="no release build for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?} (linux x86_64/aarch64, macOS arm64)"
elif [ -z "$version" ]; then
  why="no release has SHA-256 sums committed in release-checksums/"
elif [ ! -f "$sums_dir/$version.sha256" ]; then
  why="version $version has no SHA-256 sums committed in release-checksums/ (known: ${known:-none})"
fi

asset="infmax-$version-$target.tar.gz"
expected=""
if [ -z "$why" ]; then
  expected="$(awk -v a="$asset" '$2 == a || $2 == "*" a {print $1}' "$sums_dir/$version.sha256")"
  [ -n "$expected" ] || why="release-checksums/$version.sha256 lists no $asset"
fi

if [ -z "$why" ]; then
  repo="${INFMAX_ACTION_REPOSITORY:-${GITHUB_REPOSITORY:-}}"
  base="https://github.com/$repo/releases/download"
  proto='=https'
  # Tests serve archives from a local server; nothing else may use plain http.
  if [[ "${INFMAX_RELEASE_BASE_URL:-}" =~ ^http://127\.0\.0\.1:[0-9]+$ ]]; then
    base="$INFMAX_RELEASE_BASE_URL"
    proto='=http'
  fi
  url="$base/$version/$asset"
  archive="$tmp_root/$asset"
  echo "infmax: downloading $url" >&2
  if curl --proto "$proto" --tlsv1.2 --fail --silent --show-error --location \
    --retry 5 --retry-all-errors --retry-delay 2 --connect-timeout 20 \
    --output "$archive" "$url"; then
    if command -v sha256sum >/dev/null 2>&1; then
      actual="$(sha256sum "$archive" | awk '{print $1}')"
    else
      actual="$(shasum -a 256 "$archive" | awk '{print $1}')"
    fi
    if [ "$actual" != "$expected" ]; then
      rm -f "$archive"
      fail "$asset: SHA-256 $actual does not match the committed $expected (release-checksums/$version.sha256); refusing to install it"
    fi
    tar -xzf "$archive" -C "$bin_dir" infmax
    rm -f "$archive"
    finish "$bin_dir/infmax"
  fi
  why="could not download $url"
fi

if [ "$want_build" = true ]; then
  echo "infmax: $why; building from source instead" >&2
  build_from_source
fi
fail "$why. Set build-from-source: true to build with cargo, binary-path to use your own binary, or version to a release listed in release-checksums/"
