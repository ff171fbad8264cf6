// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {TrainingEscrow} from "../../src/TrainingEscrow.sol";
import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {MockERC20} from "../mocks/MockERC20.sol";
import {EscrowHelpers} from "./TrainingEscrow.Helpers.sol";

/// @dev Takes 1 % of every transfer (burnt), so the recipient receives less than was sent.
contract FeeOnTransferToken is ERC20 {
    constructor() ERC20("Fee Token", "FOT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 cut = value / 100;
            super._update(from, address(0), cut);
            value -= cut;
        }
        super._update(from, to, value);
    }
}

/// @dev Re-enters `deposit` from inside `transferFrom`.
contract ReentrantToken is ERC20 {
    TrainingEscrow internal immutable target;

    constructor(TrainingEscrow target_) ERC20("Reentrant", "RE") {
        target = target_;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        target.deposit(address(this), 1);
        return super.transferFrom(from, to, value);
    }
}

/// @dev A token whose `permit` accepts any signature and does nothing: its nonces never move, so
/// a permit "succeeds" without proving that the payer signed anything.
contract NoOpPermitToken is ERC20 {
    constructor() ERC20("No-op Permit", "NOP") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function permit(address, address, uint256, uint256, uint8, bytes32, bytes32) external pure {}

    function nonces(address) external pure returns (uint256) {
        return 0;
    }
}

/// @dev A token without `permit` or `nonces` whose fallback accepts (and ignores) any call, as
/// some tokens (e.g. WETH9) do.
contract FallbackToken is ERC20 {
    constructor() ERC20("Fallback", "FBK") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    fallback() external {}
}

