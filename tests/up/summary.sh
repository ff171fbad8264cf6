# Reading the summary `./scripts/up` prints once it is running (lines "  <label>   <value> …"),
# for tests/up/check.sh. A value whose line is missing is an error that says so: a check that
# reads it must fail, not silently disappear. Unit-tested by tests/up/summary_test.sh.
# shellcheck shell=bash

# Prints the first word after label $1 in summary file $2; if no line has the label, says so on
# stderr and fails.
value_of() {
  local v
  v="$(sed -n "s/^  $1  *//p" "$2" | awk '{print $1}' | head -n1)"
  if [ -z "$v" ]; then
    echo "error: the summary of scripts/up ($2) has no '$1' line" >&2
    return 1
  fi
  printf '%s\n' "$v"
}

# The indexer checks of check.sh for the indexer API at $1 (read with value_of; empty if the
# summary had no such line, which then fails the first check and every other one).
check_dashboard() {
  local indexer="$1"
  check "scripts/up printed the indexer API's URL" test -n "$indexer"
  check "the dashboard answers" curl -fsS -o /dev/null "$indexer/"
}
