#!/usr/bin/env bash
# Load run (./scripts/bench runs it): anvil with the suite and the demo payer (scripts/lib/demo.sh),
# the release relayer on SQLite, the release indexer following the chain (`fairtrain-indexer run`
# on SQLite), and LOAD_PROCS (default 4) `fairtrain-meter simulate` processes
# of LOAD_RUNS (default 50) training runs each, sampling 4 licenses for LOAD_SECONDS (default 180)
# and flushing every 500 ms. Then every batch is claimed. Prints:
#   load.receipts_per_s       receipts the relayer acknowledged per second of the run
#   load.batches              batches committed and confirmed
#   load.claim_txs            claim transactions the relayer sent (pipelined, consecutive nonces)
#   load.claims_per_s         claim transactions confirmed per second of the claim phase
#   load.receipts_claimed_per_s  receipts settled per second of the claim phase
#   load.reverted_txs         relayer transactions that reverted (expected: 0)
#   load.gas_per_settled_sample  gas of every relayer transaction (commits and claims) / samples
#                             settled
#   load.relayer_rss_mib      the relayer's peak resident memory (VmHWM)
#   load.indexer_lag_blocks   head − the indexer's checkpoint when the meters stop
#   load.indexer_catchup_s    from the last claim confirmed until the indexer's checkpoint
#                             reaches the head block read at that moment
#   load.indexer_rss_mib      the indexer's peak resident memory (VmHWM)
# and requires `fairtrain-indexer reconcile` to be clean at the end.
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$ROOT/scripts/lib/demo.sh"

seconds="${LOAD_SECONDS:-180}"
procs="${LOAD_PROCS:-4}"
runs="${LOAD_RUNS:-50}"
source "$ROOT/tests/lib/checks.sh"

cargo build --release --locked -p fairtrain-relayer -p fairtrain-sdk -p fairtrain-indexer >/dev/null 2>&1 ||
  cargo build --release --locked -p fairtrain-relayer -p fairtrain-sdk -p fairtrain-indexer
bin="$ROOT/target/release"
forge build >/dev/null 2>&1 || forge build

dir="$(mktemp -d)"
pids=()
cp "$ROOT/deployments/31337.json" "$dir/deployment.json"
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  cp "$dir/deployment.json" "$ROOT/deployments/31337.json"
}
trap stop EXIT

port="$(free_port)"
rpc="http://127.0.0.1:$port"
anvil --host 127.0.0.1 --port "$port" --chain-id 31337 --block-time 1 >"$dir/anvil.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do cast chain-id --rpc-url "$rpc" >/dev/null 2>&1 && break; sleep 0.1; done
NOTICE_PERIOD=3600 DEPLOYER_PRIVATE_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 \
  forge script contracts/script/Deploy.s.sol --rpc-url "$rpc" --broadcast --slow >"$dir/deploy.log" 2>&1 ||
  { cat "$dir/deploy.log"; die "deploy failed"; }
cp "$ROOT/deployments/31337.json" "$dir/run-deployment.json"
run_demo "$rpc" "$dir/demo.log"
deployment="$dir/run-deployment.json"
field() { node -p "require('$deployment')$1"; }

relayer_port="$(free_port)"
relayer_url="http://127.0.0.1:$relayer_port"
cat >"$dir/relayer.toml" <<EOF
listen = "127.0.0.1:$relayer_port"
database_url = "sqlite://$dir/relayer.db?mode=rwc"
rpc_url = "$rpc"
chain_id = 31337
escrow = "$(field .trainingEscrow)"
license_nft = "$(field .licenseNFT)"
start_block = $(field .startBlock)
public_url = "$relayer_url"
confirmations = 1
poll_interval_ms = 500

[batch]
max_receipts = 10000
max_value = "1000000000000"
max_age_secs = 5
horizon_secs = 600
EOF
relayer_key=0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a
relayer_address="$(cast wallet address "$relayer_key")"
FAIRTRAIN_PRIVATE_KEY="$relayer_key" FAIRTRAIN_OPERATOR_TOKEN=load-operator-token \
  "$bin/fairtrain-relayer" --config "$dir/relayer.toml" serve >"$dir/relayer.log" 2>&1 &
