//! Interoperability with independent implementations.
//!
//! `contracts/test/fixtures/interop-viem.json` is made by viem and OpenZeppelin's merkle-tree
//! (`tests/interop/make-fixture.mjs`); this crate must reproduce its digests, leaves and (with
//! the same test keys, since RFC 6979 makes ECDSA deterministic) its signatures, recover its
//! signers and accept its proofs. `interop-rust.json` is made here by this crate and must match
//! what the crate produces now; `contracts/test/unit/Interop.t.sol` has the escrow accept both.
//!
//! Regenerate `interop-rust.json` with
//! `FAIRTRAIN_UPDATE_FIXTURES=1 cargo test -p fairtrain-protocol --test it`.

use std::collections::HashMap;

use alloy::{
    primitives::{address, keccak256, Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use fairtrain_protocol::{leaf, merkle, EscrowDomain, Receipt, ReceiptSignature, ReceiptTree};

use crate::fixture::{
    address_text, hash_text, parse_address, parse_bytes, parse_hash, Fixture, LicenseJson,
    ReceiptJson,
};

const CHAIN_ID: u64 = 31337;
const ESCROW: Address = address!("0x00000000000000000000000000000000000e5c40");

/// A test-only key derived from a public label, as `make-fixture.mjs` derives it.
fn key(label: &str) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256(label)).expect("valid key")
}

/// The fixtures' signing keys by address.
fn known_keys() -> HashMap<Address, PrivateKeySigner> {
    ["fairtrain interop payer A", "fairtrain interop signer B"]
        .into_iter()
        .map(key)
        .map(|k| (k.address(), k))
        .collect()
}

/// Checks every receipt of `fixture` with this crate: digest, signature (recovered signer, and
/// byte equality with our own signature by the same key), leaf, and proof against the root.
fn check_with_crate(name: &str, fixture: &Fixture) {
    let n = fixture.receipts.len();
    assert!(n >= 2, "{name}: too few receipts");
    for (what, len) in [
        ("signers", fixture.signers.len()),
        ("signatures", fixture.signatures.len()),
        ("digests", fixture.digests.len()),
        ("leaves", fixture.leaves.len()),
        ("proofs", fixture.proofs.len()),
    ] {
        assert_eq!(len, n, "{name}: {what} vs receipts");
    }
    assert_eq!(fixture.chain_id, CHAIN_ID);
    let domain = EscrowDomain::new(fixture.chain_id, parse_address(&fixture.verifying_contract));
    let root = parse_hash(&fixture.root);
    let keys = known_keys();

    for i in 0..n {
        let receipt = fixture.receipts[i].to_receipt();
        let digest = domain.digest(&receipt);
        assert_eq!(
            digest,
            parse_hash(&fixture.digests[i]),
            "{name}: digest {i}"
        );

        let signer = parse_address(&fixture.signers[i]);
        let signature = parse_bytes(&fixture.signatures[i]);
        assert_eq!(
            domain.recover(&receipt, &signature).unwrap(),
            signer,
            "{name}: signer {i}"
        );
        domain.verify(&receipt, &signature, signer).unwrap();
        let ours = domain.sign(&keys[&signer], &receipt).unwrap();
        assert_eq!(
            ours.as_bytes().as_slice(),
            signature,
            "{name}: signature {i} (RFC 6979)"
        );

        let leaf = leaf(&digest);
        assert_eq!(leaf, parse_hash(&fixture.leaves[i]), "{name}: leaf {i}");
        let proof: Vec<B256> = fixture.proofs[i].iter().map(|p| parse_hash(p)).collect();
        assert!(merkle::verify(&proof, root, leaf), "{name}: proof {i}");
        // A proof is bound to its leaf.
        let other = parse_hash(&fixture.leaves[(i + 1) % n]);
        assert!(
            !merkle::verify(&proof, root, other),
            "{name}: proof {i} accepts leaf {}",
            i + 1
        );
    }
}

#[test]
fn viem_fixture_is_accepted_by_the_crate() {
    let (fixture, _) = Fixture::load("interop-viem.json");
    assert!(
        fixture.generator.contains("viem"),
        "unexpected generator {}",
        fixture.generator
    );
    check_with_crate("interop-viem.json", &fixture);
}

