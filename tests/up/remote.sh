#!/usr/bin/env bash
# Remote mode of ./scripts/up: the services against a chain and a deployment that scripts/up did
# not create, with the relayer key from an encrypted keystore and both stores on PostgreSQL.
#
# Stands up the "remote" L2 itself (an anvil on a free port, the suite deployed, the demo's
# licenses, budget and acceptances), copies the deployment file out of the repository, then runs
# `FAIRTRAIN_RPC_URL=… FAIRTRAIN_DEPLOYMENT=… FAIRTRAIN_KEYSTORE=… FAIRTRAIN_DATABASE_URL=postgres://…
# INDEXER_DATABASE_URL=postgres://… ./scripts/up` and checks that it starts no chain and deploys
# nothing, that the relayer (which decrypts the keystore itself: the plaintext key is in no
# process's environment or arguments) follows the chain on PostgreSQL, commits the receipts of a training run
# and pays a sponsored claim, that the indexer (on PostgreSQL) reconciles with the chain, and that
# SIGINT stops scripts/up's processes while the chain it did not start keeps running.
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$ROOT/scripts/lib/demo.sh"

source "$ROOT/tests/lib/checks.sh"

bin="$ROOT/target/${PROFILE:-debug}"
for b in fairtrain-relayer fairtrain-gateway fairtrain-indexer fairtrain-meter; do
  [ -x "$bin/$b" ] || die "$bin/$b is missing: build the workspace first (cargo build --workspace)"
done
# anvil's well-known test accounts (Demo.s.sol): 3 pays, 4 relays, 5 signs receipts; 1 is creator A.
payer="0x90F79bf6EB2c4f870365E785982E1f101E93b906"
relayer_key="0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"
training_key="0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"
creator_a="0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
deployer_key="0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

