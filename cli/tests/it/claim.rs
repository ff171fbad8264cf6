//! `creator claim` from published batch data: a relayer account commits two batches (as the
//! relayer would, with `commitBatch`) reserving from the credit line the payer funded for it,
//! the creator claims from the documents alone, oldest batch first, to the unit, and the line's
//! reserved pool is spent exactly; a second claim finds everything settled; a batch that
//! reserved too little is skipped before any gas is spent, as are a tampered document and an
//! uncommitted root. Behind a node that refuses wide `eth_getLogs` ranges, every command that
//! reads events answers what it answers directly.

use std::path::Path;

use alloy::{
    primitives::{keccak256, Address, U256},
    signers::local::PrivateKeySigner,
};
use fairtrain_cli::{
    cmd::{
        claim::{self, ClaimArgs},
        payer::{self, AcceptArgs, CreditAmountArgs, CreditCmd, DepositArgs, LineArgs, SignerCmd},
    },
    Chain, CliError,
};
use fairtrain_protocol::{
    batch::{data_hash, Reservation},
    bindings::Escrow,
    BatchData, EscrowDomain, SignedReceipt,
};

use fairtrain_testkit::proxy::RangeLimitProxy;

use crate::{
    binary::json,
    flow::amount,
    royalties::{mint, wallet},
    support::{key, Devnet, ReceiptSigner, CREATOR, NOTICE, PAYER},
};

/// The relayer's account.
pub(crate) const RELAYER: usize = 4;
/// Price of the license minted by `royalties::mint`: 0.001 fUSD.
pub(crate) const PRICE: u64 = 1_000;

/// `payer credit fund` of `whole` fUSD for the relayer account.
pub(crate) fn fund_line(whole: &str) -> CreditCmd {
    CreditCmd::Fund(CreditAmountArgs {
        line: LineArgs {
            relayer: key(RELAYER).address(),
            token: None,
        },
        amount: whole.into(),
        raw: false,
    })
}

/// The payer's credit line for the relayer account.
pub(crate) async fn line(chain: &Chain) -> Escrow::CreditLine {
    chain
        .escrow()
        .creditLine(
            key(PAYER).address(),
            key(RELAYER).address(),
            chain.deployment.payment_tokens[0],
        )
        .call()
        .await
        .unwrap()
}

/// Makes the payer account ready to train on `license`: deposits 100 fUSD, accepts the license's
/// current terms and registers `training` as its key.
pub(crate) async fn ready_payer(payer: &Chain, license: U256, training: Address) {
    payer::deposit(
        payer,
        &DepositArgs {
            amount: amount("100"),
            permit: false,
            permit_ttl: 3600,
        },
    )
    .await
    .unwrap();
    payer::accept(
        payer,
        &AcceptArgs {
            license_id: license,
            terms: None,
        },
    )
    .await
    .unwrap();
    payer::signer(payer, &SignerCmd::Register { signer: training })
        .await
        .unwrap();
}

/// Commits `receipts` as one batch from the relayer account, writes its batch data to `path`,
/// and returns the document.
pub(crate) async fn commit(
    net: &Devnet,
    domain: &EscrowDomain,
    receipts: Vec<SignedReceipt>,
    reserve: u64,
    path: &Path,
    on_chain: bool,
) -> BatchData {
    let relayer = net.chain(RELAYER).await;
    let payer = key(PAYER).address();
    let token = relayer.deployment.payment_tokens[0];
    let (data, _) = BatchData::build(
        domain,
        receipts,
        vec![Reservation {
            payer,
            token,
            amount: U256::from(reserve),
        }],
    )
    .unwrap();
    let bytes = data.to_bytes();
    std::fs::write(path, &bytes).unwrap();
    if on_chain {
        relayer
            .send(
                "commitBatch",
                relayer.escrow().commitBatch(
                    data.root,
                    data.receipts.len() as u32,
                    data_hash(&bytes),
                    format!("file://{}", path.display()),
                    vec![Escrow::ReservationRequest {
                        payer,
                        token,
                        amount: u128::from(reserve),
                    }],
                ),
            )
            .await
            .unwrap();
    }
    data
}

