#!/usr/bin/env bash
# Schema-driven fuzzing of a Fairtrain service's HTTP API: schemathesis (pinned, installed into
# .tools/ on first use) generates requests from the service's own OpenAPI document, valid and
# invalid, for every operation, and fails on any 5xx and on any answer the document does not
# describe (status code, content type, headers, body schema), on invalid input accepted and on
# valid input refused.
#
# Usage: tests/api-fuzz/run.sh <base-url> [<openapi> [<schemathesis run options>...]]
#   <base-url>  where the service answers, e.g. http://127.0.0.1:8080
#   <openapi>   its document: a file, a URL, or a path on <base-url> (default /openapi.json;
#               the indexer's is /api/openapi.json)
#   options     passed on, e.g. --exclude-path /api/live (a stream that never ends)
# Environment: API_FUZZ_EXAMPLES (examples per operation, default 30: the run stays well under
# 90 s), API_FUZZ_SEED (default 1: runs are reproducible), API_FUZZ_REPORT (a directory for a
# JUnit report and a pytest file reproducing the failures).
source "$(dirname "$0")/../../scripts/lib/common.sh"

base="${1:?usage: tests/api-fuzz/run.sh <base-url> [<openapi>]}"
base="${base%/}"
doc="${2:-/openapi.json}"
shift $(($# < 2 ? $# : 2))
case "$doc" in
  http://* | https://*) ;;
  /*) [ -f "$doc" ] || doc="$base$doc" ;;
  *) [ -f "$doc" ] || doc="$base/$doc" ;;
esac

version="4.32.5"
venv="$ROOT/.tools/schemathesis-$version"
if [ ! -x "$venv/bin/schemathesis" ]; then
  need python3 "Install Python 3 (with its venv module) to fuzz the HTTP APIs."
  echo "installing schemathesis==$version into ${venv#"$ROOT/"}"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

report=()
if [ -n "${API_FUZZ_REPORT:-}" ]; then
  report=(--report junit,pytest --report-dir "$API_FUZZ_REPORT")
fi
# Without a terminal and colours the summary stays readable in logs.
export NO_COLOR=1
fuzz() {
  "$venv/bin/schemathesis" --config-file "$ROOT/tests/api-fuzz/schemathesis.toml" \
    run "$doc" --url "$base" \
    --checks all --mode all \
    --phases examples,coverage,fuzzing \
    --max-examples "${API_FUZZ_EXAMPLES:-30}" --seed "${API_FUZZ_SEED:-1}" \
    --workers 1 --request-timeout 10 \
    --suppress-health-check too_slow,filter_too_much \
    --warnings off \
    "${report[@]}" "$@"
}
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status=0
fuzz "$@" 2>&1 | tee "$out" || status=$?
# CPython 3.11 fails now and then to build an AST when two threads build one at once
# ("SystemError: AST constructor recursion depth mismatch", the family of CPython gh-106905):
# hypothesis parses lambdas' sources while it generates. One worker thread keeps
# it from happening; should the tool still crash that way, which is no finding about the service,
# the run is repeated, at most twice.
for _retry in 1 2; do
  [ "$status" -ne 0 ] && grep -q 'recursion depth mismatch' "$out" || break
  echo "schemathesis crashed on a CPython bug (gh-106905); running it again"
  status=0
  fuzz "$@" 2>&1 | tee "$out" || status=$?
done
exit "$status"
