# The data gateway for scripts/up: `fairtrain-gateway` on SQLite (.devnet/gateway.db) with its
# files in .devnet/gateway-blobs, at 127.0.0.1:${GATEWAY_PORT:-8070}, against $rpc and
# $deployment; and the demo's licensed dataset, published through it. Sets gateway_url and
# demo_dataset (`license:terms`) and appends to pids.
# shellcheck shell=bash
start_gateway() {
  local port="${GATEWAY_PORT:-8070}"
  gateway_url="http://127.0.0.1:$port"
  say "Starting the data gateway on $gateway_url (log: .devnet/gateway.log)"
  "$bin/fairtrain-gateway" --db "sqlite://$run_dir/gateway.db" --storage "$run_dir/gateway-blobs" \
    --rpc-url "$rpc" --deployment "$deployment" --listen "127.0.0.1:$port" \
    >"$run_dir/gateway.log" 2>&1 &
  pids+=($!)
  local gateway_pid=$!
  gateway_up() {
    kill -0 "$gateway_pid" 2>/dev/null || die "the gateway exited; see .devnet/gateway.log"
    curl -fsS "$gateway_url/ready"
  }
  wait_for "the gateway (.devnet/gateway.log)" 600 gateway_up
}

# Creator A writes a dataset folder, builds and signs its manifest, mints a research license for
# it and publishes it to the gateway; the demo payer accepts the license's terms, and anvil's
# clock passes the notice period (pass_notice_period, scripts/lib/demo.sh). Every step is the
# fairtrain CLI (log: .devnet/dataset.log).
publish_demo_dataset() {
  local creator_key="$1" payer_key="$2" log="$run_dir/dataset.log"
  local folder="$run_dir/demo-dataset" manifest="$run_dir/demo-dataset.json"
  local cli=("$bin/fairtrain" --rpc-url "$rpc" --deployment "$deployment")
  say "A dataset through the gateway: creator A publishes it and mints its license; the payer accepts (log: .devnet/dataset.log)"
  {
    dev_python "$ROOT/examples/numpy_classifier.py" --write-dataset "$folder" --samples 2000 &&
      "${cli[@]}" --private-key "$creator_key" manifest build "$folder" --name "Two blobs" \
        --description "2,000 labelled points" --sign --out "$manifest" &&
      "${cli[@]}" --private-key "$creator_key" license mint --manifest "$manifest" \
        --template research --price 0.001 &&
      "${cli[@]}" --private-key "$creator_key" dataset publish "$folder" --manifest "$manifest" \
        --gateway "$gateway_url"
  } >"$log" 2>&1 || { cat "$log"; die "publishing the demo dataset failed"; }
  demo_dataset="$(sed -nE 's/^minted license ([0-9]+) \(terms ([0-9]+)\).*/\1:\2/p' "$log" | head -n1)"
  [ -n "$demo_dataset" ] || { cat "$log"; die "no minted license in .devnet/dataset.log"; }
  "${cli[@]}" --private-key "$payer_key" payer accept "${demo_dataset%%:*}" >>"$log" 2>&1 ||
    { cat "$log"; die "the payer could not accept license ${demo_dataset%%:*}"; }
  grep -E '^published' "$log" | sed 's/^/  /'
  echo "  license ${demo_dataset%%:*} covers it; the demo payer accepted its terms ${demo_dataset#*:}"
  # The acceptance becomes chargeable after the notice period: anvil's clock moves past it, so
  # the training run's receipts for the dataset are batched and paid with the others. The
  # relayer learns acceptances from the chain it follows: the run starts once it has followed
  # that block, or its first receipts could be refused (terms_not_accepted) on a loaded machine.
  pass_notice_period "$rpc"
  local accepted_at
  accepted_at="$(cast block-number --rpc-url "$rpc")"
  relayer_followed() {
    [ "$(curl -fsS "$relayer_url/v1/status" | json 'v.followedBlock')" -ge "$accepted_at" ]
  }
  wait_for "the relayer to follow block $accepted_at (.devnet/relayer.log)" 600 relayer_followed
}
