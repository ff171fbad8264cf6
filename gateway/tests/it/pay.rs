//! Pay per access against a real relayer (`fairtrain-relayer serve`): under terms priced per
//! access, a grant needs the receipt of that access, stored by the relayer first. Without one,
//! with one for another access, with one the relayer refuses, or with the relayer down, nothing
//! is granted; a paid access is granted once; terms priced per sample need no receipt.

use alloy::{
    primitives::{B256, U256},
    providers::Provider,
};
use fairtrain_gateway::api::Limits;
use fairtrain_protocol::{
    api::{gateway::Grant, relayer::Claimable},
    gateway::{AccessCall, AccessRequest, Signed},
    pricing::{access_run_id, Unit},
    DatasetManifest, EscrowDomain, Receipt, SignedReceipt,
};
use fairtrain_testkit::{
    address,
    devnet::NOTICE,
    key,
    relayer::{status_at, RelayerProcess},
    scenario::{self, ACCESS_PRICE, CREATOR, PAYER, TRAINING},
    Backend, Devnet, TestDb,
};

use crate::harness::{code, nonce, now, post, start_with_relayer, Gateway, Storage};

/// A signed access request of the payer's training key for `license`'s dataset.
fn request(gateway: &Gateway, license: U256, terms: u64, m: B256) -> Signed<AccessRequest> {
    Signed::sign(
        &gateway.domain,
        &key(TRAINING),
        AccessRequest {
            gateway: gateway.url.clone(),
            payer: address(PAYER),
            license_id: license,
            terms_id: terms,
            manifest_hash: m,
            expires_at: now() + 300,
            nonce: nonce(),
        },
    )
    .unwrap()
}

/// The receipt of access `signed`, signed by `signer`, counting `count`.
fn receipt_for(
    devnet: &Devnet,
    signed: &Signed<AccessRequest>,
    gateway: &Gateway,
    signer: usize,
    count: u64,
) -> SignedReceipt {
    let r = &signed.request;
    let domain = EscrowDomain::new(31337, devnet.deployment.training_escrow);
    let receipt = Receipt {
        payer: r.payer,
        licenseId: r.license_id,
        termsId: r.terms_id,
        runId: access_run_id(signed.digest(&gateway.domain)),
        cumulativeSamples: count,
        issuedAt: now(),
    };
    SignedReceipt::sign(&domain, &key(signer), &receipt).unwrap()
}

async fn ask(gateway: &Gateway, call: &AccessCall) -> (u16, serde_json::Value) {
    post(
        &gateway.url,
        "/v1/access",
        &serde_json::to_value(call).unwrap(),
    )
    .await
}

