// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Escrow} from "../../src/types/EscrowTypes.sol";
import {EscrowHelpers} from "./TrainingEscrow.Helpers.sol";

/// @notice The hashing views against values computed here, independently, from the EIP-712 spec
/// and docs/protocol.md (no call into ReceiptLib).
contract TrainingEscrowViewsTest is EscrowHelpers {
    string internal constant RECEIPT_TYPE =
        "Receipt(address payer,uint256 licenseId,uint64 termsId,bytes32 runId,uint64 cumulativeSamples,uint64 issuedAt)";
    string internal constant DOMAIN_TYPE =
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";

    function sample() internal view returns (Escrow.Receipt memory) {
        return Escrow.Receipt({
            payer: payer,
            licenseId: 42,
            termsId: 7,
            runId: keccak256("run-views"),
            cumulativeSamples: 123_456,
            issuedAt: uint64(block.timestamp)
        });
    }

    function domainSeparator() internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256(bytes(DOMAIN_TYPE)),
                keccak256(bytes("Fairtrain TrainingEscrow")),
                keccak256(bytes("1")),
                block.chainid,
                address(escrow)
            )
        );
    }

    function expectedDigest(Escrow.Receipt memory r) internal view returns (bytes32) {
        bytes32 structHash = receiptStructHash(keccak256(bytes(RECEIPT_TYPE)), r);
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function test_ReceiptTypehash_MatchesTypeString() public view {
        assertEq(escrow.RECEIPT_TYPEHASH(), keccak256(bytes(RECEIPT_TYPE)));
    }

    function test_Eip712Domain_MatchesSpec() public view {
        (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        ) = escrow.eip712Domain();
        assertEq(fields, hex"0f");
        assertEq(name, "Fairtrain TrainingEscrow");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(escrow));
        assertEq(salt, bytes32(0));
        assertEq(extensions.length, 0);
    }

    function test_ReceiptDigest_MatchesManualEip712() public view {
        Escrow.Receipt memory r = sample();
        assertEq(escrow.receiptDigest(r), expectedDigest(r));
    }

    function testFuzz_ReceiptDigest_MatchesManualEip712(Escrow.Receipt memory r) public view {
        assertEq(escrow.receiptDigest(r), expectedDigest(r));
    }

    function test_ReceiptDigest_BindsChainId() public {
        Escrow.Receipt memory r = sample();
        bytes32 before = escrow.receiptDigest(r);
        vm.chainId(block.chainid + 1);
        bytes32 afterFork = escrow.receiptDigest(r);
        assertTrue(afterFork != before);
        assertEq(afterFork, expectedDigest(r));
    }

    function test_ReceiptDigest_ChangesWithEveryField() public view {
        Escrow.Receipt memory r = sample();
        bytes32 base = escrow.receiptDigest(r);
        Escrow.Receipt memory m = sample();
        m.payer = anyone;
        assertTrue(escrow.receiptDigest(m) != base);
        m = sample();
        m.licenseId += 1;
        assertTrue(escrow.receiptDigest(m) != base);
        m = sample();
        m.termsId += 1;
        assertTrue(escrow.receiptDigest(m) != base);
        m = sample();
        m.runId = bytes32(0);
        assertTrue(escrow.receiptDigest(m) != base);
        m = sample();
        m.cumulativeSamples += 1;
        assertTrue(escrow.receiptDigest(m) != base);
        m = sample();
        m.issuedAt += 1;
        assertTrue(escrow.receiptDigest(m) != base);
    }

    function test_ReceiptDigest_SignatureOverManualDigestSettles() public {
        uint256 licenseId = mintLicense();
        setUpPayer(payer, signerKey, BUDGET);
        accept(payer, licenseId);
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 10);
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(signerKey, expectedDigest(r));
        vm.prank(anyone);
        assertEq(escrow.settleDirect(r, abi.encodePacked(rr, s, v)), 10 * PRICE);
    }

    function test_ReceiptLeaf_IsDoubleHashedDigest() public view {
        Escrow.Receipt memory r = sample();
        bytes32 digest = expectedDigest(r);
        assertEq(escrow.receiptLeaf(r), keccak256(bytes.concat(keccak256(abi.encode(digest)))));
    }

    function testFuzz_ReceiptLeaf_IsDoubleHashedDigest(Escrow.Receipt memory r) public view {
        assertEq(escrow.receiptLeaf(r), keccak256(bytes.concat(keccak256(abi.encode(expectedDigest(r))))));
    }

    function test_UsageKey_IgnoresCountAndTime() public view {
        Escrow.Receipt memory r = sample();
        bytes32 expected = keccak256(abi.encode(r.payer, r.licenseId, r.termsId, r.runId));
        assertEq(escrow.usageKey(r), expected);
        r.cumulativeSamples = 1;
        r.issuedAt = 1;
        assertEq(escrow.usageKey(r), expected);
        r.runId = keccak256("other-run");
        assertTrue(escrow.usageKey(r) != expected);
    }

    function test_Constants() public view {
        assertEq(escrow.MAX_FEE_BPS(), 1000);
        assertEq(escrow.MIN_NOTICE_PERIOD(), 1 hours);
        assertEq(escrow.MAX_NOTICE_PERIOD(), 30 days);
        assertEq(escrow.MIN_CLAIM_WINDOW(), 1 days);
        assertEq(escrow.MAX_CLAIM_WINDOW(), 365 days);
    }

    function test_Getters_InitialState() public view {
        assertEq(address(escrow.licenses()), address(nft));
        assertEq(escrow.feeBps(), FEE_BPS);
        assertEq(escrow.noticePeriod(), NOTICE);
        assertEq(escrow.claimWindow(), CLAIM_WINDOW);
        assertTrue(escrow.isTokenAllowed(address(usdc)));
        assertFalse(escrow.isTokenAllowed(address(nft)));
        assertEq(escrow.availableBalance(payer, address(usdc)), 0);
        assertEq(escrow.accruedFees(address(usdc)), 0);
        Escrow.CreditLine memory line = escrow.creditLine(payer, relayer, address(usdc));
        assertEq(line.credit, 0);
        assertEq(line.reserved, 0);
        assertEq(line.fees, 0);
        assertEq(line.reservedUntil, 0);
        Escrow.CreditReduction memory cut = escrow.creditReduction(payer, relayer, address(usdc));
        assertEq(cut.amount, 0);
        assertEq(cut.effectiveAt, 0);
        assertEq(escrow.settledSamples(bytes32(0)), 0);

        Escrow.Withdrawal memory w = escrow.pendingWithdrawal(payer, address(usdc));
        assertEq(w.amount, 0);
        assertEq(w.unlockAt, 0);
        Escrow.Signer memory k = escrow.signerOf(payer, signer);
        assertEq(k.registeredAt, 0);
        assertEq(k.revokedAt, 0);
        Escrow.Acceptance memory a = escrow.acceptance(payer, 1, 1);
        assertEq(a.acceptedAt, 0);
        assertEq(a.token, address(0));
        Escrow.Reservation memory res = escrow.reservation(keccak256("x"), payer, address(usdc));
        assertEq(res.relayer, address(0));
        assertEq(res.committedAt, 0);
        assertEq(res.expiresAt, 0);
    }
}
