// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {RevenuePool} from "../../src/RevenuePool.sol";
import {RevenuePoolFactory} from "../../src/RevenuePoolFactory.sol";
import {IRevenuePool} from "../../src/interfaces/IRevenuePool.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {Pools} from "../../src/types/PoolTypes.sol";
import {Streams} from "../../src/types/StreamTypes.sol";
import {MockERC20} from "../mocks/MockERC20.sol";
import {StreamsBase} from "../utils/StreamsBase.t.sol";

/// @dev A token whose `balanceOf` reverts (paused, broken or hostile).
contract UnreadableBalanceToken {
    error Unreadable();

    function balanceOf(address) external pure returns (uint256) {
        revert Unreadable();
    }
}

/// @notice Unit tests of {RevenuePool} and {RevenuePoolFactory}: creation, pro-rata distribution
/// and claims, share transfers (which book pending income first), fixed splits, the manager,
/// streams to held licenses, exact rounding, and the three income paths (per-sample claims,
/// streams, EIP-2981 royalties) into one pool.
contract RevenuePoolTest is StreamsBase {
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal manager = makeAddr("manager");

    function config(bool transferable) internal view returns (Pools.Config memory c) {
        c = twoMemberConfig("Dataset shares", "DS", alice, 700e18, bob, 300e18);
        c.tokens = new address[](2);
        c.tokens[0] = address(usd6);
        c.tokens[1] = address(usdc);
        c.transferable = transferable;
        c.manager = manager;
    }

    function newPool(bool transferable) internal returns (RevenuePool) {
        return factory.createPool(config(transferable));
    }

    /// @dev Sends `amount` of `token` to the pool as a plain transfer (how every income arrives).
    function pay(RevenuePool pool, MockERC20 token, uint256 amount) internal {
        token.mint(address(pool), amount);
    }

    /*//////////////////////////////////////////////////////////////
                                CREATION
    //////////////////////////////////////////////////////////////*/

    function test_CreatePool_MintsSharesOnce() public {
        Pools.Config memory c = config(true);
        vm.expectEmit(false, true, true, false, address(factory));
        emit RevenuePoolFactory.PoolCreated(
            address(0), address(this), manager, true, c.name, c.symbol, c.members, c.shares, c.tokens
        );
        RevenuePool pool = factory.createPool(c);
        assertTrue(factory.isPool(address(pool)));
        assertEq(pool.totalSupply(), 1000e18);
        assertEq(pool.balanceOf(alice), 700e18);
        assertEq(pool.balanceOf(bob), 300e18);
        assertEq(pool.acceptedTokens().length, 2);
        assertTrue(pool.tokenState(address(usd6)).accepted);
        assertEq(pool.manager(), manager);
        assertTrue(pool.transferable());
        assertEq(pool.symbol(), "DS");
    }

    function test_RevertWhen_CreatePool_BadMembers() public {
        Pools.Config memory c = config(true);
        c.shares = new uint256[](1);
        vm.expectRevert(Errors.RevenuePool_BadMembers.selector);
        factory.createPool(c);
        c = config(true);
        c.shares[1] = 0;
        vm.expectRevert(Errors.RevenuePool_BadMembers.selector);
        factory.createPool(c);
        c = config(true);
        c.members[0] = address(0);
        vm.expectRevert(Errors.RevenuePool_BadMembers.selector);
        factory.createPool(c);
        c = config(true);
        c.members = new address[](0);
        c.shares = new uint256[](0);
        vm.expectRevert(Errors.RevenuePool_BadMembers.selector);
        factory.createPool(c);
        c = config(true);
        c.shares[0] = type(uint128).max;
        vm.expectRevert(Errors.RevenuePool_BadMembers.selector);
        factory.createPool(c);
    }

    function test_RevertWhen_CreatePool_BadTokens() public {
        Pools.Config memory c = config(true);
        c.tokens[1] = address(usd6);
        vm.expectRevert(abi.encodeWithSelector(Errors.RevenuePool_BadToken.selector, address(usd6)));
        factory.createPool(c);
        c.tokens = new address[](9);
        for (uint256 i; i < 9; ++i) {
            c.tokens[i] = address(uint160(0x1000 + i));
        }
        vm.expectRevert(abi.encodeWithSelector(Errors.RevenuePool_TooManyTokens.selector, 8));
        factory.createPool(c);
    }

    /*//////////////////////////////////////////////////////////////
                          DISTRIBUTION AND CLAIMS
    //////////////////////////////////////////////////////////////*/

    function test_Distribute_ProRata_AnyoneClaimsForAnyone() public {
        RevenuePool pool = newPool(true);
        pay(pool, usd6, 1000e6);
        assertEq(pool.undistributed(address(usd6)), 1000e6);
        vm.prank(anyone);
        assertEq(pool.distribute(address(usd6)), 1000e6);
        assertEq(pool.claimable(alice, address(usd6)), 700e6);
        assertEq(pool.claimable(bob, address(usd6)), 300e6);
        vm.expectEmit(address(pool));
        emit IRevenuePool.Claimed(alice, address(usd6), 700e6);
        vm.prank(anyone);
        assertEq(pool.claim(alice, address(usd6)), 700e6);
        assertEq(usd6.balanceOf(alice), 700e6);
        assertEq(usd6.balanceOf(anyone), 0);
        assertEq(pool.claim(alice, address(usd6)), 0, "nothing twice");
        assertEq(pool.distribute(address(usd6)), 0, "claims are not new income");
    }

    function test_ClaimMany_SeveralTokens() public {
        RevenuePool pool = newPool(true);
        pay(pool, usd6, 10e6);
        pay(pool, usdc, 10e18);
        pool.distribute(address(usd6));
        pool.distribute(address(usdc));
        address[] memory tokens = pool.acceptedTokens();
        uint256[] memory amounts = pool.claimMany(bob, tokens);
        assertEq(amounts[0], 3e6);
        assertEq(amounts[1], 3e18);
    }

    function test_RevertWhen_TokenNotAccepted() public {
        RevenuePool pool = newPool(true);
        vm.expectRevert(abi.encodeWithSelector(Errors.RevenuePool_TokenNotAccepted.selector, address(nft)));
        pool.distribute(address(nft));
        vm.expectRevert(abi.encodeWithSelector(Errors.RevenuePool_TokenNotAccepted.selector, address(nft)));
        pool.claim(alice, address(nft));
        assertEq(pool.undistributed(address(nft)), 0);
    }

    function test_ShareTransfer_PastIncomeStaysWithSeller() public {
        RevenuePool pool = newPool(true);
        pay(pool, usd6, 100e6);
        pool.distribute(address(usd6));
        vm.prank(alice);
        pool.transfer(bob, 700e18);
        pay(pool, usd6, 100e6);
        pool.distribute(address(usd6));
        assertEq(pool.claim(alice, address(usd6)), 70e6, "alice earned only before she sold");
        assertEq(pool.claim(bob, address(usd6)), 30e6 + 100e6);
        assertEq(usd6.balanceOf(address(pool)), 0, "everything paid, nothing stuck");
    }

    /// @dev Income received before a share transfer belongs to the holders before it: the
    /// transfer books it (every accepted token, `IncomeDistributed` by the caller) before the
    /// balances move, whether or not anyone called `distribute`.
    function test_ShareTransfer_BooksPendingIncomeToHoldersBefore() public {
        RevenuePool pool = newPool(true);
        pay(pool, usd6, 100e6);
        pay(pool, usdc, 10e18);
        vm.expectEmit(address(pool));
        emit IRevenuePool.IncomeDistributed(address(usd6), alice, 100e6, uint256(100e6) * 1e36 / 1000e18, 0);
        vm.expectEmit(address(pool));
        emit IRevenuePool.IncomeDistributed(address(usdc), alice, 10e18, uint256(10e18) * 1e36 / 1000e18, 0);
        vm.prank(alice);
        pool.transfer(bob, 700e18);
        assertEq(pool.undistributed(address(usd6)), 0);
        assertEq(pool.undistributed(address(usdc)), 0);
        assertEq(pool.tokenState(address(usd6)).received, 100e6);
        assertEq(pool.claimable(alice, address(usd6)), 70e6, "alice held 70 % when it arrived");
        assertEq(pool.claimable(alice, address(usdc)), 7e18);
        // Income received after the transfer is bob's alone.
        pay(pool, usd6, 50e6);
        assertEq(pool.distribute(address(usd6)), 50e6);
        assertEq(pool.claim(alice, address(usd6)), 70e6);
        assertEq(pool.claim(bob, address(usd6)), 30e6 + 50e6);
        assertEq(usd6.balanceOf(address(pool)), 0);
    }

    /// @dev A token whose balance cannot be read cannot block share transfers (its income then
    /// waits for `distribute`, which reverts for it as before); the other tokens are booked.
    function test_ShareTransfer_UnreadableTokenDoesNotBlockShares() public {
        RevenuePool pool = newPool(true);
        UnreadableBalanceToken broken = new UnreadableBalanceToken();
        vm.prank(manager);
        pool.acceptToken(address(broken));
        pay(pool, usd6, 100e6);
        vm.prank(alice);
        pool.transfer(bob, 1e18);
        assertEq(pool.balanceOf(bob), 301e18);
        assertEq(pool.claimable(alice, address(usd6)), 70e6);
        vm.expectRevert(UnreadableBalanceToken.Unreadable.selector);
        pool.distribute(address(broken));
    }

    function test_FixedSplit_SharesDoNotMove() public {
        RevenuePool pool = newPool(false);
        vm.prank(alice);
        vm.expectRevert(Errors.RevenuePool_SharesNotTransferable.selector);
        pool.transfer(bob, 1);
        vm.prank(alice);
        pool.approve(anyone, 1);
        vm.prank(anyone);
        vm.expectRevert(Errors.RevenuePool_SharesNotTransferable.selector);
        pool.transferFrom(alice, bob, 1);
        pay(pool, usd6, 10);
        pool.distribute(address(usd6));
        assertEq(pool.claim(alice, address(usd6)), 7);
        assertEq(pool.claim(bob, address(usd6)), 3);
    }

    /*//////////////////////////////////////////////////////////////
                                 ROUNDING
    //////////////////////////////////////////////////////////////*/

    /// @dev 10,000 payments of 1 unit to a 9,999 / 1 split pay the minority exactly 1 unit,
    /// even though every single payment is worth 0.0001 to it, and even when someone forces its
    /// position to settle after every payment.
    function test_TinyPayments_MinorityKeepsItsShare() public {
        Pools.Config memory c = config(true);
        c.shares[0] = 9999;
        c.shares[1] = 1;
        RevenuePool pool = factory.createPool(c);
        for (uint256 i; i < 10_000; ++i) {
            pay(pool, usd6, 1);
            pool.distribute(address(usd6));
            // A zero-value transfer settles both sides.
            vm.prank(alice);
            pool.transfer(bob, 0);
        }
        assertEq(pool.claim(bob, address(usd6)), 1);
        assertEq(pool.claim(alice, address(usd6)), 9999);
        assertEq(pool.tokenState(address(usd6)).carry, 0);
    }

    function test_Carry_KeepsSubUnitIncome() public {
        Pools.Config memory c = config(true);
        c.shares[0] = 2;
        c.shares[1] = 1;
        RevenuePool pool = factory.createPool(c);
        pay(pool, usd6, 1);
        pool.distribute(address(usd6));
        // 1 unit over 3 shares: 1e36 / 3 per share, 1 (scaled) carried.
        Pools.TokenState memory t = pool.tokenState(address(usd6));
        assertEq(t.accPerShare, uint256(1e36) / 3);
        assertEq(t.carry, 1);
        assertEq(pool.claim(alice, address(usd6)), 0, "0.67 rounds down");
        pay(pool, usd6, 2);
        pool.distribute(address(usd6));
        assertEq(pool.claim(alice, address(usd6)), 2);
        assertEq(pool.claim(bob, address(usd6)), 1);
    }

    /*//////////////////////////////////////////////////////////////
                                 MANAGER
    //////////////////////////////////////////////////////////////*/

    function test_Manager_AcceptsTokenAndUpdatesTerms() public {
        RevenuePool pool = newPool(true);
        MockERC20 dai = new MockERC20("Dai", "DAI", 18);
        vm.prank(manager);
        pool.acceptToken(address(dai));
        assertEq(pool.acceptedTokens().length, 3);
        vm.prank(creator);
        nft.safeTransferFrom(creator, address(pool), licenseId);
        License.Terms memory t = defaultTerms();
        t.pricePerSample = PRICE * 2;
        vm.prank(manager);
        uint64 termsId = pool.updateLicenseTerms(nft, licenseId, t);
        (uint64 current,) = nft.currentTerms(licenseId);
        assertEq(current, termsId);
    }

    /// @dev A manager can change the terms of a held license, but not make them exclusive: that
    /// would lock its creator's manifest (only the creator, holding the license, can).
    function test_RevertWhen_Manager_SetsExclusiveTerms() public {
        RevenuePool pool = newPool(true);
        License.Terms memory t = defaultTerms();
        t.expiresAt = uint40(block.timestamp + 1 days);
        uint256 id = mintLicense(creator, t, keccak256("manifest-exclusive"));
        vm.prank(creator);
        nft.safeTransferFrom(creator, address(pool), id);
        vm.warp(block.timestamp + 1 days);
        License.Terms memory exclusive = defaultTerms();
        exclusive.exclusiveLicensee = payer;
        vm.prank(manager);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.LicenseNFT_ExclusiveOnlyByCreator.selector, id, address(pool))
        );
        pool.updateLicenseTerms(nft, id, exclusive);
    }

    /// @dev Anyone lets payers stream to a license the pool holds (the pool never transfers it,
    /// so the holder history costs it nothing); withdrawals then pay the pool.
    function test_EnableStreams_ForAHeldLicense() public {
        RevenuePool pool = newPool(true);
        uint256 id = mintLicense(creator, defaultTerms(), keccak256("manifest-pool"));
        vm.prank(creator);
        nft.safeTransferFrom(creator, address(pool), id);
        Streams.CreateParams memory p = params(RATE, DEPOSIT);
        p.licenseId = id;
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_StreamsNotEnabled.selector, id));
        streams.create(p);
        vm.prank(anyone);
        pool.enableStreams(streams, id);
        assertTrue(streams.streamsEnabled(id));
        assertEq(streams.holderCheckpoint(id, 0).holder, address(pool));
        vm.prank(payer);
        uint256 streamId = streams.create(p);
        vm.warp(block.timestamp + 1 days);
        assertEq(streams.withdraw(streamId), accrued(RATE, 0, 1 days));
        assertEq(pool.distribute(address(usd6)), accrued(RATE, 0, 1 days));
        // Not for a license the pool does not hold.
        uint256 notHeld = mintLicense(creator, defaultTerms(), keccak256("manifest-not-held"));
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_NotHolderOrApproved.selector, notHeld, address(pool))
        );
        pool.enableStreams(streams, notHeld);
    }

    function test_RevertWhen_NotManager() public {
        RevenuePool pool = newPool(true);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Errors.RevenuePool_NotManager.selector, alice));
        pool.acceptToken(address(1));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Errors.RevenuePool_NotManager.selector, alice));
        pool.updateLicenseTerms(nft, licenseId, defaultTerms());
        Pools.Config memory c = config(true);
        c.manager = address(0);
        RevenuePool immutablePool = factory.createPool(c);
        vm.prank(address(0));
        vm.expectRevert(abi.encodeWithSelector(Errors.RevenuePool_NotManager.selector, address(0)));
        immutablePool.acceptToken(address(1));
    }

    function test_RevertWhen_AcceptToken_OwnSharesOrZero() public {
        RevenuePool pool = newPool(true);
        vm.startPrank(manager);
        vm.expectRevert(abi.encodeWithSelector(Errors.RevenuePool_BadToken.selector, address(pool)));
        pool.acceptToken(address(pool));
        vm.expectRevert(abi.encodeWithSelector(Errors.RevenuePool_BadToken.selector, address(0)));
        pool.acceptToken(address(0));
        vm.stopPrank();
    }

    /*//////////////////////////////////////////////////////////////
                       THE THREE INCOME PATHS, ONE POOL
    //////////////////////////////////////////////////////////////*/

    /// @dev The pool holds the license and receives the royalties: per-sample settlement (paid to
    /// the holder by the escrow), a stream's withdrawal (paid to the holder), and an EIP-2981
    /// royalty on a resale of another license of the creator (routed by the creator). All three
    /// arrive as plain transfers and are distributed by one call per token.
    function test_Integration_ThreeIncomePathsReconcile() public {
        RevenuePool pool = newPool(true);
        // Royalty routing: the creator's other license pays resale royalties to the pool.
        uint256 other = mintLicense(creator, defaultTerms(), keccak256("manifest-2"));
        vm.prank(creator);
        nft.setRoyaltyReceiver(other, address(pool));
        (address receiver, uint256 royalty) = nft.royaltyInfo(other, 100e18);
        assertEq(receiver, address(pool));
        usdc.mint(address(this), royalty);
        usdc.transfer(receiver, royalty); // what a marketplace does on resale

        // The license moves into the pool; a stream and per-sample usage pay it.
        setUpPayer(payer, signerKey, 1000e18);
        accept(payer, licenseId);
        uint256 streamId = openStream();
        vm.prank(creator);
        nft.safeTransferFrom(creator, address(pool), licenseId);
        vm.warp(block.timestamp + 1 days);
        uint256 streamed = streams.withdraw(streamId);
        Escrow.Receipt memory r = receipt(payer, licenseId, keccak256("run"), 1000);
        uint256 before = usdc.balanceOf(address(pool));
        uint256 charged = escrow.settleDirect(r, sign(signerKey, r));
        uint256 settled = usdc.balanceOf(address(pool)) - before;
        (, uint256 payout) = split(charged, FEE_BPS);
        assertEq(settled, payout, "the escrow paid the pool, its holder, net of the fee");

        assertEq(pool.distribute(address(usd6)), streamed);
        assertEq(pool.distribute(address(usdc)), royalty + settled);
        uint256 totalUsdc = royalty + settled;
        assertEq(pool.claim(alice, address(usdc)), totalUsdc * 7 / 10);
        assertEq(pool.claim(bob, address(usdc)), totalUsdc * 3 / 10);
        assertEq(pool.claim(alice, address(usd6)), streamed * 7 / 10);
        assertEq(pool.claim(bob, address(usd6)), streamed * 3 / 10);
        // 999,999 splits as 699,999.3 and 299,999.7: the fractions stay with their accounts.
        assertEq(usd6.balanceOf(address(pool)), 1);
        assertEq(pool.accountState(alice, address(usd6)).owedScaled, 3e35);
        assertEq(pool.accountState(bob, address(usd6)).owedScaled, 7e35);
    }
}