relayer_pid=$!
pids+=("$relayer_pid")
for _ in $(seq 1 600); do curl -fsS "$relayer_url/ready" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$relayer_url/ready" >/dev/null || { cat "$dir/relayer.log"; die "the relayer is not ready"; }

indexer_port="$(free_port)"
indexer_url="http://127.0.0.1:$indexer_port"
# The relayer publishes batch data on 127.0.0.1: allowed explicitly (only public hosts otherwise).
indexer_args=(--db "sqlite://$dir/indexer.db" --rpc-url "$rpc" --deployment "$deployment"
  --allow-data-host "127.0.0.1:$relayer_port")
"$bin/fairtrain-indexer" run "${indexer_args[@]}" --listen "127.0.0.1:$indexer_port" >"$dir/indexer.log" 2>&1 &
indexer_pid=$!
pids+=("$indexer_pid")
for _ in $(seq 1 600); do curl -fsS "$indexer_url/api/status" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$indexer_url/api/status" >/dev/null || { cat "$dir/indexer.log"; die "the indexer does not answer"; }
head_block() { cast block-number --rpc-url "$rpc"; }
indexed_block() { curl -fsS "$indexer_url/api/status" | json 'v.indexed_block'; }

# The demo payer (anvil account 3) with its training key (account 5); licenses 1, 2, 4, 5.
start="$(date +%s.%N)"
meters=()
for p in $(seq 1 "$procs"); do
  RUST_LOG=warn "$bin/fairtrain-meter" --payer 0x90F79bf6EB2c4f870365E785982E1f101E93b906 \
    --signer-key 0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba \
    --journal "$dir/usage-$p.db" --relayer-url "$relayer_url" --deployment "$deployment" \
    simulate --licenses 1:1,2:2,4:4,5:5 --runs "$runs" --rate 20 --minibatches 10 --seconds "$seconds" \
    --run-prefix "load-$p" >"$dir/meter-$p.log" 2>&1 &
  meters+=($!)
done
for pid in "${meters[@]}"; do wait "$pid" || { cat "$dir"/meter-*.log; die "a meter failed"; }; done
elapsed="$(node -p "($(date +%s.%N) - $start).toFixed(3)")"
lag_blocks="$(($(head_block) - $(indexed_block)))"

# The relayer answers 503 (store busy, retry) while it is saturated: retry API calls.
api() {
  local _
  for _ in $(seq 1 100); do curl -fsS "$@" 2>/dev/null && return 0; sleep 0.3; done
  curl -fsS "$@"
}
total="$(api "$relayer_url/v1/status" | json 'Object.values(v.receipts).reduce((a,b)=>a+b,0)')"
# Everything committed, then claimed.
for _ in $(seq 1 600); do
  pending="$(api "$relayer_url/v1/status" | json '(v.receipts.pending||0)+(v.receipts.batched||0)')"
  [ "$pending" = 0 ] && break
  sleep 0.5
done
[ "$pending" = 0 ] || die "receipts still uncommitted after 300 s"
claims_start="$(date +%s.%N)"
api -X POST -H 'Authorization: Bearer load-operator-token' -H 'content-type: application/json' -d '{}' "$relayer_url/v1/claims" >/dev/null
# Claims are done when no job is left unfinished; then every committed receipt must be claimed.
# Gas: every transaction the relayer account sent (commits and claims, reverted ones included),
# read from the blocks' receipts.
node - "$relayer_url" "$rpc" "$relayer_address" "$(field .startBlock)" <<'EOF' >"$dir/figures.json"
const [url, rpc, relayer, startBlock] = process.argv.slice(2);
// Retries while the relayer answers 503 (store busy).
const get = async (p) => {
  for (let i = 0; i < 100; i++) {
    const r = await fetch(url + p);
    if (r.ok) return r.json();
    await new Promise((done) => setTimeout(done, 300));
  }
  throw new Error(`GET ${p} kept failing`);
};
const call = async (method, params) =>
  (await (await fetch(rpc, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) })).json()).result;
