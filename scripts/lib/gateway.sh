# The data gateway for scripts/up: `fairtrain-gateway` on SQLite (.devnet/gateway.db) with its
# files in .devnet/gateway-blobs, at 127.0.0.1:${GATEWAY_PORT:-8070}, against $rpc and
# $deployment, forwarding the receipts of datasets priced per access to $relayer_url; and the
# demo's licensed datasets, published through it. Sets gateway_url, demo_dataset
# (`license:terms`) and access_dataset (a license priced per access) and appends to pids.
# shellcheck shell=bash
start_gateway() {
  local port="${GATEWAY_PORT:-8070}"
  gateway_url="http://127.0.0.1:$port"
  say "Starting the data gateway on $gateway_url (log: .devnet/gateway.log)"
  "$bin/fairtrain-gateway" --db "sqlite://$run_dir/gateway.db" --storage "$run_dir/gateway-blobs" \
    --rpc-url "$rpc" --deployment "$deployment" --listen "127.0.0.1:$port" --relayer "$relayer_url" \
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
# it and publishes it to the gateway; and a held-out set the same way, under evaluation terms
# priced per access. The demo payer accepts both licenses' terms, and anvil's clock passes the
# notice period (pass_notice_period, scripts/lib/demo.sh). Every step is the fairtrain CLI (log:
# .devnet/dataset.log).
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
  local held_out="$run_dir/held-out" held_manifest="$run_dir/held-out.json"
  {
    dev_python "$ROOT/examples/numpy_classifier.py" --write-dataset "$held_out" --samples 500 &&
      "${cli[@]}" --private-key "$creator_key" manifest build "$held_out" --name "Held-out blobs" \
        --description "500 labelled points for evaluation, sold per access" --sign --out "$held_manifest" &&
      "${cli[@]}" --private-key "$creator_key" license mint --manifest "$held_manifest" \
        --template evaluation --unit access --price 0.25 &&
      "${cli[@]}" --private-key "$creator_key" dataset publish "$held_out" --manifest "$held_manifest" \
        --gateway "$gateway_url"
  } >>"$log" 2>&1 || { cat "$log"; die "publishing the held-out dataset failed"; }
  access_dataset="$(sed -nE 's/^minted license ([0-9]+) \(terms ([0-9]+)\).*/\1/p' "$log" | sed -n 2p)"
  [ -n "$access_dataset" ] || { cat "$log"; die "no second minted license in .devnet/dataset.log"; }
  "${cli[@]}" --private-key "$payer_key" payer accept "$access_dataset" >>"$log" 2>&1 ||
    { cat "$log"; die "the payer could not accept license $access_dataset"; }
  grep -E '^published' "$log" | sed 's/^/  /'
  echo "  license ${demo_dataset%%:*} covers the first; the demo payer accepted its terms ${demo_dataset#*:}"
  echo "  license $access_dataset covers the held-out set, priced 0.25 fUSD per access; the demo payer accepted it"
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

# The demo payer's training key downloads the held-out set once: an access priced per access,
# paid by the receipt `fairtrain dataset get` signs and the gateway has the relayer store before
# it grants (log: .devnet/held-out-get.log).
buy_held_out_access() {
  local training_key="$1" payer="$2" log="$run_dir/held-out-get.log"
  say "A paid access: the payer's training key downloads the held-out set (license $access_dataset, 0.25 fUSD per access)"
  "$bin/fairtrain" --rpc-url "$rpc" --deployment "$deployment" --private-key "$training_key" \
    dataset get "$access_dataset" --gateway "$gateway_url" --out "$run_dir/held-out-data" --payer "$payer" \
    >"$log" 2>&1 || { cat "$log"; die "the paid download of the held-out set failed"; }
  sed 's/^/  /' "$log"
}
