# Shared shell helpers for scripts/*. Source it; it sets ROOT and puts the pinned tools on PATH.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export ROOT
export PATH="$ROOT/node_modules/.bin:$PATH"
# Builds run from the repository root.
cd "$ROOT"

# Prints a section header.
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# Prints an error and exits.
die() {
  printf '\033[31merror:\033[0m %s\n' "$*" >&2
  exit 1
}

# Exits with a clear message if a command is missing.
need() {
  local cmd="$1" hint="$2"
  command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' is not installed. $hint"
}

# Waits (up to $2 tenths of a second) until the command in $3… succeeds; $1 names what for errors.
wait_for() {
  local what="$1" tries="$2"
  shift 2
  for _ in $(seq 1 "$tries"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "timed out waiting for $what"
}

# Reads JSON on stdin as `v` and prints the JavaScript expression $1 (node).
json() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const v=JSON.parse(s);console.log($1)})"; }