fn args(files: &[&Path]) -> ClaimArgs {
    ClaimArgs {
        relayer_url: None,
        batch_data: files.iter().map(|p| p.display().to_string()).collect(),
        licenses: vec![],
        payee: None,
        per_tx: 50,
        dry_run: false,
    }
}

/// Platform fees: accrued, and not yet swept from the payer's line.
async fn fees(chain: &Chain) -> U256 {
    chain
        .escrow()
        .accruedFees(chain.deployment.payment_tokens[0])
        .call()
        .await
        .unwrap()
        + U256::from(line(chain).await.fees)
}

// Multi-threaded: the range-limiting proxy serves the binary while the test waits for it.
/// Runs the binary with `args` directly and through `proxy`: the same JSON, and the proxy
/// refused at least one range on the way.
fn same_behind_a_range_limit(net: &Devnet, proxy: &RangeLimitProxy, account: usize, args: &[&str]) {
    let direct = json(&net.cli(Some(account), args));
    let refused = proxy.refused();
    let limited = json(&net.cli_env(Some(account), args, &[("FAIRTRAIN_RPC_URL", &proxy.url)]));
    assert_eq!(limited, direct, "{args:?}");
    assert!(
        proxy.refused() > refused,
        "{args:?}: wide ranges were asked and refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_from_batch_data_oldest_first_to_the_unit() {
    let net = Devnet::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let license = mint(&net, &tmp).await;
    let creator_addr = key(CREATOR).address();
    let payer_addr = key(PAYER).address();
    net.fund(payer_addr, 1000).await;
    let payer = net.chain(PAYER).await;
    let training = PrivateKeySigner::from_bytes(&keccak256("claim test training key")).unwrap();
    ready_payer(&payer, license, training.address()).await;
    payer::credit(&payer, &fund_line("10")).await.unwrap();
    net.advance(NOTICE + 1).await;

    let signer = ReceiptSigner::now(&payer, &training, payer_addr, license).await;
    let sign = |run: &str, samples: u64| signer.sign(run, samples);
    let domain = signer.domain.clone();
    // Batch 1: run a at 1000, run b at 500. Batch 2: run a at 1600 (reserves the 600 added).
    let first = tmp.path().join("batch-1.json");
    let second = tmp.path().join("batch-2.json");
    commit(
        &net,
        &domain,
        vec![sign("a", 1000), sign("b", 500)],
        1500 * PRICE,
        &first,
        true,
    )
    .await;
    commit(
        &net,
        &domain,
        vec![sign("a", 1600)],
        600 * PRICE,
        &second,
        true,
    )
    .await;
    // A batch that was never committed.
    let loose = tmp.path().join("loose.json");
    commit(
        &net,
        &domain,
        vec![sign("c", 10)],
        10 * PRICE,
        &loose,
        false,
    )
    .await;

    // Behind a node that refuses `eth_getLogs` over more than 3 blocks (as hosted endpoints
    // refuse wide ranges), the claim's lookup of committed roots reads them in ranges the node
    // accepts and finds what it finds directly.
    let proxy = RangeLimitProxy::start(net.url(), 3).await;
    let (first_s, second_s, loose_s) = (
        first.to_str().unwrap(),
        second.to_str().unwrap(),
        loose.to_str().unwrap(),
    );
    same_behind_a_range_limit(
        &net,
        &proxy,
        CREATOR,
        &[
            "creator",
            "claim",
            "--dry-run",
            "--batch-data",
            first_s,
            "--batch-data",
            second_s,
            "--batch-data",
            loose_s,
            "--json",
        ],
    );

    // The creator claims from the documents alone, newest given first: claimed oldest first.
    let creator = net.chain(CREATOR).await;
    let dry = claim::claim(
        &creator,
        &ClaimArgs {
            dry_run: true,
            ..args(&[&second, &first, &loose])
        },
    )
    .await
    .unwrap();
    assert_eq!(dry.claims.len(), 2);
    assert!(dry.claims.iter().all(|c| c.tx.is_none()));
    let wallet_before = wallet(&payer, creator_addr).await;
    let fees_before = fees(&creator).await;
    let claimed = claim::claim(&creator, &args(&[&second, &first, &loose]))
        .await
        .unwrap();
    assert_eq!(
        claimed
            .claims
            .iter()
            .map(|c| c.receipts)
            .collect::<Vec<_>>(),
        [2, 1],
        "{}",
        claimed.summary
    );
    assert_eq!(claimed.skipped.len(), 1);
    assert!(
        claimed.skipped[0].reason.contains("no batch with root"),
        "{:?}",
        claimed.skipped
    );
    let charged = U256::from(2100 * PRICE);
    let received = wallet(&payer, creator_addr).await - wallet_before;
    let fee = fees(&creator).await - fees_before;
    assert_eq!(
        received + fee,
        charged,
        "every unit charged is paid or a fee"
    );
    assert_eq!(fee, charged * U256::from(250) / U256::from(10_000));
    assert_eq!(claimed.paid_to_payee["fUSD"], received.to_string());
    for path in [&first, &second] {
        let root = BatchData::parse(&std::fs::read(path).unwrap())
            .unwrap()
            .root;
        let batch = creator
            .escrow()
            .reservation(root, payer_addr, creator.deployment.payment_tokens[0])
            .call()
            .await
            .unwrap();
        assert_eq!(batch.relayer, key(RELAYER).address());
    }
    let pool = line(&creator).await;
    assert_eq!(
        pool.reserved.to::<u64>(),
        0,
        "the batches' reserved pool is spent exactly"
    );
    assert_eq!(pool.credit, 10_000_000 - 2100 * u128::from(PRICE));

    // Again: everything is settled, nothing is sent.
    let again = claim::claim(&creator, &args(&[&first, &second]))
        .await
        .unwrap();
    assert!(again.claims.is_empty());
    assert_eq!(again.skipped.len(), 3);
    assert!(again
        .skipped
        .iter()
        .all(|s| s.reason.contains("already settled")));

    // A batch that reserved nothing for new usage (the line's pool is empty): the claim is
    // skipped with the reason before any gas is spent, rather than reverting.
    let short = tmp.path().join("short.json");
    commit(&net, &domain, vec![sign("d", 100)], 0, &short, true).await;
    let skipped = claim::claim(&creator, &args(&[&short])).await.unwrap();
    assert!(skipped.claims.is_empty(), "{}", skipped.summary);
    assert_eq!(skipped.skipped.len(), 1);
    assert!(
        skipped.skipped[0]
            .reason
            .contains("holds 0 base units reserved")
            && skipped.skipped[0].reason.contains("needs 100000"),
        "{:?}",
        skipped.skipped
    );

    // The commands that read events — payer status and creator earnings — behind the
    // range-limiting node answer what they answer directly.
    for (account, args) in [
        (PAYER, ["payer", "status", "--json"]),
        (CREATOR, ["creator", "earnings", "--json"]),
    ] {
        same_behind_a_range_limit(&net, &proxy, account, &args);
    }
    // Nine event reads at least (the claim's lookup of two committed roots and one that is
    // not, five by the status, two by the earnings), each in ranges of at most 3 blocks.
    let head = alloy::providers::Provider::get_block_number(payer.provider())
        .await
        .unwrap();
    let span = head - payer.deployment.start_block + 1;
    assert!(span > 12, "a history of several ranges: {span} blocks");
    assert!(
        proxy.answered() >= 9 * span.div_ceil(3),
        "{} ranges read",
        proxy.answered()
    );

    // A tampered document does not verify.
    let mut text = std::fs::read_to_string(&first).unwrap();
    text = text.replace(
        "\"cumulativeSamples\":\"500\"",
        "\"cumulativeSamples\":\"5000\"",
    );
    let tampered = tmp.path().join("tampered.json");
    std::fs::write(&tampered, text).unwrap();
    match claim::claim(&creator, &args(&[&tampered])).await {
        Err(CliError::Invalid(message)) => assert!(message.contains("root"), "{message}"),
        other => panic!("expected a verification failure, got {other:?}"),
    }
}
