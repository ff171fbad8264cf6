#!/usr/bin/env bash
# Unit test of tests/up/summary.sh (no devnet needed): values are read from a summary as
# scripts/up prints it, and a summary without the indexer's line makes the dashboard checks of
# check.sh fail with a message naming the missing line (they used to be skipped).
source "$(dirname "$0")/../../scripts/lib/common.sh"

source "$ROOT/tests/lib/checks.sh"
source "$ROOT/tests/up/summary.sh"

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cat >"$dir/full.log" <<'SUMMARY'
Fairtrain devnet is running.
  RPC URL          http://127.0.0.1:8545 (chain id 31337)
  relayer API      http://127.0.0.1:8080   (status: http://127.0.0.1:8080/v1/status, batches: http://127.0.0.1:8080/v1/batches)
  indexer API      http://127.0.0.1:8090   (dashboard: http://127.0.0.1:8090/)
  royalty stream   1 (payer -> license 1; target/debug/fairtrain stream status 1)
running
SUMMARY
grep -v 'indexer API' "$dir/full.log" >"$dir/no-indexer.log"

check "reads the indexer API's URL" test "$(value_of 'indexer API' "$dir/full.log")" = "http://127.0.0.1:8090"
check "reads the first word of a value" test "$(value_of 'RPC URL' "$dir/full.log")" = "http://127.0.0.1:8545"
check "reads a label with one word" test "$(value_of 'royalty stream' "$dir/full.log")" = "1"
missing() { ! value_of 'indexer API' "$dir/no-indexer.log" >"$dir/out" 2>"$dir/err"; }
check "fails when the line is missing" missing
check "prints no value then" test ! -s "$dir/out"
check "says which line is missing" grep -qF "has no 'indexer API' line" "$dir/err"

# check.sh's use of it, on the summary without the line: the dashboard checks are recorded as
# failed (in a subshell, so that they do not count here).
dashboard="$(
  {
    passed=0 failed=0
    indexer="$(value_of 'indexer API' "$dir/no-indexer.log")" || indexer=""
    check_dashboard "$indexer"
    echo "dashboard checks: $passed passed, $failed failed"
  } 2>&1
)"
echo "$dashboard" | sed 's/^/  | /'
check "without the line, the error names it" grep -qF "has no 'indexer API' line" <<<"$dashboard"
check "without the line, the URL check fails" grep -qF "FAILED: scripts/up printed the indexer API's URL" <<<"$dashboard"
check "without the line, no dashboard check passes" grep -qF "dashboard checks: 0 passed, 2 failed" <<<"$dashboard"

report "summary parsing"
