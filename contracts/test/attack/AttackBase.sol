// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {Base} from "../utils/Base.t.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";

/// @notice Helpers shared by the attack tests: any-token funding and credit lines (including
/// tokens whose `approve` returns nothing), trees built without committing, commits with explicit
/// reservations, and the escrow's conservation sum (available + lines + fees).
abstract contract AttackBase is Base {
    bytes32 internal constant RUN = keccak256("run-1");
    bytes32 internal constant RUN_2 = keccak256("run-2");
    /// @dev The credit line {openPayer} funds for `relayer`.
    uint256 internal constant CREDIT = BUDGET;

    /// @dev secp256k1 group order, for malleability tests.
    uint256 internal constant SECP256K1_N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    /*//////////////////////////////////////////////////////////////
                                TOKENS
    //////////////////////////////////////////////////////////////*/

    /// @dev `defaultTerms` paid in `token`.
    function termsIn(address token) internal view returns (License.Terms memory t) {
        t = defaultTerms();
        t.paymentToken = token;
    }

    /// @dev Mints with `mint(address,uint256)`, which every mock token has.
    function mintTo(address token, address to, uint256 amount) internal {
        (bool ok,) = token.call(abi.encodeWithSignature("mint(address,uint256)", to, amount));
        require(ok, "mint failed");
    }

    /// @dev Approves without decoding a return value (works for USDT-style tokens).
    function approveFrom(address token, address from, address spender, uint256 amount) internal {
        vm.prank(from);
        (bool ok,) = token.call(abi.encodeWithSignature("approve(address,uint256)", spender, amount));
        require(ok, "approve failed");
    }

    function allowToken(address token) internal {
        vm.prank(owner);
        escrow.setTokenAllowed(token, true);
    }

    /// @dev Sets `who` up in `token`: mints and deposits `available + credit`, registers `key` and
    /// funds a credit line of `credit` for `relayer` (none if 0), leaving `available` available.
    function setUpPayerIn(address token, address who, uint256 key, uint256 available, uint256 credit)
        internal
    {
        uint256 amount = available + credit;
        mintTo(token, who, amount);
        approveFrom(token, who, address(escrow), amount);
        vm.startPrank(who);
        escrow.deposit(token, amount);
        escrow.registerSigner(vm.addr(key));
        if (credit != 0) escrow.fundCredit(relayer, token, uint128(credit));
        vm.stopPrank();
    }

    /// @dev {setUpPayerIn} with `amount` available and a line of `amount` for `relayer`.
    function setUpPayerIn(address token, address who, uint256 key, uint256 amount) internal {
        setUpPayerIn(token, who, key, amount, amount);
    }

    /// @dev The attack tests' usual payer: `BUDGET` available and a usdc line of `CREDIT` for
    /// `relayer`.
    function openPayer(address who, uint256 key) internal {
        setUpPayerIn(address(usdc), who, key, BUDGET, CREDIT);
    }

    /// @dev Mints and deposits `amount` more of `token` for `who` and funds the line of `relayer_`
    /// with it (`who`'s available balance is unchanged).
    function topUpLine(address who, address relayer_, address token, uint256 amount) internal {
        mintTo(token, who, amount);
        approveFrom(token, who, address(escrow), amount);
        vm.startPrank(who);
        escrow.deposit(token, amount);
        escrow.fundCredit(relayer_, token, uint128(amount));
        vm.stopPrank();
    }

    /// @dev The line (`who`, `relayer_`, `token`).
    function lineIn(address who, address relayer_, address token)
        internal
        view
        returns (Escrow.CreditLine memory)
    {
        return escrow.creditLine(who, relayer_, token);
    }

    /// @dev What `relayer`'s batches reserved from `who`'s usdc line and did not pay yet.
    function reservedOf(address who) internal view returns (uint256) {
        return escrow.creditLine(who, relayer, address(usdc)).reserved;
    }

    /// @dev What `relayer` may still reserve from `who`'s usdc line.
    function creditOf(address who) internal view returns (uint256) {
        return escrow.creditLine(who, relayer, address(usdc)).credit;
    }

    /// @dev `ReservedNotReleasable` of the line (`who`, `relayer_`, usdc).
    function notReleasable(address who, address relayer_) internal view returns (bytes memory) {
        return abi.encodeWithSelector(
            Errors.TrainingEscrow_ReservedNotReleasable.selector,
            who,
            relayer_,
            address(usdc),
            escrow.creditLine(who, relayer_, address(usdc)).reservedUntil
        );
    }

    /*//////////////////////////////////////////////////////////////
                                BATCHES
    //////////////////////////////////////////////////////////////*/

    function reserveOf(address who, address token, uint128 amount)
        internal
        pure
        returns (Escrow.ReservationRequest[] memory list)
    {
        list = new Escrow.ReservationRequest[](1);
        list[0] = Escrow.ReservationRequest({payer: who, token: token, amount: amount});
    }

    function reserveOf(address whoA, uint128 amountA, address whoB, uint128 amountB)
        internal
        view
        returns (Escrow.ReservationRequest[] memory list)
    {
        list = new Escrow.ReservationRequest[](2);
        list[0] = Escrow.ReservationRequest({payer: whoA, token: address(usdc), amount: amountA});
        list[1] = Escrow.ReservationRequest({payer: whoB, token: address(usdc), amount: amountB});
    }

    /// @dev Commits `root` as `by` with the given reservations.
    function commitAs(address by, bytes32 root, Escrow.ReservationRequest[] memory reservations) internal {
        vm.prank(by);
        escrow.commitBatch(root, 1, keccak256("batch-data"), "ipfs://batch", reservations);
    }

    /// @dev `commitBatch` of Base for any token.
    function commitBatchIn(
        address token,
        uint256 key,
        address who,
        Escrow.Receipt[] memory receipts,
        uint128 reserve
    ) internal returns (bytes32 root, Escrow.Claim[] memory claims) {
        (root, claims) = buildClaims(key, receipts);
        commitAs(relayer, root, reserveOf(who, token, reserve));
    }

    /*//////////////////////////////////////////////////////////////
                             CONSERVATION
    //////////////////////////////////////////////////////////////*/

    /// @dev Σ available of `payers` + Σ credit, reserved funds and fees of every line (payer,
    /// relayer) + accrued fees: what the escrow must hold of `token` if `payers` and `relayers` are
    /// all there is.
    function liabilities(address token, address[] memory payers, address[] memory relayers)
        internal
        view
        returns (uint256 sum)
    {
        for (uint256 p; p < payers.length; ++p) {
            sum += escrow.availableBalance(payers[p], token);
            for (uint256 r; r < relayers.length; ++r) {
                Escrow.CreditLine memory line = escrow.creditLine(payers[p], relayers[r], token);
                sum += uint256(line.credit) + line.reserved + line.fees;
            }
        }
        sum += escrow.accruedFees(token);
    }

    function assertConserved(address token, address[] memory payers, address[] memory relayers)
        internal
        view
    {
        assertEq(
            IERC20(token).balanceOf(address(escrow)),
            liabilities(token, payers, relayers),
            "conservation broken"
        );
    }

    /// @dev {assertConserved} with `relayer` as the only relayer.
    function assertConserved(address token, address[] memory payers) internal view {
        assertConserved(token, payers, list1(relayer));
    }

    function list1(address a) internal pure returns (address[] memory l) {
        l = new address[](1);
        l[0] = a;
    }

    function list2(address a, address b) internal pure returns (address[] memory l) {
        l = new address[](2);
        l[0] = a;
        l[1] = b;
    }

    function list3(address a, address b, address c) internal pure returns (address[] memory l) {
        l = new address[](3);
        l[0] = a;
        l[1] = b;
        l[2] = c;
    }
}

/// @notice {AttackBase} with the usual scene: a license of `creator`'s, and `payer` set up with
/// {openPayer} and accepting its terms (chargeable).
abstract contract LicensedAttackBase is AttackBase {
    uint256 internal licenseId;

    function setUp() public virtual override {
        super.setUp();
        licenseId = mintLicense();
        openPayer(payer, signerKey);
        accept(payer, licenseId);
    }
}

/// @notice {LicensedAttackBase} with a second payer, `payerB` (signing key `keyB`), for the tests
/// to set up as they need.
abstract contract TwoPayerAttackBase is LicensedAttackBase {
    address internal payerB = makeAddr("payerB");
    uint256 internal keyB = 0xB0B;
}
