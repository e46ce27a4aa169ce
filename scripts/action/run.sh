#!/usr/bin/env bash
# The action's run step: `infmax COMMAND ARGS`. The inputs arrive as
# environment variables and are split into words with xargs' quoting rules
# (quotes, backslashes), so they are never expanded or run by a shell.
set -euo pipefail

split_words() {
  if [ -n "${1//[[:space:]]/}" ]; then
    printf '%s' "$1" | xargs printf '%s\0'
  fi
}

words=()
while IFS= read -r -d '' w; do words+=("$w"); done < <(split_words "$INFMAX_INPUT_COMMAND")
while IFS= read -r -d '' w; do words+=("$w"); done < <(split_words "${INFMAX_INPUT_ARGS:-}")
if [ "${#words[@]}" -eq 0 ]; then
  echo "::error title=infmax::the command input is empty" >&2
  exit 2
fi
echo "infmax ${words[*]}" >&2
exec "${INFMAX_BIN:-infmax}" "${words[@]}"
