// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {NoncelessPermitToken} from "../mocks/weird/NoncelessPermitToken.sol";
import {WethLikeToken} from "../mocks/weird/WethLikeToken.sol";
import {LicensedAttackBase} from "./AttackBase.sol";

/// @notice What anyone might try to block others: deposits for a payer, dust and replayed claims,
/// claims and releases on others' behalf, forced deposits through junk, front-run or phantom
/// permits.
contract GriefingAttackTest is LicensedAttackBase {
    function setUp() public override {
        super.setUp();
        usdc.mint(anyone, BUDGET);
        vm.prank(anyone);
        usdc.approve(address(escrow), type(uint256).max);
    }

    /*//////////////////////////////////////////////////////////////
                              DEPOSITS
    //////////////////////////////////////////////////////////////*/

    /// A stranger's deposits for the payer touch neither its withdrawal nor its key timers, and
    /// cannot stop the withdrawal.
    function test_DepositFor_NeverResetsTimersOrBlocksWithdraw() public {
        vm.startPrank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        escrow.revokeSigner(signer);
        vm.stopPrank();
        Escrow.Withdrawal memory request = escrow.pendingWithdrawal(payer, address(usdc));
        Escrow.Signer memory key = escrow.signerOf(payer, signer);

        for (uint256 i; i < 3; ++i) {
            vm.warp(block.timestamp + NOTICE / 4);
            vm.prank(anyone);
            escrow.depositFor(payer, address(usdc), 1);
            assertEq(abi.encode(escrow.pendingWithdrawal(payer, address(usdc))), abi.encode(request));
            assertEq(abi.encode(escrow.signerOf(payer, signer)), abi.encode(key));
        }

        vm.warp(request.unlockAt);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), BUDGET);
        assertEq(usdc.balanceOf(payer), BUDGET);
        assertEq(escrow.availableBalance(payer, address(usdc)), 3);
        assertEq(usdc.balanceOf(anyone), BUDGET - 3);
    }

    /// `depositFor` always pulls from the caller: it cannot move the payer's wallet tokens.
    function test_DepositFor_PullsFromCallerNotPayer() public {
        usdc.mint(payer, 500);
        vm.prank(payer);
        usdc.approve(address(escrow), type(uint256).max);
        vm.prank(anyone);
        escrow.depositFor(payer, address(usdc), 500);
        assertEq(usdc.balanceOf(payer), 500);
        assertEq(usdc.balanceOf(anyone), BUDGET - 500);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET + 500);
    }

    /// A junk permit cannot sweep a payer's wallet into the escrow up to an existing allowance
    /// (e.g. an "infinite approval"): when the permit fails, only the payer itself may go on with
    /// its allowance, so a stranger's call reverts and moves nothing.
    function test_RevertWhen_DepositWithPermit_JunkPermitSweepsExistingAllowance() public {
        usdc.mint(payer, 5000);
        vm.prank(payer);
        usdc.approve(address(escrow), type(uint256).max); // a common "infinite approval"

        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_PermitFailed.selector, payer, address(usdc))
        );
        vm.prank(anyone);
        escrow.depositWithPermit(payer, address(usdc), 5000, block.timestamp, 27, bytes32(0), bytes32(0));

        assertEq(usdc.balanceOf(payer), 5000);
        assertEq(usdc.allowance(payer, address(escrow)), type(uint256).max);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(usdc.balanceOf(address(escrow)), BUDGET + CREDIT);
    }

    /// The price of that fix: an observer who front-runs a sponsored (gasless) permit deposit with
    /// the same permit makes the sponsor's call revert. Nothing is lost: the allowance the permit
    /// set stays, and the payer can complete the deposit itself.
    function test_DepositWithPermit_FrontRunPermitRevertsSponsorButPayerCanDeposit() public {
        (address owner_, uint256 ownerKey) = makeAddrAndKey("permit-owner");
        usdc.mint(owner_, 5000);
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
                ),
                owner_,
                address(escrow),
                uint256(5000),
                usdc.nonces(owner_),
                deadline
            )
        );
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(ownerKey, keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash)));

        vm.prank(anyone);
        usdc.permit(owner_, address(escrow), 5000, deadline, v, r, s);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_PermitFailed.selector, owner_, address(usdc))
        );
        vm.prank(relayer);
        escrow.depositWithPermit(owner_, address(usdc), 5000, deadline, v, r, s);
        assertEq(escrow.availableBalance(owner_, address(usdc)), 0);
        assertEq(usdc.allowance(owner_, address(escrow)), 5000);

        vm.prank(owner_);
        escrow.depositWithPermit(owner_, address(usdc), 5000, deadline, v, r, s);
        assertEq(escrow.availableBalance(owner_, address(usdc)), 5000);
        assertEq(usdc.balanceOf(owner_), 0);
    }

    /*//////////////////////////////////////////////////////////////
                                CLAIMS
    //////////////////////////////////////////////////////////////*/

    /// An attacker claims the smallest receipt of a usage key first (the batch holds an older
    /// receipt with cumulative 1). The larger receipt then pays the rest: the payee loses nothing
    /// and the total charged is unchanged.
    function test_Claim_DustClaimFirstDoesNotReduceTotal() public {
        Escrow.Receipt memory dust = receipt(payer, licenseId, RUN, 1);
        Escrow.Receipt memory full = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatch(signerKey, payer, pair(dust, full), 1000 * PRICE);

        vm.prank(anyone);
        assertEq(escrow.claim(root, one(claims[0])), PRICE);
        assertEq(escrow.claim(root, claims), 999 * PRICE);

        (uint256 fee1, uint256 payout1) = split(PRICE, FEE_BPS);
        (uint256 fee999, uint256 payout999) = split(999 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout1 + payout999);
        assertEq(lineIn(payer, relayer, address(usdc)).fees, fee1 + fee999);
        assertEq(escrow.settledSamples(escrow.usageKey(full)), 1000);
        assertEq(reservedOf(payer), 0);
        assertEq(usdc.balanceOf(anyone), BUDGET);
    }

    /// Front-running one leaf of a multi-leaf claim (or including a replayed leaf) does not make
    /// the batch claim revert: that leaf is skipped and the others pay.
    function test_Claim_FrontRunLeafIsSkippedNotReverted() public {
        Escrow.Receipt[] memory receipts = new Escrow.Receipt[](3);
        receipts[0] = receipt(payer, licenseId, keccak256("a"), 100);
        receipts[1] = receipt(payer, licenseId, keccak256("b"), 200);
        receipts[2] = receipt(payer, licenseId, keccak256("c"), 300);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, receipts, 600 * PRICE);

        vm.prank(anyone);
        assertEq(escrow.claim(root, one(claims[1])), 200 * PRICE);

        vm.prank(creator);
        assertEq(escrow.claim(root, claims), 400 * PRICE);
        // And the whole batch again: everything is skipped, nothing reverts, nothing is paid.
        assertEq(escrow.claim(root, claims), 0);

        (uint256 fee200, uint256 payout200) = split(200 * PRICE, FEE_BPS);
        (uint256 fee400, uint256 payout400) = split(400 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout200 + payout400);
        assertEq(lineIn(payer, relayer, address(usdc)).fees, fee200 + fee400);
        assertEq(reservedOf(payer), 0);
    }

    /// Gas sponsoring: anyone may claim, the holder gets the money.
    function test_Claim_ByAnyonePaysHolder() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);
        uint256 before = usdc.balanceOf(anyone);
        vm.prank(anyone);
        assertEq(escrow.claim(root, claims), 1000 * PRICE);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
        assertEq(usdc.balanceOf(anyone), before);
    }

    /// Anyone may also settle directly, release or sweep a line's fees; value only ever goes to the
    /// holder, back to the line's credit or to the platform's fees.
    function test_SettleDirectAndRelease_ByAnyoneOnlyPayHolderOrPayer() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory sig = sign(signerKey, r);
        (bytes32 root,) =
            commitBatch(signerKey, payer, single(receipt(payer, licenseId, RUN_2, 5)), 5000 * PRICE);

        uint256 before = usdc.balanceOf(anyone);
        vm.prank(anyone);
        escrow.settleDirect(r, sig);
        vm.prank(anyone);
        assertEq(escrow.sweepFees(payer, relayer, address(usdc)), 0);
        vm.warp(block.timestamp + CLAIM_WINDOW);
        vm.prank(anyone);
        assertEq(escrow.release(payer, relayer, address(usdc)), 5000 * PRICE);

        (uint256 fee, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(anyone), before);
        assertEq(usdc.balanceOf(creator), payout);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET - 1000 * PRICE);
        assertEq(creditOf(payer), CREDIT);
        assertEq(usdc.balanceOf(address(escrow)), BUDGET + CREDIT - 1000 * PRICE + fee);
        assertConserved(address(usdc), list1(payer));
    }

    /// Issue 12 item 7b: a relayer (or anyone) that releases a 1-wei reservation just before, or
    /// at, the moment the payer's withdrawal unlocks no longer delays it: a release moves reserved
    /// funds back to the line's credit and never touches the available balance or withdrawals.
    /// (The old release pushed an unlocked request a whole notice period out.)
    function test_Release_OneWeiJustBeforeUnlockedWithdrawalNeverDelaysIt() public {
        address other = makeAddr("other-relayer");
        topUpLine(payer, other, address(usdc), 1);
        // Two 1-wei batches: one in `relayer`'s line, one in `other`'s a second later.
        commitAs(relayer, keccak256("dust"), reserveOf(payer, address(usdc), 1));
        uint40 expiresAt = uint40(block.timestamp) + CLAIM_WINDOW;
        vm.warp(block.timestamp + 1);
        commitAs(other, keccak256("dust-2"), reserveOf(payer, address(usdc), 1));
        // The payer's withdrawal unlocks a second after the first batch expires, as the second does.
        vm.warp(expiresAt + 1 - NOTICE);
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        Escrow.Withdrawal memory request = escrow.pendingWithdrawal(payer, address(usdc));
        assertEq(request.unlockAt, expiresAt + 1);

        vm.warp(expiresAt);
        vm.prank(relayer);
        assertEq(escrow.release(payer, relayer, address(usdc)), 1);
        assertEq(abi.encode(escrow.pendingWithdrawal(payer, address(usdc))), abi.encode(request));

        // Again at the unlock itself, in the block of the withdrawal.
        vm.warp(request.unlockAt);
        vm.prank(anyone);
        assertEq(escrow.release(payer, other, address(usdc)), 1);
        assertEq(abi.encode(escrow.pendingWithdrawal(payer, address(usdc))), abi.encode(request));
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), BUDGET);
        assertEq(usdc.balanceOf(payer), BUDGET);
        assertEq(creditOf(payer), CREDIT);
        assertEq(lineIn(payer, other, address(usdc)).credit, 1);

        // Releasing again returns nothing and reverts: nothing is reserved.
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NothingReserved.selector, payer, relayer, address(usdc)
            )
        );
        escrow.release(payer, relayer, address(usdc));
        assertConserved(address(usdc), list1(payer), list2(relayer, other));
    }

    /*//////////////////////////////////////////////////////////////
                           PHANTOM PERMITS
    //////////////////////////////////////////////////////////////*/

    /// Issue 12 item 5: a WETH9-like token has no `permit`, but its fallback accepts the call, so a
    /// permit "succeeds" with any signature. A third party's `depositWithPermit` with a junk
    /// signature must not sweep the payer's standing allowance into the escrow: it reverts with
    /// `PermitFailed` (the token has no nonce that the permit could have used) and moves nothing.
    /// The payer itself may still deposit with its allowance.
    function test_RevertWhen_DepositWithPermit_PhantomPermitOfWethLikeToken() public {
        WethLikeToken weth = new WethLikeToken();
        allowToken(address(weth));
        weth.mint(payer, 5000);
        vm.prank(payer);
        weth.approve(address(escrow), type(uint256).max);

        vm.prank(anyone);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_PermitFailed.selector, payer, address(weth))
        );
        escrow.depositWithPermit(payer, address(weth), 5000, block.timestamp, 27, bytes32(0), bytes32(0));
        assertEq(weth.balanceOf(payer), 5000);
        assertEq(weth.balanceOf(address(escrow)), 0);
        assertEq(escrow.availableBalance(payer, address(weth)), 0);
        assertEq(weth.allowance(payer, address(escrow)), type(uint256).max);

        vm.prank(payer);
        escrow.depositWithPermit(payer, address(weth), 5000, block.timestamp, 27, bytes32(0), bytes32(0));
        assertEq(escrow.availableBalance(payer, address(weth)), 5000);
    }

    /// A token whose permit checks the signature but uses no nonce (`nonces` always 0): even a
    /// genuine permit, which could be a replay of one the owner signed for another deposit, does
    /// not let a third party deposit for the owner; the owner itself can.
    function test_RevertWhen_DepositWithPermit_PermitWithoutNonce() public {
        NoncelessPermitToken npt = new NoncelessPermitToken();
        allowToken(address(npt));
        (address owner_, uint256 ownerKey) = makeAddrAndKey("permit-owner");
        npt.mint(owner_, 5000);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(ownerKey, npt.permitDigest(owner_, address(escrow), 5000, deadline));

        vm.prank(anyone);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_PermitFailed.selector, owner_, address(npt))
        );
        escrow.depositWithPermit(owner_, address(npt), 5000, deadline, v, r, s);
        // Junk fails too.
        vm.prank(anyone);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_PermitFailed.selector, owner_, address(npt))
        );
        escrow.depositWithPermit(owner_, address(npt), 5000, deadline, 27, bytes32(0), bytes32(0));
        assertEq(npt.balanceOf(owner_), 5000);
        assertEq(npt.allowance(owner_, address(escrow)), 0);
        assertEq(escrow.availableBalance(owner_, address(npt)), 0);

        vm.prank(owner_);
        escrow.depositWithPermit(owner_, address(npt), 5000, deadline, v, r, s);
        assertEq(escrow.availableBalance(owner_, address(npt)), 5000);
        assertEq(npt.balanceOf(owner_), 0);
    }
}
