//! Property tests of the decoding paths: arbitrary bytes and mutated receipts never panic, and
//! every refusal is a `malformed` rejection; valid receipts round-trip.

use alloy::{
    primitives::{keccak256, Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use fairtrain_protocol::{wire::SignedReceipt, EscrowDomain, Receipt};
use fairtrain_relayer::api::{decode_bulk, decode_one};
use proptest::prelude::*;
use serde_json::{json, Value};

fn valid() -> SignedReceipt {
    static VALID: std::sync::OnceLock<SignedReceipt> = std::sync::OnceLock::new();
    VALID.get_or_init(sign_valid).clone()
}

fn sign_valid() -> SignedReceipt {
    let key = PrivateKeySigner::from_bytes(&keccak256("fuzz key")).unwrap();
    let domain = EscrowDomain::new(31337, Address::repeat_byte(7));
    let receipt = Receipt {
        payer: Address::repeat_byte(1),
        licenseId: U256::from(1),
        termsId: 1,
        runId: B256::repeat_byte(2),
        cumulativeSamples: 10,
        issuedAt: 1_750_000_000,
    };
    SignedReceipt::sign(&domain, &key, &receipt).unwrap()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,80}".prop_map(Value::String),
        "0x[0-9a-fA-F]{0,140}".prop_map(Value::String),
        "[0-9]{0,90}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FIELDS: [&str; 8] = [
    "payer",
    "licenseId",
    "termsId",
    "runId",
    "cumulativeSamples",
    "issuedAt",
    "signature",
    "extra",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = decode_one(&bytes) {
            prop_assert_eq!(e.code(), "malformed");
        }
        if let Err(e) = decode_bulk(&bytes, 100) {
            prop_assert!(e.code() == "malformed" || e.code() == "too_many_receipts");
        }
    }

    #[test]
    fn mutated_receipts_are_malformed_or_exact(field in 0usize..FIELDS.len(), value in json_value()) {
        let mut v = serde_json::to_value(valid()).unwrap();
        v[FIELDS[field]] = value;
        let bytes = serde_json::to_vec(&v).unwrap();
        match decode_one(&bytes) {
            // Whatever decodes re-encodes to the same receipt.
            Ok(r) => {
                let again: SignedReceipt = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
                prop_assert_eq!(again, r);
            }
            Err(e) => prop_assert_eq!(e.code(), "malformed"),
        }
    }

    #[test]
    fn bulk_keeps_one_outcome_per_item(items in prop::collection::vec(prop_oneof![json_value(), Just(serde_json::to_value(valid()).unwrap())], 0..20)) {
        let bytes = serde_json::to_vec(&Value::Array(items.clone())).unwrap();
        let decoded = decode_bulk(&bytes, 100).unwrap();
        prop_assert_eq!(decoded.len(), items.len());
        for (item, d) in items.iter().zip(decoded) {
            if *item == serde_json::to_value(valid()).unwrap() {
                prop_assert_eq!(d.unwrap(), valid());
            }
        }
    }
}

#[test]
fn valid_receipt_decodes() {
    let bytes = serde_json::to_vec(&valid()).unwrap();
    assert_eq!(decode_one(&bytes).unwrap(), valid());
    assert!(decode_bulk(&serde_json::to_vec(&vec![valid(); 3]).unwrap(), 2).is_err());
}