work="$(mktemp -d)"
pg_relayer="up_remote_relayer_$$"
pg_indexer="up_remote_indexer_$$"
pg() { psql -h /var/run/postgresql -U postgres -d postgres -qAtc "$1"; }
anvil_pid=""
up_pid=""
cp "$ROOT/deployments/31337.json" "$work/committed-deployment.json"
cleanup() {
  [ -n "$up_pid" ] && kill -TERM -- "-$up_pid" 2>/dev/null
  [ -n "$anvil_pid" ] && kill "$anvil_pid" 2>/dev/null
  cp "$work/committed-deployment.json" "$ROOT/deployments/31337.json"
  pg "DROP DATABASE IF EXISTS $pg_relayer WITH (FORCE)" >/dev/null 2>&1 || true
  pg "DROP DATABASE IF EXISTS $pg_indexer WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
set -m

# The "remote" chain: not scripts/up's.
rpc="http://127.0.0.1:$(free_port)"
anvil --host 127.0.0.1 --port "${rpc##*:}" --chain-id 31337 --block-time 1 >"$work/anvil.log" 2>&1 &
anvil_pid=$!
wait_for "anvil on $rpc" 100 cast chain-id --rpc-url "$rpc"
NOTICE_PERIOD=3600 DEPLOYER_PRIVATE_KEY="$deployer_key" forge script contracts/script/Deploy.s.sol \
  --rpc-url "$rpc" --broadcast --slow >"$work/deploy.log" 2>&1 || { cat "$work/deploy.log"; die "deployment failed"; }
run_demo "$rpc" "$work/demo.log"
cp "$ROOT/deployments/31337.json" "$work/deployment.json"
deployment="$work/deployment.json"
token="$(node -p "require('$deployment').paymentTokens[0]")"
code_before="$(cast code "$(node -p "require('$deployment').trainingEscrow")" --rpc-url "$rpc")"
head_before="$(cast block-number --rpc-url "$rpc")"

# The relayer's key in an encrypted keystore; both stores on PostgreSQL.
cast wallet import relayer --private-key "$relayer_key" --keystore-dir "$work/keys" \
  --unsafe-password "remote-test" >/dev/null
pg "CREATE DATABASE $pg_relayer"
pg "CREATE DATABASE $pg_indexer"
token_value="remote-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"
relayer_port="$(free_port)"
indexer_port="$(free_port)"

: >"$work/up.log"
FAIRTRAIN_RPC_URL="$rpc" FAIRTRAIN_DEPLOYMENT="$deployment" \
  FAIRTRAIN_KEYSTORE="$work/keys/relayer" FAIRTRAIN_KEYSTORE_PASSWORD="remote-test" \
  FAIRTRAIN_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$pg_relayer" \
  INDEXER_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$pg_indexer" \
  FAIRTRAIN_OPERATOR_TOKEN="$token_value" UP_PREBUILT=1 \
  RELAYER_PORT="$relayer_port" INDEXER_PORT="$indexer_port" GATEWAY_PORT="$(free_port)" \
  "$ROOT/scripts/up" >"$work/up.log" 2>&1 &
up_pid=$!
started() { grep -q '^running$' "$work/up.log"; }
up_alive() { kill -0 "$up_pid" 2>/dev/null; }
for _ in $(seq 1 3000); do started && break; up_alive || break; sleep 0.1; done
check "scripts/up in remote mode prints running" started || cat "$work/up.log"
relayer="http://127.0.0.1:$relayer_port"
indexer="http://127.0.0.1:$indexer_port"

no_anvil_started() { ! grep -q 'Starting anvil' "$work/up.log" && ! pgrep -g "$up_pid" -x anvil >/dev/null; }
check "it starts no chain of its own" no_anvil_started
not_redeployed() { [ "$(cast code "$(node -p "require('$deployment').trainingEscrow")" --rpc-url "$rpc")" = "$code_before" ] && ! grep -q 'Deploying the suite' "$work/up.log"; }
check "it deploys nothing (the given deployment is used)" not_redeployed
check "the relayer is ready" curl -fsS -o /dev/null "$relayer/ready"
relayer_on_pg() { psql -h /var/run/postgresql -U postgres -d "$pg_relayer" -qAtc "SELECT count(*) FROM _sqlx_migrations" | grep -qE '^[1-9]'; }
check "the relayer's store is the PostgreSQL database" relayer_on_pg

# A training run of the remote payer through the remote relayer.
before="$(cast call "$token" 'balanceOf(address)(uint256)' "$creator_a" --rpc-url "$rpc" | cut -d' ' -f1)"
"$bin/fairtrain-meter" --payer "$payer" --signer-key "$training_key" --journal "$work/usage.db" \
  --relayer-url "$relayer" --deployment "$deployment" \
  simulate --licenses 1:1,2:2 --runs 2 --rate 100 --seconds 2 --run-prefix remote >"$work/meter.log" 2>&1
check "the relayer acknowledged every sample of the training run" grep -q 'unreported after the final flush: 0' "$work/meter.log"
confirmed() { curl -fsS "$relayer/v1/batches" | json 'v.batches.some(b => b.state === "confirmed") || process.exit(1)' >/dev/null; }
wait_for "a confirmed batch" 600 confirmed
batch_id="$(curl -fsS "$relayer/v1/batches" | json 'v.batches.find(b => b.state === "confirmed").id')"
check "the relayer committed the batch on the remote chain" confirmed
commit_tx="$(curl -fsS "$relayer/v1/batches/$batch_id" | json 'v.batch.commitTx ?? v.batch.commit_tx')"
signed_by_keystore() {
  [ "$(cast tx "$commit_tx" from --rpc-url "$rpc" | tr 'A-F' 'a-f')" = "$(cast wallet address --private-key "$relayer_key" | tr 'A-F' 'a-f')" ]
}
check "the commit is signed with the keystore's key" signed_by_keystore
# The relayer decrypted the keystore itself: the plaintext key is in the environment or the
# arguments of no process scripts/up started (the relayer's included).
relayer_pid="$(pgrep -g "$up_pid" -f "fairtrain-relayer .*serve" | head -n1 || true)"
key_hex="${relayer_key#0x}"
holds_key() { tr '\0' '\n' <"/proc/$1/$2" 2>/dev/null | grep -qi "$key_hex"; }
relayer_key_hidden() {
  [ -n "$relayer_pid" ] && [ -r "/proc/$relayer_pid/environ" ] &&
    ! holds_key "$relayer_pid" environ && ! holds_key "$relayer_pid" cmdline &&
    tr '\0' '\n' <"/proc/$relayer_pid/environ" | grep -q '^FAIRTRAIN_KEYSTORE='
}
check "the relayer got the keystore, not the key (/proc/<relayer>/environ and cmdline)" relayer_key_hidden
no_process_holds_key() {
  local pid
  for pid in $(pgrep -g "$up_pid"); do
    holds_key "$pid" environ && { echo "process $pid has the key in its environment"; return 1; }
    holds_key "$pid" cmdline && { echo "process $pid has the key in its arguments"; return 1; }
  done
  return 0
}
check "no process scripts/up started holds the plaintext key in its environment or arguments" no_process_holds_key
curl -fsS -X POST -H "Authorization: Bearer $token_value" -H 'content-type: application/json' \
  -d "{\"batchId\": $batch_id}" "$relayer/v1/claims" >"$work/claim.json"
paid() { [ "$(cast call "$token" 'balanceOf(address)(uint256)' "$creator_a" --rpc-url "$rpc" | cut -d' ' -f1)" -gt "$before" ]; }
wait_for "the sponsored claim" 600 paid
check "the sponsored claim paid creator A" paid

# The indexer caught up and agrees with the chain.
head_now="$(cast block-number --rpc-url "$rpc")"
caught_up() { curl -fsS "$indexer/api/status" | json "v.indexed_block >= $head_now || process.exit(1)" >/dev/null; }
wait_for "the indexer to reach block $head_now" 600 caught_up
reconciles() {
  "$bin/fairtrain-indexer" --db "postgres://postgres@127.0.0.1:5432/$pg_indexer" --rpc-url "$rpc" \
    --deployment "$deployment" reconcile >"$work/reconcile.log" 2>&1
}
check "the indexer on PostgreSQL reconciles with the chain" reconciles || cat "$work/reconcile.log"
indexed_from_start() { [ "$(psql -h /var/run/postgresql -U postgres -d "$pg_indexer" -qAtc "SELECT count(*) FROM raw_events WHERE block_number <= $head_before")" -gt 0 ]; }
check "the indexer mirrored the history before scripts/up started" indexed_from_start

sid="$up_pid"
kill -INT "$up_pid"
for _ in $(seq 1 200); do pgrep -g "$sid" >/dev/null || break; sleep 0.1; done
wait "$up_pid" 2>/dev/null || true
up_pid=""
gone() { ! pgrep -g "$sid" >/dev/null; }
check "SIGINT stops every process scripts/up started" gone
chain_alive() { kill -0 "$anvil_pid" 2>/dev/null && cast block-number --rpc-url "$rpc" >/dev/null; }
check "the remote chain keeps running" chain_alive

report "remote up checks"