#[test]
fn viem_signatures_fail_under_another_domain() {
    let (fixture, _) = Fixture::load("interop-viem.json");
    let other = EscrowDomain::new(1, ESCROW);
    for (i, r) in fixture.receipts.iter().enumerate() {
        let signer = parse_address(&fixture.signers[i]);
        let signature = parse_bytes(&fixture.signatures[i]);
        let err = other
            .verify(&r.to_receipt(), &signature, signer)
            .unwrap_err();
        assert!(err.is_invalid_signature(), "receipt {i}: {err}");
    }
}

/// The Rust fixture: six receipts over three licenses, two payers (A signs its own receipts,
/// B through a separate signing key). Receipt 3 repeats receipt 0's count (it adds nothing) and
/// receipt 5 supersedes both. Six leaves give levels of 6, 3, 2 and 1 nodes, so the last node
/// of the 3-node level is carried up without a sibling.
fn rust_fixture() -> Fixture {
    let payer_a = key("fairtrain interop payer A");
    let payer_b = key("fairtrain interop payer B").address();
    let signer_b = key("fairtrain interop signer B");
    let domain = EscrowDomain::new(CHAIN_ID, ESCROW);

    let licenses = [
        (1u64, 1u64, 2_000_000_000_000u128),
        (2, 2, 7_000_000_000),
        (3, 3, 1),
    ];
    let gamma = keccak256("run-gamma");
    let delta = keccak256("run-delta");
    let epsilon = keccak256("run-epsilon");
    let t0 = 1_760_000_000u64;
    let receipt =
        |payer: Address, license: u64, terms: u64, run: B256, count: u64, at: u64| Receipt {
            payer,
            licenseId: U256::from(license),
            termsId: terms,
            runId: run,
            cumulativeSamples: count,
            issuedAt: at,
        };
    let inputs: Vec<(&PrivateKeySigner, Receipt)> = vec![
        (&signer_b, receipt(payer_b, 2, 2, gamma, 10, t0)),
        (
            &payer_a,
            receipt(payer_a.address(), 3, 3, delta, 123_456, t0 + 1),
        ),
        (
            &payer_a,
            receipt(payer_a.address(), 1, 1, delta, 99, t0 + 2),
        ),
        (&signer_b, receipt(payer_b, 2, 2, gamma, 10, t0 + 3)),
        (
            &signer_b,
            receipt(payer_b, 1, 1, epsilon, 3_000_000, t0 + 4),
        ),
        (&signer_b, receipt(payer_b, 2, 2, gamma, 25, t0 + 5)),
    ];

    let mut signatures = Vec::new();
    let mut digests = Vec::new();
    for (signer, r) in &inputs {
        let signature: ReceiptSignature = domain.sign(signer, r).unwrap();
        signatures.push(signature);
        digests.push(domain.digest(r));
    }
    let leaves: Vec<B256> = digests.iter().map(leaf).collect();
    let tree = ReceiptTree::from_leaves(&leaves).unwrap();

    Fixture {
        generator: "protocol/tests/it/interop.rs: fairtrain-protocol (alloy PrivateKeySigner, \
                    rs_merkle ReceiptTree)"
            .to_owned(),
        chain_id: CHAIN_ID,
        verifying_contract: address_text(ESCROW),
        licenses: licenses
            .iter()
            .map(|(id, terms, price)| LicenseJson {
                license_id: id.to_string(),
                terms_id: terms.to_string(),
                price_per_sample: price.to_string(),
            })
            .collect(),
        receipts: inputs
            .iter()
            .map(|(_, r)| ReceiptJson::from_receipt(r))
            .collect(),
        signers: inputs
            .iter()
            .map(|(s, _)| address_text(s.address()))
            .collect(),
        signatures: signatures.iter().map(ToString::to_string).collect(),
        digests: digests.iter().map(hash_text).collect(),
        leaves: leaves.iter().map(hash_text).collect(),
        root: hash_text(tree.root()),
        proofs: (0..leaves.len())
            .map(|i| tree.proof(i).unwrap().iter().map(hash_text).collect())
            .collect(),
    }
}

#[test]
fn rust_fixture_is_up_to_date() {
    let fixture = rust_fixture();
    check_with_crate("generated interop-rust.json", &fixture);
    let text = fixture.to_text();
    let path = Fixture::path("interop-rust.json");
    if std::env::var_os("FAIRTRAIN_UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let (committed, committed_text) = Fixture::load("interop-rust.json");
    assert_eq!(
        committed, fixture,
        "interop-rust.json is stale: rerun with FAIRTRAIN_UPDATE_FIXTURES=1"
    );
    assert_eq!(
        committed_text, text,
        "interop-rust.json is not formatted as generated"
    );
}
