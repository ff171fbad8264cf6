#!/usr/bin/env bash
# Deploys the suite to a fresh anvil with contracts/script/Deploy.s.sol, checks the written
# deployments/31337.json against the chain, then runs the demo lifecycle (Demo.s.sol), which
# reverts unless payouts, the relayer's credit line and the escrow's balance reconcile to the
# unit, and checks the line and the balance again from outside.
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$ROOT/scripts/lib/demo.sh"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
rpc="http://127.0.0.1:$port"
log="$(mktemp -d)"
anvil --host 127.0.0.1 --port "$port" --chain-id 31337 >"$log/anvil.log" 2>&1 &
anvil_pid=$!
trap 'kill $anvil_pid 2>/dev/null || true; wait $anvil_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do cast chain-id --rpc-url "$rpc" >/dev/null 2>&1 && break; sleep 0.2; done

key="0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" # anvil account 0
NOTICE_PERIOD=3600 DEPLOYER_PRIVATE_KEY="$key" forge script contracts/script/Deploy.s.sol --rpc-url "$rpc" --broadcast --slow \
  >"$log/deploy.log" 2>&1 || { cat "$log/deploy.log"; die "deploy script failed"; }

file="deployments/31337.json"
field() { node -p "JSON.stringify(require('./$file')$1)" | tr -d '"'; }
nft="$(field .licenseNFT)"
escrow="$(field .trainingEscrow)"
token="$(field .paymentTokens[0])"
streams="$(field .royaltyStreams)"
factory="$(field .revenuePoolFactory)"
# cast prints numbers as "86400 [8.64e4]" and strings quoted: keep the bare value.
lower() { cut -d' ' -f1 | tr -d '"' | tr '[:upper:]' '[:lower:]'; }

fail=0
check() {
  local what="$1" got="$2" want="$3"
  if [ "$(echo "$got" | lower)" = "$(echo "$want" | lower)" ] || [ "$(echo "$got" | tr -d '"')" = "$want" ]; then
    echo "ok: $what"
  else
    echo "FAILED: $what: got $got, want $want"
    fail=1
  fi
}
check "escrow points at the license NFT" "$(cast call "$escrow" 'licenses()(address)' --rpc-url "$rpc")" "$nft"
check "owner recorded" "$(cast call "$escrow" 'owner()(address)' --rpc-url "$rpc")" "$(field .owner)"
check "fee recorded" "$(cast call "$escrow" 'feeBps()(uint16)' --rpc-url "$rpc")" "$(field .feeBps)"
check "notice period recorded" "$(cast call "$escrow" 'noticePeriod()(uint40)' --rpc-url "$rpc")" "$(field .noticePeriod)"
check "claim window recorded" "$(cast call "$escrow" 'claimWindow()(uint40)' --rpc-url "$rpc")" "$(field .claimWindow)"
check "payment token allowed" "$(cast call "$escrow" 'isTokenAllowed(address)(bool)' "$token" --rpc-url "$rpc")" "true"
check "license NFT deployed" "$(cast call "$nft" 'name()(string)' --rpc-url "$rpc")" "Fairtrain License"
# The streams and pools came after these; their deterministic anvil addresses must not move.
check "license NFT address unchanged" "$nft" "0x5FbDB2315678afecb367f032d93F642f64180aa3"
check "escrow address unchanged" "$escrow" "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
check "fUSD address unchanged" "$token" "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
check "streams point at the license NFT" "$(cast call "$streams" 'licenses()(address)' --rpc-url "$rpc")" "$nft"
check "streams are the license NFT's transfer hook" "$(cast call "$nft" 'transferHook()(address)' --rpc-url "$rpc")" "$streams"
check "pool factory deployed" "$(cast call "$factory" 'isPool(address)(bool)' "$factory" --rpc-url "$rpc")" "false"

run_demo "$rpc" "$log/demo.log"
echo "ok: demo lifecycle settled and reconciled on anvil"
check "demo paid the creators" "$(cast call "$token" 'balanceOf(address)(uint256)' 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --rpc-url "$rpc")" "10140000"
# The demo payer (anvil account 3) funded a 9,000 fUSD credit line for its relayer (account 4);
# the batch reserved from it and its claims drew everything reserved.
payer=0x90F79bf6EB2c4f870365E785982E1f101E93b906
relayer=0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65
# Field $1 (1-based) of the tuple cast prints, without annotations: "(0, 5 [5e0], …)" 2 -> 5.
field_of() { tr -d '()' | awk -F', ' -v i="$1" '{print $i}' | cut -d' ' -f1; }
line="$(cast call "$escrow" 'creditLine(address,address,address)((uint104,uint112,uint40,uint128))' "$payer" "$relayer" "$token" --rpc-url "$rpc")"
reserved_units="$(sed -nE 's/^\s*demo\.reserved_units: ([0-9]+).*/\1/p' "$log/demo.log")"
check "the relayer's line holds nothing reserved after the claims" "$(echo "$line" | field_of 1)" "0"
check "the relayer's line kept its credit less what the batch reserved" "$(echo "$line" | field_of 4)" "$((9000000000 - ${reserved_units:-0}))"
check "the line's reserved funds are locked until the batch expires" "$(echo "$line" | field_of 3 | awk '{print ($1 > 0)}')" "1"
available="$(cast call "$escrow" 'availableBalance(address,address)(uint256)' "$payer" "$token" --rpc-url "$rpc" | lower)"
fees="$(cast call "$escrow" 'accruedFees(address)(uint256)' "$token" --rpc-url "$rpc" | lower)"
held="$(cast call "$token" 'balanceOf(address)(uint256)' "$escrow" --rpc-url "$rpc" | lower)"
sum="$(node -p "(BigInt('$available') + BigInt('$(echo "$line" | field_of 1)') + BigInt('$(echo "$line" | field_of 2)') + BigInt('$(echo "$line" | field_of 4)') + BigInt('$fees')).toString()")"
check "the escrow holds available + line credit, reserved and fees + accrued fees" "$held" "$sum"

[ "$fail" = 0 ] || die "deployment checks failed"
echo "deploy checks: 19 passed, 0 failed"
