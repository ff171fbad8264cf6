// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Script, console2} from "forge-std/Script.sol";

import {LicenseNFT} from "../src/LicenseNFT.sol";
import {RevenuePoolFactory} from "../src/RevenuePoolFactory.sol";
import {RoyaltyStreams} from "../src/RoyaltyStreams.sol";
import {TrainingEscrow} from "../src/TrainingEscrow.sol";
import {MockERC20} from "../test/mocks/MockERC20.sol";
import {DevnetMulticall3} from "./DevnetMulticall3.sol";

/// @notice Deploys the Fairtrain suite to any RPC URL and writes `deployments/<chainId>.json`.
///
/// Environment (all optional but the key):
/// - `DEPLOYER_PRIVATE_KEY`: the deploying account's key.
/// - `OWNER`: platform owner (fees, parameters, token list); defaults to the deployer.
/// - `FEE_BPS` (default 250), `NOTICE_PERIOD` seconds (default 86400), `CLAIM_WINDOW` seconds
///   (default 604800).
/// - `PAYMENT_TOKENS`: comma-separated ERC-20 addresses to allow. If unset on a local chain
///   (31337), a test stablecoin "fUSD" (6 decimals, open mint, EIP-2612) is deployed and allowed.
///   The deployer must be the owner for tokens to be allowed here; otherwise the owner allows
///   them later with `setTokenAllowed`.
///
/// On a local chain (31337) without Multicall3 at its usual address, the script puts it there
/// (`anvil_setCode`), as every public chain has it: the indexer and the CLI batch view reads
/// through it.
///
/// The streams contract and the pool factory are deployed after the escrow and the payment
/// tokens, so that the addresses of the earlier contracts do not change; the deployer then sets
/// the streams contract as the license contract's transfer hook (once, for good).
///
/// Usage: forge script contracts/script/Deploy.s.sol --rpc-url $RPC_URL --broadcast
contract Deploy is Script {
    /// @notice Addresses of one deployment.
    struct Deployment {
        LicenseNFT licenseNFT;
        TrainingEscrow escrow;
        address[] paymentTokens;
        uint256 startBlock;
        RoyaltyStreams royaltyStreams;
        RevenuePoolFactory revenuePoolFactory;
    }

    function run() external returns (Deployment memory d) {
        uint256 key = vm.envUint("DEPLOYER_PRIVATE_KEY");
        address deployer = vm.addr(key);
        address owner = vm.envOr("OWNER", deployer);
        uint16 feeBps = uint16(vm.envOr("FEE_BPS", uint256(250)));
        uint40 notice = uint40(vm.envOr("NOTICE_PERIOD", uint256(1 days)));
        uint40 window = uint40(vm.envOr("CLAIM_WINDOW", uint256(7 days)));
        address[] memory tokens = vm.envOr("PAYMENT_TOKENS", ",", new address[](0));

        if (block.chainid == 31_337 && DevnetMulticall3.ADDRESS.code.length == 0) {
            vm.rpc(
                "anvil_setCode",
                string.concat(
                    '["',
                    vm.toString(DevnetMulticall3.ADDRESS),
                    '","',
                    vm.toString(DevnetMulticall3.RUNTIME),
                    '"]'
                )
            );
        }
        d.startBlock = block.number;
        vm.startBroadcast(key);
        d.licenseNFT = new LicenseNFT();
        d.escrow = new TrainingEscrow(d.licenseNFT, owner, feeBps, notice, window);
        if (tokens.length == 0 && block.chainid == 31_337) {
            tokens = new address[](1);
            tokens[0] = address(new MockERC20("Fairtrain Test USD", "fUSD", 6));
        }
        if (owner == deployer) {
            for (uint256 i; i < tokens.length; ++i) {
                d.escrow.setTokenAllowed(tokens[i], true);
            }
        }
        d.royaltyStreams = new RoyaltyStreams(d.licenseNFT);
        d.licenseNFT.setTransferHook(d.royaltyStreams);
        d.revenuePoolFactory = new RevenuePoolFactory();
        vm.stopBroadcast();
        d.paymentTokens = tokens;

        _write(d, owner, feeBps, notice, window);
    }

    function _write(Deployment memory d, address owner, uint16 feeBps, uint40 notice, uint40 window) private {
        string memory obj = "deployment";
        vm.serializeUint(obj, "chainId", block.chainid);
        vm.serializeUint(obj, "startBlock", d.startBlock);
        vm.serializeAddress(obj, "licenseNFT", address(d.licenseNFT));
        vm.serializeAddress(obj, "trainingEscrow", address(d.escrow));
        vm.serializeAddress(obj, "royaltyStreams", address(d.royaltyStreams));
        vm.serializeAddress(obj, "revenuePoolFactory", address(d.revenuePoolFactory));
        vm.serializeAddress(obj, "owner", owner);
        vm.serializeAddress(obj, "paymentTokens", d.paymentTokens);
        vm.serializeUint(obj, "feeBps", feeBps);
        vm.serializeUint(obj, "noticePeriod", notice);
        vm.serializeUint(obj, "claimWindow", window);
        vm.serializeString(obj, "eip712Name", "Fairtrain TrainingEscrow");
        string memory json = vm.serializeString(obj, "eip712Version", "1");
        string memory path =
            string.concat(vm.projectRoot(), "/deployments/", vm.toString(block.chainid), ".json");
        vm.writeJson(json, path);
        console2.log("LicenseNFT     ", address(d.licenseNFT));
        console2.log("TrainingEscrow ", address(d.escrow));
        console2.log("RoyaltyStreams ", address(d.royaltyStreams));
        console2.log("PoolFactory    ", address(d.revenuePoolFactory));
        console2.log("written        ", path);
    }
}
