#!/usr/bin/env bash
# Builds llama.cpp's llama-server for the real-engine test, for this
# machine's CPU: prebuilt wheels are compiled for one CPU generation
# (the one .ci/run used before needed AVX-512 and AMX, and died with SIGILL
# on an AVX2-only CI machine). The source is llama.cpp as vendored in the
# llama-cpp-python sdist on PyPI (pinned and checksummed), built without
# network features or the web UI. Needs cmake, g++ and curl.
#
#   scripts/build-llama-server.sh DIR    # prints DIR/bin/llama-server
#
# Reuses DIR when it already holds a binary that starts.
set -euo pipefail

dir=${1:?usage: build-llama-server.sh DIR}
version=0.3.36
sha256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
url="https://files.pythonhosted.org/packages/ec/e9/e7de2b0463ea3ffbf0ede6cb21b58c1258a8f6521aae45ca773a59fe7cf3/llama_cpp_python-$version.tar.gz"
bin="$dir/bin/llama-server"

if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
mkdir -p "$dir"
archive="$dir/llama_cpp_python-$version.tar.gz"
if ! echo "$sha256  $archive" | sha256sum -c --quiet >/dev/null 2>&1; then
  curl -fsSL --retry 3 -o "$archive.part" "$url"
  echo "$sha256  $archive.part" | sha256sum -c --quiet >&2 || {
    echo "build-llama-server.sh: checksum mismatch for $url" >&2
    exit 1
  }
  mv "$archive.part" "$archive"
fi
src="$dir/src"
rm -rf "$src"
mkdir -p "$src"
tar xzf "$archive" -C "$src" --strip-components=3 "llama_cpp_python-$version/vendor/llama.cpp"
cmake -S "$src" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_OPENSSL=OFF >"$dir/cmake.log" 2>&1 || {
  tail -20 "$dir/cmake.log" >&2
  exit 1
}
cmake --build "$dir/build" --target llama-server -j "$(nproc)" >"$dir/build.log" 2>&1 || {
  tail -40 "$dir/build.log" >&2
  exit 1
}
mkdir -p "$dir/bin"
cp "$dir/build/bin/llama-server" "$bin"
rm -rf "$src" "$dir/build"
echo "$bin"
