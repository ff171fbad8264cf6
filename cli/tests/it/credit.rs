//! `payer credit ...`: a payer funds a relayer's credit line; a reduction cannot be executed
//! before its notice (the decoded error says when), a cancelled one not at all; the relayer's
//! batch reserves from the line (a relayer without a line is refused, with a hint); once the
//! notice passed the reduction moves credit back; the reserved funds cannot be released while
//! the batch can be claimed; a claim draws from them, anyone sweeps the fees, and after the
//! claim window anyone releases what is left back to the line's credit. `payer status` follows
//! the line throughout.

use alloy::{
    primitives::{keccak256, U256},
    signers::local::PrivateKeySigner,
};
use fairtrain_cli::{
    cmd::{
        claim::{self, ClaimArgs},
        payer::{self, AnyLineArgs, CreditAmountArgs, CreditCmd, LineArgs, StatusArgs},
    },
    time, Chain,
};
use fairtrain_protocol::bindings::Escrow;

use crate::{
    claim::{commit, fund_line, line, ready_payer, PRICE, RELAYER},
    failures::reverted,
    royalties::mint,
    support::{key, Devnet, ReceiptSigner, CREATOR, NOTICE, PAYER},
};

/// The deployment's claim window (Deploy.s.sol's default), in seconds.
const CLAIM_WINDOW: u64 = 7 * 86_400;

fn relayer_line() -> LineArgs {
    LineArgs {
        relayer: key(RELAYER).address(),
        token: None,
    }
}

fn reduce(whole: &str) -> CreditCmd {
    CreditCmd::Reduce(CreditAmountArgs {
        line: relayer_line(),
        amount: whole.into(),
        raw: false,
    })
}

/// The payer's line for the relayer, as an account other than the payer names it.
fn payer_line() -> AnyLineArgs {
    AnyLineArgs {
        payer: Some(key(PAYER).address()),
        line: relayer_line(),
    }
}

/// (available, credit, reserved) of the payer in fUSD base units, from `payer status`.
async fn status(chain: &Chain) -> (String, String, String) {
    let s = payer::status(
        chain,
        &StatusArgs {
            address: Some(key(PAYER).address()),
        },
    )
    .await
    .unwrap();
    let t = &s.tokens[0];
    (t.available.clone(), t.credit.clone(), t.reserved.clone())
}

fn strings(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.into(), b.into(), c.into())
}

