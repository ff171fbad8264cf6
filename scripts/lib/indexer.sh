# Starts the indexer and its dashboard for scripts/up: `fairtrain-indexer run` on SQLite
# (.devnet/indexer.db, or INDEXER_DATABASE_URL) at 127.0.0.1:${INDEXER_PORT:-8090}, against
# $rpc and $deployment; waits until its API answers. Sets indexer_url and indexer_db and appends
# to pids. The relayer publishes batch data at $relayer_url (127.0.0.1): the indexer fetches only
# public addresses unless a host is allowed, so that one host and port is. With $gateway_url set,
# the catalog lists that gateway's datasets.
# shellcheck shell=bash
start_indexer() {
  local port="${INDEXER_PORT:-8090}"
  indexer_db="${INDEXER_DATABASE_URL:-sqlite://$run_dir/indexer.db}"
  indexer_url="http://127.0.0.1:$port"
  say "Starting the indexer and dashboard on $indexer_url (log: .devnet/indexer.log)"
  "$bin/fairtrain-indexer" --db "$indexer_db" --rpc-url "$rpc" --deployment "$deployment" \
    --allow-data-host "${relayer_url#http://}" \
    run --listen "127.0.0.1:$port" ${gateway_url:+--gateway "$gateway_url"} --catalog-every 2s \
    >"$run_dir/indexer.log" 2>&1 &
  pids+=($!)
  local indexer_pid=$!
  indexer_up() {
    kill -0 "$indexer_pid" 2>/dev/null || die "the indexer exited; see .devnet/indexer.log"
    curl -fsS "$indexer_url/api/status"
  }
  wait_for "the indexer (.devnet/indexer.log)" 600 indexer_up
}
