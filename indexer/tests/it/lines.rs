//! A credit line's whole life, mirrored and reconciled after every step: fund, commit, claim,
//! request (cancel, request again) and execute a credit reduction, release once the batches
//! expired (reserved back to credit, fees swept), execute the rest of the reduction, and sweep the
//! fees of later claims.

use alloy::primitives::{Address, U256};
use fairtrain_indexer::{
    query::lines::{lines_of, CreditLineView},
    raw,
    reconcile::reconcile,
    Db,
};

use crate::{
    audit::{claim, commit},
    both_databases,
    support::{Backend, Chain, Connect, TestDb, DEMO_PAYER, DEMO_RELAYER},
};

/// One whole token of the demo's fUSD (6 decimals).
const FUSD: u128 = 1_000_000;

/// Indexes to the head and checks that the mirrored line (payer, relayer, token) is exactly the
/// chain's `creditLine` and `creditReduction` at the checkpoint, that `reconcile` is clean, and
/// that the accounting identity holds over the mirrored rows (`balanceOf(escrow) = Σ available
/// + Σ line credit + Σ line reserved + Σ line fees + accruedFees`). Returns the mirrored line.
pub(crate) async fn mirrored(
    chain: &Chain,
    db: &Db,
    payer: Address,
    relayer: Address,
) -> CreditLineView {
    chain.sync(db).await;
    let block = raw::checkpoint(db).await.unwrap().unwrap().number;
    assert_eq!(block, chain.head().await);
    let token = chain.token();
    let (line, reduction) = chain.line(payer, relayer, block).await;
    let on_chain = CreditLineView {
        payer: format!("{payer:#x}"),
        relayer: format!("{relayer:#x}"),
        token: format!("{token:#x}"),
        credit: line.credit.to_string(),
        reserved: line.reserved.to_string(),
        fees: line.fees.to_string(),
        reserved_until: line.reservedUntil.to::<i64>(),
        reduction_amount: reduction.amount.to_string(),
        reduction_effective_at: reduction.effectiveAt.to::<i64>(),
    };
    let view = lines_of(db, &on_chain.payer, &on_chain.token)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.relayer == on_chain.relayer)
        .expect("the line is mirrored");
    assert_eq!(view, on_chain, "mirrored line at block {block}");

    let report = reconcile(db, &chain.provider, &chain.deployment)
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(held(db, token).await, chain.escrow_holds(block).await);
    view
}

/// What the mirrored rows say the escrow holds of `token`.
async fn held(db: &Db, token: Address) -> U256 {
    let token = format!("{token:#x}");
    let sum = |rows: Vec<(String,)>| {
        rows.iter()
            .map(|(v,)| v.parse::<U256>().unwrap())
            .fold(U256::ZERO, |a, b| a + b)
    };
    let mut total = U256::ZERO;
    for sql in [
        "SELECT available FROM balances WHERE token = $1",
        "SELECT credit FROM credit_lines WHERE token = $1",
        "SELECT reserved FROM credit_lines WHERE token = $1",
        "SELECT fees FROM credit_lines WHERE token = $1",
        "SELECT accrued FROM fees WHERE token = $1",
    ] {
        let rows: Vec<(String,)> = sqlx::query_as(sql)
            .bind(&token)
            .fetch_all(&db.pool)
            .await
            .unwrap();
        total += sum(rows);
    }
    total
}

/// The platform's mirrored accrued fees in `token`.
async fn accrued(db: &Db, token: Address) -> U256 {
    let row: Option<(String,)> = sqlx::query_as("SELECT accrued FROM fees WHERE token = $1")
        .bind(format!("{token:#x}"))
        .fetch_optional(&db.pool)
        .await
        .unwrap();
    row.map_or(U256::ZERO, |(v,)| v.parse().unwrap())
}

/// How many raw events of each name were indexed.
async fn events(db: &Db, name: &str) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM raw_events WHERE name = $1")
        .bind(name)
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .0
}

fn amount(v: &str) -> u128 {
    v.parse().unwrap()
}

