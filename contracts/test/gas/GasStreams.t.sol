// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {LicenseNFT} from "../../src/LicenseNFT.sol";
import {RevenuePool} from "../../src/RevenuePool.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {Pools} from "../../src/types/PoolTypes.sol";
import {Streams} from "../../src/types/StreamTypes.sol";
import {StreamsBase} from "../utils/StreamsBase.t.sol";

/// @notice Gas per transaction of streams and pools, run with `--isolate` like {GasTest}:
///   forge test --isolate --match-path 'contracts/test/gas/*' -vv
/// Figures go to snapshots/gas.json and are logged as `gas.<name>: <value>`; for the comparison
/// with other protocols' published execution gas, `<name>_execution` subtracts the intrinsic
/// 21,000 and the calldata cost (4 gas per zero byte, 16 per other byte).
contract GasStreamsTest is StreamsBase {
    string private constant GROUP = "gas";

    uint256 private streamId;
    RevenuePool private pool;
    address private alice = makeAddr("alice");
    address private bob = makeAddr("bob");

    function setUp() public override {
        super.setUp();
        // A live deployment: the license already has a stream, the holder already holds the
        // token, the contract holds the token.
        streamId = openStream();
        usd6.mint(creator, 1);
        vm.warp(block.timestamp + 1 days);
        streams.withdraw(streamId);
        vm.warp(block.timestamp + 1 hours);

        Pools.Config memory c = twoMemberConfig("Dataset shares", "DS", alice, 600e18, bob, 400e18);
        c.tokens = new address[](1);
        c.tokens[0] = address(usd6);
        c.transferable = true;
        pool = factory.createPool(c);
        usd6.mint(alice, 1);
        usd6.mint(address(pool), 1000e6);
        pool.distribute(address(usd6));
        pool.claim(alice, address(usd6));
        pool.claim(bob, address(usd6));
        usd6.mint(address(pool), 1000e6);
    }

    /*//////////////////////////////////////////////////////////////
                                STREAMS
    //////////////////////////////////////////////////////////////*/

    function test_Gas_StreamCreate() public {
        Streams.CreateParams memory p = params(RATE, DEPOSIT);
        p.operator = address(0);
        vm.prank(payer);
        streams.create(p);
        _record("stream_create", abi.encodeCall(streams.create, (p)));
        vm.prank(payer);
        streams.create(params(RATE, DEPOSIT));
        _record("stream_create_with_operator", abi.encodeCall(streams.create, (params(RATE, DEPOSIT))));
    }

    /// @dev The holder lets payers stream to its license (starts its holder history).
    function test_Gas_StreamEnableLicense() public {
        uint256 other = mintLicense(creator, defaultTerms(), keccak256("manifest-gas"));
        vm.prank(creator);
        streams.enableStreams(other);
        _record("stream_enable_license", abi.encodeCall(streams.enableStreams, (other)));
    }

    function test_Gas_StreamDeposit() public {
        vm.prank(payer);
        streams.deposit(streamId, 1e6);
        _record("stream_deposit", abi.encodeCall(streams.deposit, (streamId, 1e6)));
    }

    function test_Gas_StreamWithdraw() public {
        vm.prank(creator);
        streams.withdraw(streamId);
        _record("stream_withdraw", abi.encodeCall(streams.withdraw, (streamId)));
    }

    /// @dev The license changed hands since the last withdrawal: one checkpoint to cross, the
    /// seller's part booked to its ledger, the buyer paid.
    function test_Gas_StreamWithdrawAfterTransfer() public {
        vm.prank(creator);
        nft.transferFrom(creator, buyer, licenseId);
        vm.warp(block.timestamp + 1 hours);
        streams.withdraw(streamId);
        _record("stream_withdraw_after_transfer", abi.encodeCall(streams.withdraw, (streamId)));
    }

    function test_Gas_StreamWithdrawMultiple10() public {
        uint256[] memory ids = new uint256[](10);
        ids[0] = streamId;
        for (uint256 i = 1; i < 10; ++i) {
            ids[i] = openStream();
        }
        vm.warp(block.timestamp + 1 hours);
        streams.withdrawMultiple(ids);
        _record("stream_withdraw_multiple_10_per_stream", 10, abi.encodeCall(streams.withdrawMultiple, (ids)));
    }

    function test_Gas_StreamWithdrawOwed() public {
        vm.prank(creator);
        nft.transferFrom(creator, buyer, licenseId);
        vm.warp(block.timestamp + 1 hours);
        streams.settle(streamId);
        streams.withdrawOwed(creator, address(usd6));
        _record("stream_withdraw_owed", abi.encodeCall(streams.withdrawOwed, (creator, address(usd6))));
    }

    function test_Gas_StreamAdjustPauseRestartCancel() public {
        vm.prank(payer);
        streams.adjustRate(streamId, RATE * 2);
        _record("stream_adjust_rate", abi.encodeCall(streams.adjustRate, (streamId, RATE * 2)));
        vm.warp(block.timestamp + 1 hours);
        vm.prank(operator);
        streams.pause(streamId);
        _record("stream_pause", abi.encodeCall(streams.pause, (streamId)));
        vm.warp(block.timestamp + 1 hours);
        vm.prank(payer);
        streams.restart(streamId, RATE);
        _record("stream_restart", abi.encodeCall(streams.restart, (streamId, RATE)));
        vm.warp(block.timestamp + 1 hours);
        vm.prank(payer);
        streams.cancel(streamId);
        _record("stream_cancel", abi.encodeCall(streams.cancel, (streamId)));
    }

    /// @dev What the transfer hook adds to a license transfer (both to an account that holds
    /// no license yet): with streams enabled (one checkpoint), without (none), without a hook.
    function test_Gas_LicenseTransfer() public {
        vm.prank(creator);
        nft.transferFrom(creator, buyer, licenseId);
        _record(
            "license_transfer_with_streams", abi.encodeCall(nft.transferFrom, (creator, buyer, licenseId))
        );
        uint256 other = mintLicense(creator, defaultTerms(), keccak256("manifest-gas"));
        vm.prank(creator);
        nft.transferFrom(creator, collector, other);
        _record("license_transfer_no_streams", abi.encodeCall(nft.transferFrom, (creator, collector, other)));
        // The same transfer on a license contract without a hook (as before streams existed).
        LicenseNFT bare = new LicenseNFT();
        vm.prank(creator);
        uint256 id = bare.mint(
            License.MintRequest({
                terms: defaultTerms(), manifestHash: keccak256("manifest-gas"), royaltyBps: 500
            })
        );
        vm.prank(creator);
        bare.transferFrom(creator, collector, id);
        _record("license_transfer_hook_unset", abi.encodeCall(bare.transferFrom, (creator, collector, id)));
    }

    /*//////////////////////////////////////////////////////////////
                                 POOLS
    //////////////////////////////////////////////////////////////*/

    /// @dev O(1) whatever the number of holders.
    function test_Gas_PoolDistribute() public {
        pool.distribute(address(usd6));
        _record("pool_distribute", abi.encodeCall(pool.distribute, (address(usd6))));
    }

    function test_Gas_PoolClaim() public {
        pool.distribute(address(usd6));
        pool.claim(alice, address(usd6));
        _record("pool_claim", abi.encodeCall(pool.claim, (alice, address(usd6))));
    }

    /// @dev A share transfer with no income pending (distributed before): settles both sides.
    function test_Gas_PoolShareTransfer() public {
        pool.distribute(address(usd6));
        vm.prank(alice);
        pool.transfer(bob, 1e18);
        _record("pool_share_transfer_1_token", abi.encodeCall(pool.transfer, (bob, 1e18)));
    }

    /// @dev A share transfer with income received and not distributed: books it first.
    function test_Gas_PoolShareTransferIncomePending() public {
        vm.prank(alice);
        pool.transfer(bob, 1e18);
        _record("pool_share_transfer_1_token_income_pending", abi.encodeCall(pool.transfer, (bob, 1e18)));
    }

    function test_Gas_PoolCreate() public {
        Pools.Config memory c;
        c.name = "Split";
        c.symbol = "SPLIT";
        c.members = new address[](3);
        c.members[0] = alice;
        c.members[1] = bob;
        c.members[2] = creator;
        c.shares = new uint256[](3);
        c.shares[0] = 5000;
        c.shares[1] = 3000;
        c.shares[2] = 2000;
        c.tokens = new address[](1);
        c.tokens[0] = address(usd6);
        factory.createPool(c);
        _record("pool_create_3_members", abi.encodeCall(factory.createPool, (c)));
    }

    /*//////////////////////////////////////////////////////////////
                                HELPERS
    //////////////////////////////////////////////////////////////*/

    function _record(string memory name, bytes memory data) private {
        _record(name, 1, data);
    }

    function _record(string memory name, uint256 per, bytes memory data) private {
        uint256 gas = vm.snapshotGasLastCall(GROUP, name);
        uint256 execution = (gas - 21_000 - _calldataGas(data)) / per;
        gas /= per;
        if (per != 1) vm.snapshotValue(GROUP, name, gas);
        vm.snapshotValue(GROUP, string.concat(name, "_execution"), execution);
        emit log_named_uint(string.concat("gas.", name), gas);
        emit log_named_uint(string.concat("gas.", name, "_execution"), execution);
    }

    function _calldataGas(bytes memory data) private pure returns (uint256 cost) {
        for (uint256 i; i < data.length; ++i) {
            cost += data[i] == 0 ? 4 : 16;
        }
    }
}
