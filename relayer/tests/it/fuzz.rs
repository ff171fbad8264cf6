//! Property tests of the decoding paths the HTTP handlers run (`decode_one` for
//! `POST /v1/receipts`, `decode_bulk` for `POST /v1/receipts/bulk`): arbitrary bytes and mutated
//! receipts never panic, every refusal is a `malformed` rejection, valid receipts round-trip;
//! and the bulk handler itself, behind its body and bulk limits, answers every body as the
//! decoder and the limits say.

use alloy::{
    primitives::{keccak256, Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use fairtrain_protocol::{wire::SignedReceipt, EscrowDomain, Receipt};
use fairtrain_relayer::api::{decode_bulk, decode_one};
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;

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

/// Body and bulk limits of the relayer behind [`handler`].
const MAX_BODY: usize = 2_048;
const MAX_BULK: usize = 6;

/// A relayer started in-process on a fresh SQLite store, with no node behind it (it serves from
/// an empty checkpoint), and a runtime to drive its router from synchronous proptest cases.
fn handler() -> &'static (
    tokio::runtime::Runtime,
    axum::Router,
    crate::support::TestDb,
) {
    static APP: std::sync::OnceLock<(
        tokio::runtime::Runtime,
        axum::Router,
        crate::support::TestDb,
    )> = std::sync::OnceLock::new();
    APP.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let db = crate::support::TestDb::new(crate::support::Db::Sqlite);
        let mut cfg = crate::support::config_for(
            "http://127.0.0.1:1",
            Address::repeat_byte(7),
            Address::repeat_byte(8),
            &db,
        );
        cfg.limits.max_body_bytes = MAX_BODY;
        cfg.limits.max_bulk = MAX_BULK;
        let running = rt
            .block_on(fairtrain_relayer::service::start(&cfg))
            .unwrap();
        let router = fairtrain_relayer::api::router(running.app.clone());
        // The background tasks live as long as the runtime.
        std::mem::forget(running);
        (rt, router, db)
    })
}

/// `POST /v1/receipts/bulk` with `body` through the router: status and JSON answer.
fn post_bulk(body: Vec<u8>) -> (u16, Value) {
    let (rt, router, _) = handler();
    rt.block_on(async {
        let request = axum::http::Request::post("/v1/receipts/bulk")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    })
}

/// A bulk body: an array of arbitrary values and valid receipts (sometimes more than the bulk
/// limit, sometimes more bytes than the body limit), or arbitrary bytes.
fn bulk_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(
            prop_oneof![json_value(), Just(serde_json::to_value(valid()).unwrap())],
            0..(MAX_BULK + 3),
        )
        .prop_map(|items| serde_json::to_vec(&Value::Array(items)).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..(MAX_BODY + 512)),
        1 => (0usize..(MAX_BODY + 512)).prop_map(|n| {
            // An array padded with whitespace to about n bytes: valid JSON of any size.
            let mut body = b"[".to_vec();
            body.extend(std::iter::repeat_n(b' ', n));
            body.push(b']');
            body
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The handler answers exactly as its limits and its decoder say: 413 `body_too_large` past
    /// the body limit, else the decoder's error, else one result per item, `malformed` exactly
    /// for the items the decoder refuses (the others reach verification: no key of this empty
    /// chain signed them).
    #[test]
    fn bulk_handler_applies_its_limits_and_its_decoder(body in bulk_body()) {
        let expected = decode_bulk(&body, MAX_BULK);
        let len = body.len();
        let (status, answer) = post_bulk(body);
        if len > MAX_BODY {
            prop_assert_eq!(status, 413);
            prop_assert_eq!(&answer["error"]["code"], "body_too_large");
            return Ok(());
        }
        match expected {
            Err(e) => {
                prop_assert_eq!(status, e.status().as_u16());
                prop_assert_eq!(answer["error"]["code"].as_str(), Some(e.code()));
            }
            Ok(items) => {
                prop_assert_eq!(status, 200, "{}", answer);
                let results = answer["results"].as_array().unwrap();
                prop_assert_eq!(results.len(), items.len());
                prop_assert_eq!(answer["accepted"].as_u64(), Some(0));
                for (item, result) in items.iter().zip(results) {
                    prop_assert_eq!(&result["status"], "rejected");
                    let code = result["code"].as_str().unwrap();
                    prop_assert_eq!(item.is_err(), code == "malformed", "{}", result);
                }
            }
        }
    }
}