#[tokio::test]
async fn credit_line_fund_reduce_reserve_release() {
    let net = Devnet::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let license = mint(&net, &tmp).await;
    let payer_addr = key(PAYER).address();
    net.fund(payer_addr, 1000).await;
    let payer = net.chain(PAYER).await;
    let creator = net.chain(CREATOR).await;
    let training = PrivateKeySigner::from_bytes(&keccak256("credit test training key")).unwrap();
    ready_payer(&payer, license, training.address()).await;

    // Fund: 10 fUSD move from the available balance into the line.
    let funded = payer::credit(&payer, &fund_line("10")).await.unwrap();
    assert_eq!(funded.txs[0].action, "fundCredit");
    assert_eq!(status(&payer).await, strings("90000000", "10000000", "0"));
    // More than is available: the decoded error says how much there is.
    let text = reverted(
        payer::credit(&payer, &fund_line("91")).await,
        "TrainingEscrow_InsufficientBalance",
    );
    assert!(text.contains("the available balance is 90000000"), "{text}");

    // A reduction cannot be executed before its notice period, nor once cancelled.
    let requested = payer::credit(&payer, &reduce("4")).await.unwrap();
    let effective_at = payer.now().await.unwrap() + NOTICE;
    assert!(
        requested.summary.contains(&time::utc(effective_at)),
        "{}",
        requested.summary
    );
    let text = reverted(
        payer::credit(&payer, &CreditCmd::ExecuteReduction(relayer_line())).await,
        "TrainingEscrow_CreditReductionNotEffective",
    );
    assert!(
        text.contains(&format!(
            "hint: the credit reduction takes effect at {effective_at} ({})",
            time::utc(effective_at)
        )),
        "{text}"
    );
    payer::credit(&payer, &CreditCmd::CancelReduction(relayer_line()))
        .await
        .unwrap();
    let text = reverted(
        payer::credit(&payer, &CreditCmd::ExecuteReduction(relayer_line())).await,
        "TrainingEscrow_NoCreditReductionRequested",
    );
    assert!(text.contains("credit reduce --relayer"), "{text}");
    payer::credit(&payer, &reduce("4")).await.unwrap();
    // Nothing reserved yet: nothing to release.
    reverted(
        payer::credit(&creator, &CreditCmd::Release(payer_line())).await,
        "TrainingEscrow_NothingReserved",
    );

    // The acceptance becomes chargeable and the reduction effective.
    net.advance(NOTICE + 1).await;

    // A relayer the payer opened no line for cannot reserve from it.
    let signer = ReceiptSigner::now(&payer, &training, payer_addr, license).await;
    let sign = |run: &str, samples: u64| signer.sign(run, samples);
    let domain = signer.domain.clone();
    let stranger = net.chain(0).await;
    let text = reverted(
        stranger
            .send(
                "commitBatch",
                stranger.escrow().commitBatch(
                    keccak256("some root"),
                    1,
                    keccak256("data"),
                    "file:///dev/null".into(),
                    vec![Escrow::ReservationRequest {
                        payer: payer_addr,
                        token: payer.deployment.payment_tokens[0],
                        amount: 1,
                    }],
                ),
            )
            .await,
        "TrainingEscrow_NoCreditLine",
    );
    assert!(text.contains("payer credit fund --relayer"), "{text}");

    // The relayer's batch reserves 2 fUSD for 1 fUSD of usage (over-reserving is safe).
    let batch = tmp.path().join("batch.json");
    let data = commit(
        &net,
        &domain,
        vec![sign("a", 1000)],
        2000 * PRICE,
        &batch,
        true,
    )
    .await;
    assert_eq!(
        status(&payer).await,
        strings("90000000", "8000000", "2000000")
    );

    // After the notice: the reduction moves 4 fUSD of credit back to the available balance.
    let reduced = payer::credit(&payer, &CreditCmd::ExecuteReduction(relayer_line()))
        .await
        .unwrap();
    assert!(
        reduced
            .summary
            .contains("moved 4 fUSD (4000000 base units) of credit"),
        "{}",
        reduced.summary
    );
    assert!(reduced.next.is_none(), "the whole request was met");
    assert_eq!(
        status(&payer).await,
        strings("94000000", "4000000", "2000000")
    );

    // The reserved funds stay while the batch can be claimed: the error says until when.
    let reserved_until = line(&payer).await.reservedUntil.to::<u64>();
    let expires_at = payer
        .escrow()
        .reservation(data.root, payer_addr, payer.deployment.payment_tokens[0])
        .call()
        .await
        .unwrap()
        .expiresAt
        .to::<u64>();
    assert_eq!(
        reserved_until, expires_at,
        "the line is locked until the batch expires"
    );
    let text = reverted(
        payer::credit(&creator, &CreditCmd::Release(payer_line())).await,
        "TrainingEscrow_ReservedNotReleasable",
    );
    assert!(text.contains(&time::utc(reserved_until)), "{text}");

    // The creator claims: 1 fUSD drawn from the reserved funds, its fee kept in the line until
    // anyone sweeps it.
    let claimed = claim::claim(
        &creator,
        &ClaimArgs {
            relayer_url: None,
            batch_data: vec![batch.display().to_string()],
            licenses: vec![],
            payee: None,
            per_tx: 50,
            dry_run: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(claimed.claims.len(), 1, "{}", claimed.summary);
    let after_claim = line(&payer).await;
    assert_eq!(
        (
            after_claim.reserved.to::<u64>(),
            after_claim.fees.to::<u64>()
        ),
        (1_000_000, 25_000)
    );
    let swept = payer::credit(&creator, &CreditCmd::SweepFees(payer_line()))
        .await
        .unwrap();
    assert!(
        swept
            .summary
            .contains("swept 0.025 fUSD (25000 base units)"),
        "{}",
        swept.summary
    );
    let fees = payer
        .escrow()
        .accruedFees(payer.deployment.payment_tokens[0])
        .call()
        .await
        .unwrap();
    assert_eq!(fees, U256::from(25_000));

    // After the claim window anyone releases the rest: back to the line's credit, not to the
    // available balance.
    net.advance(CLAIM_WINDOW).await;
    let released = payer::credit(&creator, &CreditCmd::Release(payer_line()))
        .await
        .unwrap();
    assert!(
        released
            .summary
            .contains("released 1 fUSD (1000000 base units)"),
        "{}",
        released.summary
    );
    let after = line(&payer).await;
    assert_eq!(after.reservedUntil.to::<u64>(), 0);
    assert_eq!(status(&payer).await, strings("94000000", "5000000", "0"));
    let s = payer::status(&payer, &StatusArgs { address: None })
        .await
        .unwrap();
    let t = &s.tokens[0];
    assert_eq!(t.spent, "1000000", "what the claim paid, fee included");
    let l = &t.credit_lines[0];
    assert_eq!(
        (l.relayer, l.credit.as_str(), l.fees.as_str(), l.releasable),
        (key(RELAYER).address(), "5000000", "0", false)
    );
    assert!(l.reduction.is_none());
    reverted(
        payer::credit(&creator, &CreditCmd::Release(payer_line())).await,
        "TrainingEscrow_NothingReserved",
    );
}
