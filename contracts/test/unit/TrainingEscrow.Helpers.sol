// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Vm} from "forge-std/Vm.sol";

import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {Base} from "../utils/Base.t.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";

/// @notice Helpers shared by the TrainingEscrow unit and fuzz tests, on top of {Base}: a second
/// payer and key, multi-payer/multi-key batches, licenses with chosen terms, and log counting.
abstract contract EscrowHelpers is Base {
    /// @dev secp256k1 group order, to build malleable (high-s) signatures.
    uint256 internal constant SECP256K1_N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    bytes32 internal constant RUN = keccak256("run-1");
    bytes32 internal constant DATA_HASH = keccak256("batch-data");
    /// @dev What `setUpPayer(who, key, BUDGET)` puts on `who`'s line for `relayer`; the rest is
    /// available.
    uint256 internal constant CREDIT = BUDGET / 2;
    uint256 internal constant AVAILABLE = BUDGET - CREDIT;

    address internal payer2 = makeAddr("payer2");
    address internal creator2 = makeAddr("creator2");
    address internal buyer = makeAddr("buyer");
    uint256 internal signerKey2 = 0xB0B;
    address internal signer2;

    function setUp() public virtual override {
        super.setUp();
        signer2 = vm.addr(signerKey2);
        vm.label(signer2, "signer2");
    }

    /*//////////////////////////////////////////////////////////////
                               LICENSES
    //////////////////////////////////////////////////////////////*/

    /// @dev Mints a license to `to` with the default terms changed in price, cap and expiry.
    function mintTerms(address to, uint96 price, uint64 maxSamples, uint40 expiresAt, string memory manifest)
        internal
        returns (uint256 id)
    {
        License.Terms memory t = defaultTerms();
        t.pricePerSample = price;
        t.maxSamples = maxSamples;
        t.expiresAt = expiresAt;
        id = mintLicense(to, t, keccak256(bytes(manifest)));
    }

    /// @dev Mints a fresh license to `creator2` and has `payer` accept it now, without waiting.
    function acceptFresh() internal returns (uint256 id, uint64 tid, uint40 chargeableFrom) {
        id = mintTerms(creator2, PRICE, 0, 0, "manifest-fresh");
        tid = termsOf(id);
        vm.prank(payer);
        escrow.acceptTerms(id, tid);
        chargeableFrom = escrow.acceptance(payer, id, tid).chargeableFrom;
        assertEq(chargeableFrom, uint40(block.timestamp) + NOTICE);
    }

    function termsOf(uint256 licenseId) internal view returns (uint64 termsId) {
        (termsId,) = nft.currentTerms(licenseId);
    }

    /*//////////////////////////////////////////////////////////////
                                BALANCES
    //////////////////////////////////////////////////////////////*/

    function avail(address who) internal view returns (uint256) {
        return escrow.availableBalance(who, address(usdc));
    }

    /// @dev The reserved pool of `who`'s usdc line for `relayer` (shared by all its batches).
    function reservedOf(address who) internal view returns (uint256) {
        return escrow.creditLine(who, relayer, address(usdc)).reserved;
    }

    /// @dev The credit (not yet reserved) of `who`'s usdc line for `relayer`.
    function creditOf(address who) internal view returns (uint256) {
        return escrow.creditLine(who, relayer, address(usdc)).credit;
    }

    /// @dev The unswept fees of `who`'s usdc line for `relayer`.
    function lineFees(address who) internal view returns (uint256) {
        return escrow.creditLine(who, relayer, address(usdc)).fees;
    }

    /// @dev Everything `who`'s usdc line for `relayer` holds: credit, reserved and unswept fees.
    function lineTotal(address who) internal view returns (uint256) {
        Escrow.CreditLine memory line = escrow.creditLine(who, relayer, address(usdc));
        return uint256(line.credit) + line.reserved + line.fees;
    }

    function fees() internal view returns (uint256) {
        return escrow.accruedFees(address(usdc));
    }

    /// @dev All platform fees: accrued, plus those still on the usdc lines of `payer` and `payer2`
    /// for `relayer` (claims leave their fee on the line until a sweep or release).
    function allFees() internal view returns (uint256) {
        return fees() + lineFees(payer) + lineFees(payer2);
    }

    function escrowBalance() internal view returns (uint256) {
        return usdc.balanceOf(address(escrow));
    }

    /*//////////////////////////////////////////////////////////////
                                BATCHES
    //////////////////////////////////////////////////////////////*/

    /// @dev Commits `root` as `relayer` with the given reservations.
    function commitRoot(bytes32 root, Escrow.ReservationRequest[] memory reservations) internal {
        commitAs(relayer, root, reservations);
    }

    /// @dev Commits `root` as `relayer_` (any relayer) with the given reservations.
    function commitAs(address relayer_, bytes32 root, Escrow.ReservationRequest[] memory reservations)
        internal
    {
        vm.prank(relayer_);
        escrow.commitBatch(root, 1, DATA_HASH, "ipfs://batch", reservations);
    }

    function reserveFrom(address who, uint256 amount)
        internal
        view
        returns (Escrow.ReservationRequest[] memory list)
    {
        list = new Escrow.ReservationRequest[](1);
        list[0] = Escrow.ReservationRequest({payer: who, token: address(usdc), amount: uint128(amount)});
    }

    function reserveFrom(address a, uint256 amountA, address b, uint256 amountB)
        internal
        view
        returns (Escrow.ReservationRequest[] memory list)
    {
        list = new Escrow.ReservationRequest[](2);
        list[0] = Escrow.ReservationRequest({payer: a, token: address(usdc), amount: uint128(amountA)});
        list[1] = Escrow.ReservationRequest({payer: b, token: address(usdc), amount: uint128(amountB)});
    }

    function claimAs(address who, bytes32 root, Escrow.Claim[] memory claims)
        internal
        returns (uint256 paid)
    {
        vm.prank(who);
        paid = escrow.claim(root, claims);
    }

    function triple(Escrow.Receipt memory a, Escrow.Receipt memory b, Escrow.Receipt memory c)
        internal
        pure
        returns (Escrow.Receipt[] memory list)
    {
        list = new Escrow.Receipt[](3);
        list[0] = a;
        list[1] = b;
        list[2] = c;
    }

    /// @dev Expects the escrow to emit `UsageSettled` next for receipt `r` of batch `root` (0 for a
    /// direct settlement): `payee` paid `amount`, of which `fee` is the fee, for `charged` samples.
    function expectUsageSettled(
        bytes32 root,
        Escrow.Receipt memory r,
        address payee,
        uint64 charged,
        uint256 amount,
        uint256 fee
    ) internal {
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.UsageSettled(
            root,
            escrow.usageKey(r),
            payee,
            r.payer,
            r.licenseId,
            r.termsId,
            address(usdc),
            r.cumulativeSamples,
            charged,
            amount,
            fee
        );
    }

    /*//////////////////////////////////////////////////////////////
                               SIGNATURES
    //////////////////////////////////////////////////////////////*/

    /// @dev The (r, s, v) of a 65-byte signature.
    function splitSignature(bytes memory sig) internal pure returns (bytes32 r, bytes32 s, uint8 v) {
        assembly {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
            v := byte(0, mload(add(sig, 0x60)))
        }
    }

    /// @dev The malleable twin (s' = n - s, v flipped) of a valid 65-byte signature.
    function highS(bytes memory sig) internal pure returns (bytes memory) {
        (bytes32 r, bytes32 s, uint8 v) = splitSignature(sig);
        return abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
    }

    /// @dev What `ecrecover` makes of `sig` over `digest` (address(0) when nothing).
    function recoverSigner(bytes32 digest, bytes memory sig) internal pure returns (address) {
        (bytes32 r, bytes32 s, uint8 v) = splitSignature(sig);
        return ecrecover(digest, v, r, s);
    }

    /*//////////////////////////////////////////////////////////////
                                  LOGS
    //////////////////////////////////////////////////////////////*/

    /// @dev Counts logs recorded since `vm.recordLogs()` with topic0 `selector` from the escrow.
    function countEscrowLogs(bytes32 selector) internal returns (uint256 n) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (
                logs[i].emitter == address(escrow) && logs[i].topics.length != 0
                    && logs[i].topics[0] == selector
            ) {
                ++n;
            }
        }
    }
}

/// @notice {EscrowHelpers} with the usual scene: a license of `creator`'s, and `payer` set up with
/// `setUpPayer(payer, signerKey, BUDGET)` (half on `relayer`'s line) and accepting its terms
/// (chargeable).
abstract contract LicensedEscrowTest is EscrowHelpers {
    uint256 internal licenseId;

    function setUp() public virtual override {
        super.setUp();
        licenseId = mintLicense();
        setUpPayer(payer, signerKey, BUDGET);
        accept(payer, licenseId);
    }
}