async fn credit_line_life(backend: Backend) {
    const WEEK: u64 = 7 * 24 * 3600;
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let (payer, relayer, token) = (
        chain.wallet(DEMO_PAYER).0,
        chain.wallet(DEMO_RELAYER).0,
        chain.token(),
    );
    let line = || mirrored(&chain, &db, payer, relayer);

    // The demo's line: its batch claimed in full, its fees still in the line, locked.
    let demo = line().await;
    assert_eq!(demo.reserved, "0");
    assert!(amount(&demo.fees) > 0, "{demo:?}");
    assert!(demo.reserved_until > 0, "{demo:?}");

    // Fund: available → credit.
    chain.fund_credit(DEMO_PAYER, relayer, 100 * FUSD).await;
    let funded = line().await;
    assert_eq!(amount(&funded.credit), amount(&demo.credit) + 100 * FUSD);

    // Commit: credit → reserved, the line locked until the batch expires.
    let b = commit(&chain, "line-life", 0).await;
    let owed: u128 = b.expected.iter().map(|e| e.to::<u128>()).sum();
    let committed = line().await;
    assert_eq!(amount(&committed.credit), amount(&funded.credit) - owed);
    assert_eq!(amount(&committed.reserved), owed);
    let (expires,): (i64,) = sqlx::query_as("SELECT expires_at FROM reservations WHERE root = $1")
        .bind(&b.root)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(expires >= demo.reserved_until);
    assert_eq!(committed.reserved_until, expires);

    // Claim two of three receipts: reserved → payees, their fees into the line.
    claim(&chain, &b, &[0, 1]).await;
    let claimed = line().await;
    let left = b.expected[2].to::<u128>();
    assert_eq!(amount(&claimed.reserved), left);
    assert!(amount(&claimed.fees) > amount(&demo.fees));

    // Ask for everything in the line back; cancel; ask again.
    let all = amount(&claimed.credit) + left;
    chain.request_reduction(DEMO_PAYER, relayer, all).await;
    let requested = line().await;
    assert_eq!(amount(&requested.reduction_amount), all);
    assert!(requested.reduction_effective_at > 0);
    chain.cancel_reduction(DEMO_PAYER, relayer).await;
    let cancelled = line().await;
    assert_eq!(
        (
            cancelled.reduction_amount.as_str(),
            cancelled.reduction_effective_at
        ),
        ("0", 0)
    );
    chain.request_reduction(DEMO_PAYER, relayer, all).await;
    let requested = line().await;

    // After the notice: the credit moves to available; the reserved part stays requested.
    chain.advance(3600).await;
    chain.execute_reduction(DEMO_PAYER, relayer).await;
    let reduced = line().await;
    assert_eq!(reduced.credit, "0");
    assert_eq!(amount(&reduced.reserved), left);
    assert_eq!(amount(&reduced.reduction_amount), left);
    assert_eq!(
        reduced.reduction_effective_at,
        requested.reduction_effective_at
    );

    // Once every batch expired: release returns reserved to credit and sweeps the line's fees.
    chain.advance(WEEK).await;
    let fees_before = accrued(&db, token).await;
    chain.release(payer, relayer, token).await;
    let released = line().await;
    assert_eq!(amount(&released.credit), left);
    assert_eq!(
        (
            released.reserved.as_str(),
            released.fees.as_str(),
            released.reserved_until
        ),
        ("0", "0", 0)
    );
    assert_eq!(
        accrued(&db, token).await,
        fees_before + U256::from(amount(&reduced.fees))
    );

    // The rest of the reduction takes the released funds: the line is empty.
    chain.execute_reduction(DEMO_PAYER, relayer).await;
    let emptied = line().await;
    assert_eq!(
        (
            emptied.credit.as_str(),
            emptied.reduction_amount.as_str(),
            emptied.reduction_effective_at
        ),
        ("0", "0", 0)
    );

    // Funded again, a batch claimed in full leaves fees in the line; anyone sweeps them.
    chain.fund_credit(DEMO_PAYER, relayer, 500 * FUSD).await;
    let b = commit(&chain, "line-life-2", 0).await;
    claim(&chain, &b, &[0, 1, 2]).await;
    let paid = line().await;
    assert_eq!(paid.reserved, "0");
    assert!(amount(&paid.fees) > 0);
    let fees_before = accrued(&db, token).await;
    chain.sweep_fees(payer, relayer, token).await;
    let swept = line().await;
    assert_eq!(swept.fees, "0");
    assert_eq!(
        accrued(&db, token).await,
        fees_before + U256::from(amount(&paid.fees))
    );

    // Every credit-line event was indexed (the demo funds the line once).
    for (name, n) in [
        ("CreditFunded", 3),
        ("FundsReserved", 3),
        ("CreditReductionRequested", 2),
        ("CreditReductionCancelled", 1),
        ("CreditReduced", 2),
        ("FundsReleased", 1),
        ("FeesSwept", 2),
    ] {
        assert_eq!(events(&db, name).await, n, "{name}");
    }
}
both_databases!(credit_line_life_mirrored_exactly, super::credit_line_life);
