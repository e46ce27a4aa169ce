#!/usr/bin/env bash
# The action's run step: `infmax COMMAND ARGS`. The inputs arrive as
# environment variables and are split into words with xargs' quoting rules
# (quotes, backslashes), so they are never expanded or run by a shell.
set -euo pipefail

words=()
split="$(mktemp)"
trap 'rm -f "$split"' EXIT

# add_words INPUT_NAME VALUE: appends VALUE's words; bad quoting is an error
# (xargs would otherwise stop there and the command run with what came before).
add_words() {
  : >"$split"
  if [ -n "${2//[[:space:]]/}" ] && ! printf '%s' "$2" | xargs printf '%s\0' >"$split" 2>/dev/null; then
    echo "::error title=infmax::the $1 input has an unmatched quote; quote a word with spaces as 'a b' or \"a b\"" >&2
    exit 2
  fi
  local w
  while IFS= read -r -d '' w; do words+=("$w"); done <"$split"
}

add_words command "$INFMAX_INPUT_COMMAND"
add_words args "${INFMAX_INPUT_ARGS:-}"
if [ "${#words[@]}" -eq 0 ]; then
  echo "::error title=infmax::the command input is empty" >&2
  exit 2
fi
# Shell-quoted, so a newline inside an argument cannot start a workflow command.
printf 'infmax' >&2
printf ' %q' "${words[@]}" >&2
printf '\n' >&2
exec "${INFMAX_BIN:-infmax}" "${words[@]}"
