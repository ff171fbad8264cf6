# Shared helpers of the shell test scripts (tests/*/*.sh). Source it after scripts/lib/common.sh.
# shellcheck shell=bash

# Prints a TCP port that is free on 127.0.0.1 right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

passed=0
failed=0
# Runs the command in $2… and records it as check $1: "ok: …" or "FAILED: …".
check() {
  local what="$1"
  shift
  if "$@"; then
    echo "ok: $what"
    passed=$((passed + 1))
  else
    echo "FAILED: $what"
    failed=$((failed + 1))
  fi
}

# Prints "$1: N passed, M failed" (the line scripts/test counts) and fails if any check failed.
report() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" = 0 ]
}
