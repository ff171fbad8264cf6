// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {StdInvariant} from "forge-std/StdInvariant.sol";
import {Test} from "forge-std/Test.sol";
import {console2} from "forge-std/console2.sol";

import {LicenseNFT} from "../../src/LicenseNFT.sol";
import {RevenuePool} from "../../src/RevenuePool.sol";
import {RoyaltyStreams} from "../../src/RoyaltyStreams.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {Pools} from "../../src/types/PoolTypes.sol";
import {Streams} from "../../src/types/StreamTypes.sol";
import {MockERC20} from "../mocks/MockERC20.sol";
import {StreamsHandler} from "./handlers/StreamsHandler.sol";
import {StreamsStore} from "./stores/StreamsStore.sol";

/// @notice Stateful invariants of {RoyaltyStreams} and {RevenuePool}, fuzzed through
/// {StreamsHandler}. contracts/test/invariant/README.md states each invariant in words.
contract StreamsInvariantTest is Test {
    LicenseNFT internal nft;
    RoyaltyStreams internal streams;
    RevenuePool internal pool;
    MockERC20 internal token;
    StreamsStore internal store;
    StreamsHandler internal handler;

    function setUp() public {
        vm.warp(1_750_000_000);
        nft = new LicenseNFT();
        streams = new RoyaltyStreams(nft);
        nft.setTransferHook(streams);
        token = new MockERC20("USD6", "USD6", 6);
        address[3] memory people = [makeAddr("creator"), makeAddr("buyer"), makeAddr("collector")];
        address[3] memory members = [makeAddr("member0"), makeAddr("member1"), makeAddr("member2")];

        Pools.Config memory c;
        c.name = "Shares";
        c.symbol = "SH";
        c.members = new address[](3);
        c.shares = new uint256[](3);
        for (uint256 i; i < 3; ++i) {
            c.members[i] = members[i];
        }
        c.shares[0] = 5e17;
        c.shares[1] = 3e17 + 1;
        c.shares[2] = 2e17 + 2; // an odd supply, so that divisions leave remainders
        c.tokens = new address[](1);
        c.tokens[0] = address(token);
        c.transferable = true;
        pool = new RevenuePool(c);

        License.Terms memory t;
        t.kind = License.Kind.Commercial;
        t.paymentToken = address(token);
        t.pricePerSample = 1;
        t.commercialUse = true;
        vm.startPrank(people[0]);
        uint256 l0 = nft.mint(License.MintRequest({terms: t, manifestHash: keccak256("m0"), royaltyBps: 0}));
        uint256 l1 = nft.mint(License.MintRequest({terms: t, manifestHash: keccak256("m1"), royaltyBps: 0}));
        streams.enableStreams(l0);
        nft.transferFrom(people[0], address(pool), l1);
        vm.stopPrank();
        pool.enableStreams(streams, l1);

        store = new StreamsStore();
        address payer = makeAddr("payer");
        handler = new StreamsHandler(
            StreamsHandler.World({
                streams: streams,
                nft: nft,
                pool: pool,
                token: token,
                store: store,
                payer: payer,
                operator: makeAddr("operator"),
                people: people,
                members: members,
                licenses: [l0, l1]
            })
        );
        vm.prank(payer);
        token.approve(address(streams), type(uint256).max);

        bytes4[] memory selectors = new bytes4[](16);
        selectors[0] = StreamsHandler.create.selector;
        selectors[1] = StreamsHandler.deposit.selector;
        selectors[2] = StreamsHandler.withdraw.selector;
        selectors[3] = StreamsHandler.withdrawMultiple.selector;
        selectors[4] = StreamsHandler.settle.selector;
        selectors[5] = StreamsHandler.withdrawOwed.selector;
        selectors[6] = StreamsHandler.pause.selector;
        selectors[7] = StreamsHandler.restart.selector;
        selectors[8] = StreamsHandler.adjustRate.selector;
        selectors[9] = StreamsHandler.cancel.selector;
        selectors[10] = StreamsHandler.transferLicense.selector;
        selectors[11] = StreamsHandler.warp.selector;
        selectors[12] = StreamsHandler.distribute.selector;
        selectors[13] = StreamsHandler.claim.selector;
        selectors[14] = StreamsHandler.transferShares.selector;
        selectors[15] = StreamsHandler.create.selector; // creation twice as likely
        targetContract(address(handler));
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /*//////////////////////////////////////////////////////////////
                                 STREAMS
    //////////////////////////////////////////////////////////////*/

    /// @dev S1: the contract holds exactly what it owes: Σ stream balances + Σ owed.
    function invariant_S1_BalanceCoversWhatIsOwed() external view {
        assertEq(token.balanceOf(address(streams)), _sumBalances() + _sumOwed(), "balance != streams + owed");
    }

    /// @dev S2: every deposited unit is in exactly one place.
    function invariant_S2_DepositsAccountedFor() external view {
        assertEq(
            store.deposited(),
            _sumBalances() + _sumOwed() + store.paidToHolders() + store.refunded(),
            "deposited != balances + owed + paid + refunded"
        );
    }

    /// @dev S3: per stream, streamed >= withdrawn, and what streamed matches the model (rate ×
    /// active seconds) to within one unit per rate change, pause or cancellation.
    function invariant_S3_StreamedMatchesModel() external view {
        uint256 n = store.streamCount();
        for (uint256 i; i < n; ++i) {
            StreamsStore.StreamGhost memory g = store.streamAt(i);
            Streams.Record memory s = streams.getStream(g.id);
            uint256 credited = g.deposited - s.balance - g.refunded;
            assertGe(credited, g.withdrawn, "withdrawn > streamed");
            uint256 model = handler.modelNow(g) / 1e18;
            if (g.cancelled) {
                assertLe(credited, model + g.reanchors, "cancelled: credited > model");
                continue;
            }
            uint256 debt = streams.uncoveredDebtOf(g.id);
            uint256 reach = debt == 0 ? streams.withdrawableAmountOf(g.id) : s.balance + debt;
            uint256 total = credited + reach;
            assertLe(total, model + g.reanchors, "accrued > model");
            assertGe(total + g.reanchors + 1, model, "accrued < model");
        }
    }

    /// @dev S4: a cancelled stream stays cancelled, with nothing left in it.
    function invariant_S4_CancelledIsFinal() external view {
        uint256 n = store.streamCount();
        for (uint256 i; i < n; ++i) {
            StreamsStore.StreamGhost memory g = store.streamAt(i);
            Streams.Record memory s = streams.getStream(g.id);
            if (g.cancelled) {
                assertEq(uint8(s.status), uint8(Streams.Status.Cancelled), "cancelled stream revived");
                assertEq(s.balance, 0, "cancelled stream holds funds");
                assertEq(streams.withdrawableAmountOf(g.id), 0);
            } else {
                assertTrue(s.status != Streams.Status.Cancelled, "stream cancelled behind the model's back");
                assertEq(s.status == Streams.Status.Paused, g.paused, "pause state differs from the model");
            }
        }
    }

    /*//////////////////////////////////////////////////////////////
                                  POOL
    //////////////////////////////////////////////////////////////*/

    /// @dev P1: each member has been paid (its token balance: members receive tokens only from
    /// the pool) plus can claim what the model says it earned: the income seen arriving at the
    /// pool, booked pro rata to the shares it held at each distribution and share transfer, to
    /// within one unit (the supply does not divide the accumulator's precision, so the
    /// accumulator rounds by less than a unit either way). No unit is lost or created: the pool
    /// holds exactly the income less what members were paid, the income not booked yet is its
    /// undistributed balance, and it owes no more than it holds.
    function invariant_P1_MembersPaidAsModelled() external view {
        address[3] memory members = handler.members();
        uint256 supply = pool.totalSupply();
        uint256 paid;
        uint256 claimable;
        for (uint256 m; m < 3; ++m) {
            uint256 got = token.balanceOf(members[m]);
            uint256 owed = pool.claimable(members[m], address(token));
            uint256 model = store.poolNumerator(members[m]) / supply;
            assertLe(got + owed, model + 1, "member paid more than the model");
            assertGe(got + owed + 1, model, "member paid less than the model");
            assertEq(pool.balanceOf(members[m]), store.poolShares(members[m]), "shares differ from the model");
            paid += got;
            claimable += owed;
        }
        uint256 held = token.balanceOf(address(pool));
        assertEq(held, store.poolIncome() - paid, "pool balance != income - paid out");
        assertEq(
            pool.undistributed(address(token)), store.poolPending(), "undistributed != income not booked"
        );
        assertGe(held - store.poolPending(), claimable, "pool owes more than it holds");
    }

    /// @dev P2: exact ledger, dust included: received × P == paidOut × P + Σ owedScaled +
    /// Σ shares × (accPerShare − index) + carry.
    function invariant_P2_PoolLedgerExact() external view {
        Pools.TokenState memory t = pool.tokenState(address(token));
        uint256 precision = pool.PRECISION();
        address[3] memory members = handler.members();
        uint256 sum = t.paidOut * precision + t.carry;
        for (uint256 m; m < 3; ++m) {
            Pools.Account memory a = pool.accountState(members[m], address(token));
            sum += a.owedScaled + pool.balanceOf(members[m]) * (t.accPerShare - a.index);
        }
        assertEq(sum, t.received * precision, "pool ledger does not add up");
        assertLt(t.carry, pool.totalSupply(), "carry below one share-unit of the accumulator");
    }

    /*//////////////////////////////////////////////////////////////
                                 SUMMARY
    //////////////////////////////////////////////////////////////*/

    /// @dev The handler's actions, as it counts their calls in the store.
    function handlerActions() internal pure returns (string[15] memory) {
        return [
            "create",
            "deposit",
            "withdraw",
            "withdrawMultiple",
            "settle",
            "withdrawOwed",
            "pause",
            "restart",
            "adjustRate",
            "cancel",
            "transferLicense",
            "warp",
            "distribute",
            "claim",
            "transferShares"
        ];
    }

    function afterInvariant() external view {
        string[15] memory actions = handlerActions();
        for (uint256 i; i < actions.length; ++i) {
            console2.log(
                actions[i], store.callsOf(actions[i]), store.callsOf(string.concat(actions[i], ".skip"))
            );
        }
    }

    /// @dev Drives every action once in a fixed order, then checks every invariant.
    function test_Handler_ReachesEveryAction() external {
        handler.create(0, 1e19, 1e9, 0, 0);
        handler.create(1, 3e18, 1e6, 3, 1 days);
        handler.warp(1 hours);
        handler.withdraw(0);
        handler.transferLicense(0);
        handler.warp(1 hours);
        handler.withdrawMultiple(0);
        handler.settle(1);
        handler.withdrawOwed(0);
        handler.deposit(0, 1e6);
        handler.pause(0);
        handler.warp(1 hours);
        handler.restart(0, 2e19);
        handler.pause(1); // by the operator
        handler.warp(1 hours);
        handler.restart(1, 1); // by the operator, at the rate of the pause
        handler.adjustRate(0, 5e18);
        handler.distribute();
        handler.claim(0);
        handler.transferShares(0, 1e17);
        handler.warp(2 days);
        handler.cancel(1);
        handler.cancel(0);
        string[15] memory actions = handlerActions();
        for (uint256 i; i < actions.length; ++i) {
            assertGt(store.callsOf(actions[i]), 0, actions[i]);
        }
        assertGt(store.paidToHolders(), 0, "holders paid");
        assertGt(store.refunded(), 0, "refunds made");
        assertGt(token.balanceOf(handler.members()[0]), 0, "pool paid out");
        this.invariant_S1_BalanceCoversWhatIsOwed();
        this.invariant_S2_DepositsAccountedFor();
        this.invariant_S3_StreamedMatchesModel();
        this.invariant_S4_CancelledIsFinal();
        this.invariant_P1_MembersPaidAsModelled();
        this.invariant_P2_PoolLedgerExact();
    }

    /*//////////////////////////////////////////////////////////////
                                 HELPERS
    //////////////////////////////////////////////////////////////*/

    function _sumBalances() internal view returns (uint256 sum) {
        uint256 n = store.streamCount();
        for (uint256 i; i < n; ++i) {
            sum += streams.getStream(store.streamAt(i).id).balance;
        }
    }

    function _sumOwed() internal view returns (uint256 sum) {
        address[7] memory accounts = handler.accounts();
        for (uint256 i; i < 7; ++i) {
            sum += streams.owedTo(accounts[i], address(token));
        }
    }
}
