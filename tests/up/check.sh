#!/usr/bin/env bash
# Runs ./scripts/up on free ports in the background (as its own job, as from a terminal),
# waits for "running", checks that the relayer committed a batch and paid a claim and that the
# services answer, sends SIGINT and checks that every process it started is gone; then runs it a
# second time (running it again works) and stops it with SIGTERM.
source "$(dirname "$0")/../../scripts/lib/common.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
passed=0
failed=0
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

log="$(mktemp -d)"
# Job control: each background job gets its own process group and keeps SIGINT (a non-interactive
# shell would start it with SIGINT ignored, which no trap can undo).
set -m
up_pid=""
# scripts/up rewrites deployments/31337.json (its startBlock follows anvil's block time): put the
# committed one back afterwards.
cp "$ROOT/deployments/31337.json" "$log/deployment.json"
trap '[ -n "$up_pid" ] && kill -TERM -- "-$up_pid" 2>/dev/null; cp "$log/deployment.json" "$ROOT/deployments/31337.json"' EXIT

# Starts scripts/up as a job (its pid is also its process group id) and waits for
# "running" or its exit.
start_up() {
  local out="$1"
  : >"$out"
  ANVIL_PORT="$(free_port)" RELAYER_PORT="$(free_port)" INDEXER_PORT="$(free_port)" \
    "$ROOT/scripts/up" >"$out" 2>&1 &
  up_pid=$!
  for _ in $(seq 1 3000); do
    grep -q '^running$' "$out" && return 0
    kill -0 "$up_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$out"
  return 1
}
# Every process of the job's process group is gone.
session_gone() { ! pgrep -g "$1" >/dev/null; }
# Sends a signal to scripts/up only (as a supervisor would) and waits up to 20 s for the whole
# process group to end.
stop_up() {
  local sig="$1" sid="$up_pid"
  kill "-$sig" "$up_pid"
  for _ in $(seq 1 200); do session_gone "$sid" && break; sleep 0.1; done
  wait "$up_pid" 2>/dev/null || true
  up_pid=""
}
url_of() { { grep -E "^  $1 " "$2" || true; } | awk '{print $3}'; }
# Retries a command for up to 20 s.
eventually() { for _ in $(seq 1 100); do "$@" && return 0; sleep 0.2; done; return 1; }

# First run.
check "scripts/up prints running" start_up "$log/up1.log"
relayer="$(url_of 'relayer API' "$log/up1.log")"
check "the relayer answers /ready" curl -fsS -o /dev/null "$relayer/ready"
confirmed() { curl -fsS "$relayer/v1/batches" | grep -q '"state":"confirmed"'; }
check "the relayer committed a batch" confirmed
check "a sponsored claim paid creator A" grep -qE 'creator A .* received [1-9][0-9]* fUSD' "$log/up1.log"
claimed() { curl -fsS "$relayer/v1/licenses/1/proofs" | grep -q '"claimTx":"0x'; }
check "the claimed receipts carry their claim transaction" eventually claimed
indexer="$(url_of 'indexer API' "$log/up1.log")"
if [ -n "$indexer" ]; then
  check "the dashboard answers" curl -fsS -o /dev/null "$indexer/"
fi
sid="$up_pid"
stop_up INT
check "SIGINT stops every process scripts/up started" session_gone "$sid"
check "scripts/up reported stopping" grep -q '^stopped$' "$log/up1.log"

# Second run: fresh state, same command.
check "scripts/up runs again" start_up "$log/up2.log"
sid="$up_pid"
stop_up TERM
check "SIGTERM stops every process scripts/up started" session_gone "$sid"

echo "up checks: $passed passed, $failed failed"
[ "$failed" = 0 ]
