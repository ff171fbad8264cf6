# Runs the two-step demo lifecycle (contracts/script/Demo.s.sol) against an anvil RPC, advancing
# anvil's clock by the escrow's notice period in between so that the acceptances become
# chargeable. Usage: run_demo <rpc-url> <log-file>
# shellcheck shell=bash
run_demo() {
  local rpc="$1" log="$2"
  forge script contracts/script/Demo.s.sol --sig 'prepare()' --rpc-url "$rpc" --broadcast --slow >"$log" 2>&1 ||
    { cat "$log"; die "demo prepare() failed"; }
  pass_notice_period "$rpc"
  forge script contracts/script/Demo.s.sol --sig 'settle()' --rpc-url "$rpc" --broadcast --slow >>"$log" 2>&1 ||
    { cat "$log"; die "demo settle() failed"; }
}

# Moves anvil's clock by the escrow's notice period and mines a block, so that the acceptances
# made before become chargeable. Usage: pass_notice_period <rpc-url>
pass_notice_period() {
  local rpc="$1" escrow notice
  escrow="$(node -p "require('$ROOT/deployments/31337.json').trainingEscrow")"
  notice="$(cast call "$escrow" 'noticePeriod()(uint40)' --rpc-url "$rpc" | cut -d' ' -f1)"
  cast rpc evm_increaseTime "$notice" --rpc-url "$rpc" >/dev/null
  cast rpc evm_mine --rpc-url "$rpc" >/dev/null
}

# Streams and pools through the `fairtrain` CLI, after run_demo: creator A (anvil account 1) lets
# payers stream to its license 1 and the demo payer (account 3) subscribes to it (a royalty
# stream); creator B (account 2) puts license 4 into a revenue pool shared with a co-author
# (account 6, 70/30; moving it in lets payers stream to it), routes its resale royalties there
# too, and the payer streams to it; an hour later (anvil's clock moved) both streams are
# withdrawn, the pool distributes its income and pays both members. Sets demo_stream (the stream
# to license 1), demo_pool (the pool's address) and demo_pool_paid (what each member received).
# Usage: run_royalties_demo <rpc-url> <fairtrain binary> <log-file>
run_royalties_demo() {
  local rpc="$1" ft="$2" log="$3" token payer_key creator_a_key creator_b_key coauthor pool_stream payer
  payer_key="0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"
  creator_a_key="0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
  creator_b_key="0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
  coauthor="0x976EA74026E726554dB657fA54763abd0C3a0aa9"
  export FAIRTRAIN_RPC_URL="$rpc" FAIRTRAIN_DEPLOYMENT="$ROOT/deployments/31337.json"
  token="$(node -p "require('$FAIRTRAIN_DEPLOYMENT').paymentTokens[0]")"
  # Runs the CLI with a key, logging its output; prints the value of a --json field ($3, a JS
  # expression over `v`) when given.
  ft_as() {
    local key="$1" expr="$2"
    shift 2
    local out
    out="$(FAIRTRAIN_PRIVATE_KEY="$key" "$ft" --json "$@" 2>>"$log")" ||
      { echo "$out" >>"$log"; cat "$log"; die "fairtrain $* failed"; }
    echo "$out" >>"$log"
    [ -n "$expr" ] && node -e "const v=JSON.parse(process.argv[1]);console.log($expr)" "$out"
    return 0
  }
  # The payer's budget sits in the escrow: the streams are paid from its wallet.
  payer="$(cast wallet address "$payer_key")"
  cast send "$token" 'mint(address,uint256)' "$payer" 100000000 \
    --private-key "$payer_key" --rpc-url "$rpc" >>"$log"
  ft_as "$creator_a_key" '' stream enable 1
  demo_stream="$(ft_as "$payer_key" 'v.details.streamId' stream create 1 --rate 1 --per hour --deposit 24)"
  demo_pool="$(ft_as "$creator_b_key" 'v.details.pool' pool create --name 'Poems co-op shares' --symbol POEM \
    --member "$(cast wallet address "$creator_b_key")=70" --member "$coauthor=30")"
  ft_as "$creator_b_key" '' pool add-license "$demo_pool" 4
  ft_as "$creator_b_key" '' pool route-royalties "$demo_pool" 4
  pool_stream="$(ft_as "$payer_key" 'v.details.streamId' stream create 4 --rate 2 --per hour --deposit 48)"
  cast rpc evm_increaseTime 3600 --rpc-url "$rpc" >/dev/null
  cast rpc evm_mine --rpc-url "$rpc" >/dev/null
  local withdrawn pooled distributed a b
  withdrawn="$(ft_as "$payer_key" 'v.summary' stream withdraw "$demo_stream")"
  pooled="$(ft_as "$payer_key" 'v.summary' stream withdraw "$pool_stream")"
  distributed="$(ft_as "$payer_key" 'v.summary' pool distribute "$demo_pool")"
  echo "  stream $demo_stream (payer -> license 1, 1 fUSD/hour): $withdrawn"
  echo "  stream $pool_stream (payer -> license 4, held by the pool): $pooled"
  echo "  pool $demo_pool: $distributed"
  a="$(ft_as "$creator_b_key" 'v.details.amount' pool claim "$demo_pool")"
  b="$(ft_as "$creator_b_key" 'v.details.amount' pool claim "$demo_pool" --account "$coauthor")"
  demo_pool_paid="$a to creator B, $b to the co-author $coauthor (fUSD base units)"
  echo "  pool claims: $demo_pool_paid"
  unset FAIRTRAIN_RPC_URL FAIRTRAIN_DEPLOYMENT
}
