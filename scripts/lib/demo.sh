# Runs the two-step demo lifecycle (contracts/script/Demo.s.sol) against an anvil RPC, advancing
# anvil's clock by the escrow's notice period in between so that the acceptances become
# chargeable. Usage: run_demo <rpc-url> <log-file>
# shellcheck shell=bash
run_demo() {
  local rpc="$1" log="$2" escrow notice
  forge script contracts/script/Demo.s.sol --sig 'prepare()' --rpc-url "$rpc" --broadcast --slow >"$log" 2>&1 ||
    { cat "$log"; die "demo prepare() failed"; }
  escrow="$(node -p "require('$ROOT/deployments/31337.json').trainingEscrow")"
  notice="$(cast call "$escrow" 'noticePeriod()(uint40)' --rpc-url "$rpc" | cut -d' ' -f1)"
  cast rpc evm_increaseTime "$notice" --rpc-url "$rpc" >/dev/null
  cast rpc evm_mine --rpc-url "$rpc" >/dev/null
  forge script contracts/script/Demo.s.sol --sig 'settle()' --rpc-url "$rpc" --broadcast --slow >>"$log" 2>&1 ||
    { cat "$log"; die "demo settle() failed"; }
}