contract TrainingEscrowDepositTest is EscrowHelpers {
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    uint256 internal constant AMOUNT = 5000e18;

    address internal permitPayer;
    uint256 internal permitPayerKey;

    function setUp() public override {
        super.setUp();
        (permitPayer, permitPayerKey) = makeAddrAndKey("permit-payer");
    }

    function fund(address who, uint256 amount) internal {
        usdc.mint(who, amount);
        vm.prank(who);
        usdc.approve(address(escrow), amount);
    }

    /// @dev An EIP-2612 signature of `permitPayer` over the MockERC20 permit digest.
    function signPermit(uint256 value, uint256 deadline)
        internal
        view
        returns (uint8 v, bytes32 r, bytes32 s)
    {
        bytes32 structHash = keccak256(
            abi.encode(
                PERMIT_TYPEHASH, permitPayer, address(escrow), value, usdc.nonces(permitPayer), deadline
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash));
        (v, r, s) = vm.sign(permitPayerKey, digest);
    }

    /*//////////////////////////////////////////////////////////////
                                 DEPOSIT
    //////////////////////////////////////////////////////////////*/

    function test_Deposit_CreditsCallerAndEmits() public {
        fund(payer, AMOUNT);

        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.Deposited(payer, address(usdc), payer, AMOUNT);
        vm.prank(payer);
        escrow.deposit(address(usdc), AMOUNT);

        assertEq(avail(payer), AMOUNT);
        assertEq(usdc.balanceOf(payer), 0);
        assertEq(escrowBalance(), AMOUNT);
        assertEq(usdc.allowance(payer, address(escrow)), 0);
    }

    function test_Deposit_Accumulates() public {
        fund(payer, 3 * AMOUNT);
        vm.startPrank(payer);
        escrow.deposit(address(usdc), AMOUNT);
        escrow.deposit(address(usdc), 2 * AMOUNT);
        vm.stopPrank();
        assertEq(avail(payer), 3 * AMOUNT);
        assertEq(escrowBalance(), 3 * AMOUNT);
    }

    function test_RevertWhen_Deposit_TokenNotAllowed() public {
        MockERC20 other = new MockERC20("Other", "OTH", 18);
        other.mint(payer, AMOUNT);
        vm.startPrank(payer);
        other.approve(address(escrow), AMOUNT);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_TokenNotAllowed.selector, address(other))
        );
        escrow.deposit(address(other), AMOUNT);
        vm.stopPrank();
    }

    function test_RevertWhen_Deposit_TokenDisallowedAgain() public {
        vm.prank(owner);
        escrow.setTokenAllowed(address(usdc), false);
        fund(payer, AMOUNT);
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_TokenNotAllowed.selector, address(usdc)));
        vm.prank(payer);
        escrow.deposit(address(usdc), AMOUNT);
    }

    function test_RevertWhen_Deposit_ZeroAmount() public {
        fund(payer, AMOUNT);
        vm.expectRevert(Errors.TrainingEscrow_ZeroAmount.selector);
        vm.prank(payer);
        escrow.deposit(address(usdc), 0);
    }

    function test_RevertWhen_Deposit_InsufficientAllowance() public {
        fund(payer, AMOUNT);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(escrow), AMOUNT, AMOUNT + 1
            )
        );
        vm.prank(payer);
        escrow.deposit(address(usdc), AMOUNT + 1);
    }

    function test_RevertWhen_Deposit_FeeOnTransferToken() public {
        FeeOnTransferToken fot = new FeeOnTransferToken();
        vm.prank(owner);
        escrow.setTokenAllowed(address(fot), true);
        fot.mint(payer, 100);
        vm.startPrank(payer);
        fot.approve(address(escrow), 100);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_TransferAmountMismatch.selector, address(fot), uint256(100), uint256(99)
            )
        );
        escrow.deposit(address(fot), 100);
        vm.stopPrank();
    }

    function test_RevertWhen_Deposit_Reentered() public {
        ReentrantToken re = new ReentrantToken(escrow);
        vm.prank(owner);
        escrow.setTokenAllowed(address(re), true);
        re.mint(payer, 100);
        vm.startPrank(payer);
        re.approve(address(escrow), 100);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        escrow.deposit(address(re), 100);
        vm.stopPrank();
    }

    /*//////////////////////////////////////////////////////////////
                               DEPOSIT FOR
    //////////////////////////////////////////////////////////////*/

    function test_DepositFor_CreditsPayerFromCaller() public {
        fund(anyone, AMOUNT);

        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.Deposited(payer, address(usdc), anyone, AMOUNT);
        vm.prank(anyone);
        escrow.depositFor(payer, address(usdc), AMOUNT);

        assertEq(avail(payer), AMOUNT);
        assertEq(avail(anyone), 0);
        assertEq(usdc.balanceOf(anyone), 0);
        assertEq(escrowBalance(), AMOUNT);
    }

    function test_RevertWhen_DepositFor_ZeroPayer() public {
        fund(anyone, AMOUNT);
        vm.expectRevert(Errors.TrainingEscrow_ZeroAddress.selector);
        vm.prank(anyone);
        escrow.depositFor(address(0), address(usdc), AMOUNT);
    }

    function test_RevertWhen_DepositFor_ZeroAmount() public {
        vm.expectRevert(Errors.TrainingEscrow_ZeroAmount.selector);
        vm.prank(anyone);
        escrow.depositFor(payer, address(usdc), 0);
    }

    function test_RevertWhen_DepositFor_TokenNotAllowed() public {
        address token = makeAddr("not-a-token");
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_TokenNotAllowed.selector, token));
        vm.prank(anyone);
        escrow.depositFor(payer, token, AMOUNT);
    }

    /// @dev A third party's deposit must not restart the payer's withdrawal notice nor touch the
    /// revocation time of its keys (otherwise anyone could grief a withdrawal by depositing dust).
    function test_DepositFor_DoesNotTouchPayerTimers() public {
        setUpPayer(payer, signerKey, BUDGET, 0);
        vm.startPrank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        escrow.revokeSigner(signer);
        vm.stopPrank();
        Escrow.Withdrawal memory requestBefore = escrow.pendingWithdrawal(payer, address(usdc));
        Escrow.Signer memory keyBefore = escrow.signerOf(payer, signer);

        vm.warp(block.timestamp + NOTICE / 2);
        fund(anyone, AMOUNT);
        vm.prank(anyone);
        escrow.depositFor(payer, address(usdc), AMOUNT);

        Escrow.Withdrawal memory requestAfter = escrow.pendingWithdrawal(payer, address(usdc));
        Escrow.Signer memory keyAfter = escrow.signerOf(payer, signer);
        assertEq(requestAfter.unlockAt, requestBefore.unlockAt);
        assertEq(requestAfter.amount, requestBefore.amount);
        assertEq(keyAfter.registeredAt, keyBefore.registeredAt);
        assertEq(keyAfter.revokedAt, keyBefore.revokedAt);
        assertEq(avail(payer), BUDGET + AMOUNT);
    }

    /*//////////////////////////////////////////////////////////////
                           DEPOSIT WITH PERMIT
    //////////////////////////////////////////////////////////////*/

    function test_DepositWithPermit_RealSignatureSubmittedByAnyone() public {
        usdc.mint(permitPayer, AMOUNT);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = signPermit(AMOUNT, deadline);

        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.Deposited(permitPayer, address(usdc), permitPayer, AMOUNT);
        vm.prank(anyone);
        escrow.depositWithPermit(permitPayer, address(usdc), AMOUNT, deadline, v, r, s);

        assertEq(avail(permitPayer), AMOUNT);
        assertEq(avail(anyone), 0);
        assertEq(usdc.balanceOf(permitPayer), 0);
        assertEq(escrowBalance(), AMOUNT);
        assertEq(usdc.nonces(permitPayer), 1);
        assertEq(usdc.allowance(permitPayer, address(escrow)), 0);
    }

    /// A permit front-run by an observer (so already used) fails inside the escrow. A third party
    /// submitting it can no longer go on with the allowance the front-run set (that would let
    /// anyone sweep a standing allowance); the payer itself still can.
    function test_DepositWithPermit_FrontRunPermitOnlyPayerCanComplete() public {
        usdc.mint(permitPayer, AMOUNT);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = signPermit(AMOUNT, deadline);

        // An observer of the mempool submits the permit first.
        vm.prank(anyone);
        usdc.permit(permitPayer, address(escrow), AMOUNT, deadline, v, r, s);
        assertEq(usdc.nonces(permitPayer), 1);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_PermitFailed.selector, permitPayer, address(usdc))
        );
        vm.prank(relayer);
        escrow.depositWithPermit(permitPayer, address(usdc), AMOUNT, deadline, v, r, s);
        assertEq(avail(permitPayer), 0);
        assertEq(usdc.balanceOf(permitPayer), AMOUNT);
        assertEq(usdc.allowance(permitPayer, address(escrow)), AMOUNT);
        assertEq(escrowBalance(), 0);

        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.Deposited(permitPayer, address(usdc), permitPayer, AMOUNT);
        vm.prank(permitPayer);
        escrow.depositWithPermit(permitPayer, address(usdc), AMOUNT, deadline, v, r, s);

        assertEq(avail(permitPayer), AMOUNT);
        assertEq(usdc.balanceOf(permitPayer), 0);
        assertEq(usdc.allowance(permitPayer, address(escrow)), 0);
        assertEq(escrowBalance(), AMOUNT);
    }

    function test_RevertWhen_DepositWithPermit_PermitFailsSubmittedByThirdParty() public {
        usdc.mint(permitPayer, AMOUNT);
        uint256 deadline = block.timestamp + 1 hours;
        // Signed for less than the deposit: the permit fails (digest mismatch).
        (uint8 v, bytes32 r, bytes32 s) = signPermit(AMOUNT - 1, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_PermitFailed.selector, permitPayer, address(usdc))
        );
        vm.prank(anyone);
        escrow.depositWithPermit(permitPayer, address(usdc), AMOUNT, deadline, v, r, s);
        assertEq(usdc.nonces(permitPayer), 0);
    }

    function test_RevertWhen_DepositWithPermit_PermitFailsAndNoAllowance() public {
        usdc.mint(permitPayer, AMOUNT);
        uint256 deadline = block.timestamp + 1 hours;
        // Signed for less than the deposit: the permit fails and the payer has no allowance.
        (uint8 v, bytes32 r, bytes32 s) = signPermit(AMOUNT - 1, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(escrow), uint256(0), AMOUNT
            )
        );
        vm.prank(permitPayer);
        escrow.depositWithPermit(permitPayer, address(usdc), AMOUNT, deadline, v, r, s);
    }

    function test_RevertWhen_DepositWithPermit_UsedPermitAndAllowanceTooLow() public {
        usdc.mint(permitPayer, AMOUNT);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = signPermit(AMOUNT, deadline);
        vm.prank(anyone);
        usdc.permit(permitPayer, address(escrow), AMOUNT, deadline, v, r, s);
        // The payer lowers the allowance after the permit was front-run.
        vm.prank(permitPayer);
        usdc.approve(address(escrow), AMOUNT / 2);

        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(escrow), AMOUNT / 2, AMOUNT
            )
        );
        vm.prank(permitPayer);
        escrow.depositWithPermit(permitPayer, address(usdc), AMOUNT, deadline, v, r, s);
    }

    function test_RevertWhen_DepositWithPermit_ExpiredPermit() public {
        usdc.mint(permitPayer, AMOUNT);
        uint256 deadline = block.timestamp - 1;
        (uint8 v, bytes32 r, bytes32 s) = signPermit(AMOUNT, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_PermitFailed.selector, permitPayer, address(usdc))
        );
        vm.prank(anyone);
        escrow.depositWithPermit(permitPayer, address(usdc), AMOUNT, deadline, v, r, s);

        // The payer itself, without an allowance, is stopped by the token.
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(escrow), uint256(0), AMOUNT
            )
        );
        vm.prank(permitPayer);
        escrow.depositWithPermit(permitPayer, address(usdc), AMOUNT, deadline, v, r, s);
    }

    /// A junk signature submitted by someone else cannot move the payer's standing allowance into
    /// the escrow: the permit fails and the deposit reverts, leaving wallet, allowance and escrow
    /// untouched.
    function test_RevertWhen_DepositWithPermit_BogusSignatureCannotSpendStandingAllowance() public {
        fund(payer, AMOUNT);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_PermitFailed.selector, payer, address(usdc))
        );
        vm.prank(anyone);
        escrow.depositWithPermit(payer, address(usdc), AMOUNT, 0, 0, bytes32(0), bytes32(0));
        assertEq(avail(payer), 0);
        assertEq(usdc.balanceOf(payer), AMOUNT);
        assertEq(usdc.allowance(payer, address(escrow)), AMOUNT);
        assertEq(escrowBalance(), 0);
    }

    /// The payer itself may deposit through `depositWithPermit` with its existing allowance, whatever
    /// the permit (as with `deposit`).
    function test_DepositWithPermit_PayerWithAllowanceAndBogusPermit() public {
        fund(payer, AMOUNT);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.Deposited(payer, address(usdc), payer, AMOUNT);
        vm.prank(payer);
        escrow.depositWithPermit(payer, address(usdc), AMOUNT, 0, 0, bytes32(0), bytes32(0));
        assertEq(avail(payer), AMOUNT);
        assertEq(usdc.balanceOf(payer), 0);
    }

    /// @dev Allows `token`, gives `payer` `AMOUNT` of it and a standing allowance to the escrow.
    function fundWeird(ERC20 token) internal {
        vm.prank(owner);
        escrow.setTokenAllowed(address(token), true);
        NoOpPermitToken(address(token)).mint(payer, AMOUNT);
        vm.prank(payer);
        token.approve(address(escrow), AMOUNT);
    }

    /// A permit that goes through but does not use one of the payer's nonces proves nothing: a
    /// third party cannot use it to move the payer's standing allowance in. The payer itself
    /// still deposits with its allowance.
    function test_RevertWhen_DepositWithPermit_NoOpPermitByThirdParty() public {
        NoOpPermitToken token = new NoOpPermitToken();
        fundWeird(token);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_PermitFailed.selector, payer, address(token))
        );
        vm.prank(anyone);
        escrow.depositWithPermit(payer, address(token), AMOUNT, block.timestamp, 27, bytes32(0), bytes32(0));
        assertEq(escrow.availableBalance(payer, address(token)), 0);
        assertEq(token.balanceOf(payer), AMOUNT);
        assertEq(token.allowance(payer, address(escrow)), AMOUNT);

        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.Deposited(payer, address(token), payer, AMOUNT);
        vm.prank(payer);
        escrow.depositWithPermit(payer, address(token), AMOUNT, block.timestamp, 27, bytes32(0), bytes32(0));
        assertEq(escrow.availableBalance(payer, address(token)), AMOUNT);
        assertEq(token.balanceOf(payer), 0);
    }

    /// A token without `permit` whose fallback accepts the call: no nonce to read, so a third
    /// party's call fails with {PermitFailed}; the payer itself still deposits.
    function test_RevertWhen_DepositWithPermit_FallbackTokenByThirdParty() public {
        FallbackToken token = new FallbackToken();
        fundWeird(token);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_PermitFailed.selector, payer, address(token))
        );
        vm.prank(anyone);
        escrow.depositWithPermit(payer, address(token), AMOUNT, block.timestamp, 27, bytes32(0), bytes32(0));
        assertEq(token.allowance(payer, address(escrow)), AMOUNT);

        vm.prank(payer);
        escrow.depositWithPermit(payer, address(token), AMOUNT, block.timestamp, 27, bytes32(0), bytes32(0));
        assertEq(escrow.availableBalance(payer, address(token)), AMOUNT);
    }

    /// The deposit's own checks run before the permit: a bad call fails with its own reason, not
    /// with `PermitFailed`.
    function test_RevertWhen_DepositWithPermit_ZeroAmountCheckedBeforePermit() public {
        vm.expectRevert(Errors.TrainingEscrow_ZeroAmount.selector);
        vm.prank(anyone);
        escrow.depositWithPermit(permitPayer, address(usdc), 0, 0, 0, bytes32(0), bytes32(0));
    }

    function test_RevertWhen_DepositWithPermit_ZeroPayer() public {
        vm.expectRevert(Errors.TrainingEscrow_ZeroAddress.selector);
        vm.prank(anyone);
        escrow.depositWithPermit(
            address(0), address(usdc), AMOUNT, block.timestamp, 27, bytes32(0), bytes32(0)
        );
    }

    function test_RevertWhen_DepositWithPermit_ZeroAmount() public {
        (uint8 v, bytes32 r, bytes32 s) = signPermit(0, block.timestamp + 1);
        vm.expectRevert(Errors.TrainingEscrow_ZeroAmount.selector);
        vm.prank(anyone);
        escrow.depositWithPermit(permitPayer, address(usdc), 0, block.timestamp + 1, v, r, s);
    }

    function test_RevertWhen_DepositWithPermit_TokenNotAllowed() public {
        MockERC20 other = new MockERC20("Other", "OTH", 18);
        other.mint(permitPayer, AMOUNT);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_TokenNotAllowed.selector, address(other))
        );
        vm.prank(anyone);
        escrow.depositWithPermit(
            permitPayer, address(other), AMOUNT, block.timestamp, 27, bytes32(0), bytes32(0)
        );
    }
}