(async () => {
  let status;
  const deadline = Date.now() + 3600e3;
  for (;;) {
    status = await get("/v1/status");
    const c = status.claims;
    if (!(c.requested || c.signed || c.sent)) break;
    if (Date.now() > deadline) throw new Error(`claims unfinished after an hour: ${JSON.stringify(c)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const committed = status.receipts.committed || 0;
  if (status.claims.claimedReceipts !== committed)
    throw new Error(`${committed - status.claims.claimedReceipts} committed receipts unclaimed: ${JSON.stringify(status.claims)}`);
  const batches = (await get("/v1/batches?limit=100000")).batches.filter((b) => b.state === "confirmed");
  const head = Number(await call("eth_blockNumber", []));
  let gas = 0n, txs = 0, reverted = 0;
  for (let b = Number(startBlock); b <= head; b++) {
    for (const r of await call("eth_getBlockReceipts", ["0x" + b.toString(16)])) {
      if (r.from.toLowerCase() !== relayer.toLowerCase()) continue;
      gas += BigInt(r.gasUsed);
      txs += 1;
      if (r.status !== "0x1") reverted += 1;
    }
  }
  console.log(JSON.stringify({ batches: batches.length, gas: gas.toString(),
    claimTxs: txs - batches.length, reverted, claimJobs: status.claims.confirmed }));
})().catch((e) => { console.error(e); process.exit(1); });
EOF
claims_s="$(node -p "($(date +%s.%N) - $claims_start).toFixed(1)")"
# The indexer catches up with the head as it stood when the last claim was confirmed.
target="$(head_block)"
catchup_start="$(date +%s.%N)"
for _ in $(seq 1 6000); do
  [ "$(indexed_block)" -ge "$target" ] && break
  sleep 0.05
done
[ "$(indexed_block)" -ge "$target" ] || { tail -20 "$dir/indexer.log"; die "the indexer did not reach block $target"; }
catchup="$(node -p "($(date +%s.%N) - $catchup_start).toFixed(2)")"
"$bin/fairtrain-indexer" reconcile "${indexer_args[@]}" >"$dir/reconcile.log" 2>&1 ||
  { cat "$dir/reconcile.log"; die "fairtrain-indexer reconcile found differences"; }
indexer_rss_kib="$(awk '/VmHWM/ {print $2}' "/proc/$indexer_pid/status")"
samples="$(cat "$dir"/meter-*.log | sed -nE 's/^recorded ([0-9]+) samples.*/\1/p' | awk '{s+=$1} END {print s}')"
unreported="$(cat "$dir"/meter-*.log | sed -nE 's/.*unreported after the final flush: ([0-9]+).*/\1/p' | awk '{s+=$1} END {print s}')"
[ "$unreported" = 0 ] || die "$unreported samples were not reported"
rss_kib="$(awk '/VmHWM/ {print $2}' "/proc/$relayer_pid/status")"

node -e '
const f = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const [total, elapsed, samples, rss, lag, catchup, indexerRss, claimsS] = process.argv.slice(2).map(Number);
console.log(`load.receipts_per_s: ${(total / elapsed).toFixed(1)} receipts/s`);
console.log(`load.receipts: ${total} receipts`);
console.log(`load.samples_settled: ${samples} samples`);
console.log(`load.batches: ${f.batches} batches`);
console.log(`load.claim_txs: ${f.claimTxs} txs`);
console.log(`load.claims_per_s: ${(f.claimTxs / claimsS).toFixed(2)} txs/s`);
console.log(`load.receipts_claimed_per_s: ${(total / claimsS).toFixed(1)} receipts/s`);
console.log(`load.reverted_txs: ${f.reverted} txs`);
console.log(`load.samples_per_receipt: ${(samples / total).toFixed(2)} samples`);
console.log(`load.gas_per_settled_sample: ${(Number(f.gas) / samples).toFixed(2)} gas`);
console.log(`load.relayer_rss_mib: ${(rss / 1024).toFixed(1)} MiB`);
console.log(`load.indexer_lag_blocks: ${lag} blocks`);
console.log(`load.indexer_catchup_s: ${catchup.toFixed(2)} s`);
console.log(`load.indexer_rss_mib: ${(indexerRss / 1024).toFixed(1)} MiB`);
' "$dir/figures.json" "$total" "$elapsed" "$samples" "$rss_kib" "$lag_blocks" "$catchup" "$indexer_rss_kib" "$claims_s"