async fn relayer_get<T: serde::de::DeserializeOwned>(relayer: &RelayerProcess, path: &str) -> T {
    reqwest::get(format!("{}{path}", relayer.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_access_priced_per_access_is_granted_only_once_its_receipt_is_stored() {
    let devnet = Devnet::start().await;
    let per_sample = scenario::licensed_payer(&devnet).await;
    let paid = scenario::access_priced(&devnet).await;
    let parse =
        |path: &std::path::Path| DatasetManifest::parse(&std::fs::read(path).unwrap()).unwrap();
    let (paid_manifest, sample_manifest) = (parse(&paid.manifest), parse(&per_sample.manifest));
    let store = TestDb::new(Backend::Sqlite);
    let mut relayer = RelayerProcess::start_ready(&devnet, &store).await;
    let start = |relayer: Option<String>| {
        start_with_relayer(
            Backend::Sqlite,
            Storage::Local,
            &devnet.url,
            devnet.deployment.license_nft,
            devnet.deployment.training_escrow,
            Limits::default(),
            relayer,
        )
    };
    let gateway = start(Some(relayer.url.clone())).await;
    for (m, data) in [
        (&paid_manifest, &paid.data),
        (&sample_manifest, &per_sample.data),
    ] {
        gateway
            .client
            .publish(m, data, &key(CREATOR))
            .await
            .unwrap();
    }
    let hash = paid_manifest.hash();
    let call = AccessCall::new;

    // In the acceptance's notice period: refused before any receipt is looked at.
    let signed = request(&gateway, paid.license, paid.terms, hash);
    let receipt = receipt_for(&devnet, &signed, &gateway, TRAINING, 1);
    let (status, answer) = ask(&gateway, &call(signed, Some(receipt))).await;
    assert_eq!(
        (status, code(&answer)),
        (403, "not_chargeable_yet"),
        "{answer}"
    );

    devnet.advance(NOTICE + 1).await;
    relayer
        .wait_followed(devnet.provider.get_block_number().await.unwrap())
        .await;
    let relayer_url = relayer.url.clone();
    let stored = || async { status_at(&relayer_url).await.receipts.values().sum::<i64>() };

    // No receipt: 402, saying which run id the receipt must carry.
    let signed = request(&gateway, paid.license, paid.terms, hash);
    let run = access_run_id(signed.digest(&gateway.domain));
    let (status, answer) = ask(&gateway, &call(signed.clone(), None)).await;
    assert_eq!(
        (status, code(&answer)),
        (402, "receipt_required"),
        "{answer}"
    );
    assert!(answer.to_string().contains(&run.to_string()), "{answer}");

    // The receipt of another access, or one counting two: refused, and the relayer never sees it.
    let other = request(&gateway, paid.license, paid.terms, hash);
    for wrong in [
        receipt_for(&devnet, &other, &gateway, TRAINING, 1),
        receipt_for(&devnet, &signed, &gateway, TRAINING, 2),
    ] {
        let (status, answer) = ask(&gateway, &call(signed.clone(), Some(wrong))).await;
        assert_eq!(
            (status, code(&answer)),
            (400, "receipt_mismatch"),
            "{answer}"
        );
    }
    // Signed by a key the payer never registered: the relayer refuses it, nothing is granted.
    let forged = receipt_for(&devnet, &signed, &gateway, 3, 1);
    let (status, answer) = ask(&gateway, &call(signed.clone(), Some(forged))).await;
    assert_eq!(
        (status, code(&answer)),
        (402, "payment_refused"),
        "{answer}"
    );
    assert_eq!(stored().await, 0, "no receipt stored so far");

    // The relayer down: 503, and the same request is granted once it is back.
    let receipt = receipt_for(&devnet, &signed, &gateway, TRAINING, 1);
    relayer.kill();
    let (status, answer) = ask(&gateway, &call(signed.clone(), Some(receipt.clone()))).await;
    assert_eq!(
        (status, code(&answer)),
        (503, "relayer_unavailable"),
        "{answer}"
    );
    relayer.spawn(None);
    relayer.wait_ready(60).await;
    let paid_call = call(signed.clone(), Some(receipt.clone()));
    let (status, answer) = ask(&gateway, &paid_call).await;
    assert_eq!(status, 200, "{answer}");
    let grant: Grant = serde_json::from_value(answer).unwrap();
    let domain = EscrowDomain::new(31337, devnet.deployment.training_escrow);
    let digest = domain.digest(&receipt.receipt());
    assert_eq!((grant.unit, grant.receipt), (Unit::Access, Some(digest)));
    let held: Claimable = relayer_get(&relayer, &format!("/v1/receipts/{digest}")).await;
    assert_eq!(
        held.amount,
        U256::from(ACCESS_PRICE),
        "one access at the price"
    );
    assert_eq!(stored().await, 1);
    // The public log names the receipt that paid for the grant.
    let log = gateway.client.accesses(0, 100).await.unwrap();
    let logged = log
        .accesses
        .iter()
        .find(|e| e.access_id == grant.access_id)
        .expect("the grant is logged");
    assert_eq!(
        (logged.kind.as_str(), logged.receipt),
        ("grant", Some(digest))
    );
    // Granted once: the same call again is a replay, and pays nothing more.
    let (status, answer) = ask(&gateway, &paid_call).await;
    assert_eq!((status, code(&answer)), (409, "replayed"), "{answer}");
    assert_eq!(stored().await, 1);

    // The client pays each access with a receipt of its own.
    let grant = gateway
        .client
        .access_under(
            &key(TRAINING),
            address(PAYER),
            paid.license,
            paid.terms,
            hash,
            Unit::Access,
        )
        .await
        .unwrap();
    assert!(grant.receipt.is_some_and(|r| r != digest));
    assert_eq!(stored().await, 2);

    // Terms priced per sample: granted without a receipt, and none is sent.
    let grant = gateway
        .client
        .access(
            &key(TRAINING),
            address(PAYER),
            per_sample.license,
            per_sample.terms,
            sample_manifest.hash(),
        )
        .await
        .unwrap();
    assert_eq!((grant.unit, grant.receipt), (Unit::Sample, None));
    assert_eq!(stored().await, 2);

    // A gateway with no relayer does not serve the per-access dataset.
    let unpaid = start(None).await;
    unpaid
        .client
        .publish(&paid_manifest, &paid.data, &key(CREATOR))
        .await
        .unwrap();
    let signed = request(&unpaid, paid.license, paid.terms, hash);
    let receipt = receipt_for(&devnet, &signed, &unpaid, TRAINING, 1);
    let (status, answer) = ask(&unpaid, &call(signed, Some(receipt))).await;
    assert_eq!((status, code(&answer)), (503, "no_relayer"), "{answer}");
}
