//! Reorganisations on anvil (`evm_snapshot`/`evm_revert` and `anvil_reorg`): while following,
//! while the indexer was down, and deeper than the block window.

use alloy::primitives::{Address, U256};
use fairtrain_indexer::{
    raw,
    reconcile::reconcile,
    sync::{Indexer, Step, SyncConfig},
    Db, Error,
};
use serde_json::json;

use crate::{
    audit::commit,
    auditor::{indexer_cmd, Running},
    both_databases,
    lines::mirrored,
    mirror::dump,
    support::{config, Backend, Chain, Connect, TestDb, DEMO_PAYER, DEMO_RELAYER},
};

pub(crate) async fn indexer(chain: &Chain, db: &Db, config: SyncConfig) -> Indexer {
    chain.indexer(db, config).await
}

async fn balance(db: &Db, payer: Address) -> Option<String> {
    sqlx::query_as::<_, (String,)>("SELECT available FROM balances WHERE payer = $1")
        .bind(format!("{payer:#x}"))
        .fetch_optional(&db.pool)
        .await
        .unwrap()
        .map(|r| r.0)
}

/// Steps to the head, returning the reorganisations seen.
pub(crate) async fn sync(ix: &mut Indexer) -> Vec<(u64, u64)> {
    let mut reorgs = Vec::new();
    loop {
        match ix.step().await.unwrap() {
            Step::Idle => return reorgs,
            Step::Reorg { ancestor, removed } => reorgs.push((ancestor, removed)),
            _ => {}
        }
    }
}

/// After the rollback the index must equal a fresh index of the new chain, and the chain must
/// confirm it.
pub(crate) async fn assert_matches_chain(chain: &Chain, db: &Db, backend: Backend) {
    assert_eq!(
        raw::count(db).await.unwrap(),
        chain.log_count().await as u64
    );
    let report = reconcile(db, &chain.provider, &chain.deployment)
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");
    let fresh_db = TestDb::new(backend);
    let fresh = fresh_db.connect().await;
    indexer(chain, &fresh, config())
        .await
        .sync_to_head()
        .await
        .unwrap();
    assert_eq!(dump(db).await, dump(&fresh).await);
}

async fn reorg_while_following(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let mut ix = indexer(&chain, &db, config()).await;
    sync(&mut ix).await;
    let fork_point = chain.head().await;
    let snapshot = chain.rpc("evm_snapshot", json!([])).await;

    let gone = chain.deposit(5, 1_000_000).await;
    assert!(sync(&mut ix).await.is_empty());
    assert_eq!(balance(&db, gone).await.as_deref(), Some("1000000"));

    // Another history from the fork point, one block longer.
    chain.rpc("evm_revert", json!([snapshot])).await;
    let kept = chain.deposit(6, 7_000_000).await;
    chain.mine(1).await;
    let reorgs = sync(&mut ix).await;
    assert_eq!(reorgs.len(), 1, "{reorgs:?}");
    assert_eq!(
        reorgs[0].0, fork_point,
        "rolled back to the common ancestor"
    );
    assert_eq!(reorgs[0].1, 1, "the old history's Deposited was deleted");
    assert_eq!(balance(&db, gone).await, None);
    assert_eq!(balance(&db, kept).await.as_deref(), Some("7000000"));
    assert_eq!(
        raw::checkpoint(&db).await.unwrap().unwrap().number,
        chain.head().await
    );
    assert_matches_chain(&chain, &db, backend).await;
}
both_databases!(
    reorg_while_following_rolls_back,
    super::reorg_while_following
);

/// A reorganisation drops a `CreditFunded` and a batch's `FundsReserved` (with its
/// `BatchCommitted`): the line, the payer's balance and the batch are back to what they were at
/// the common ancestor, and equal a fresh index of the new chain.
async fn reorg_drops_credit_line_changes(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let (payer, relayer) = (chain.wallet(DEMO_PAYER).0, chain.wallet(DEMO_RELAYER).0);
    let mut ix = indexer(&chain, &db, config()).await;
    sync(&mut ix).await;
    let before_line = mirrored(&chain, &db, payer, relayer).await;
    let before = dump(&db).await;
    let fork_point = chain.head().await;
    let snapshot = chain.rpc("evm_snapshot", json!([])).await;

    chain.fund_credit(DEMO_PAYER, relayer, 1_000_000).await;
    let gone = commit(&chain, "reorged-run", 0).await;
    assert!(sync(&mut ix).await.is_empty());
    let funded = mirrored(&chain, &db, payer, relayer).await;
    let owed: U256 = gone.expected.iter().copied().sum();
    assert_eq!(funded.reserved, owed.to_string());
    assert_eq!(
        funded.credit.parse::<U256>().unwrap() + owed,
        before_line.credit.parse::<U256>().unwrap() + U256::from(1_000_000)
    );
    assert!(fairtrain_indexer::query::batch(&db, &gone.root)
        .await
        .unwrap()
        .is_some());

    // Another history from the fork point, longer (a deposit: three blocks, and one more).
    chain.rpc("evm_revert", json!([snapshot])).await;
    chain.deposit(6, 7_000_000).await;
    chain.mine(1).await;
    let reorgs = sync(&mut ix).await;
    assert_eq!(reorgs.len(), 1, "{reorgs:?}");
    assert_eq!(
        reorgs[0].0, fork_point,
        "rolled back to the common ancestor"
    );
    assert_eq!(
        reorgs[0].1, 3,
        "CreditFunded, BatchCommitted and FundsReserved were deleted"
    );
    assert_eq!(mirrored(&chain, &db, payer, relayer).await, before_line);
    assert!(fairtrain_indexer::query::batch(&db, &gone.root)
        .await
        .unwrap()
        .is_none());
    let after: Vec<String> = dump(&db)
        .await
        .into_iter()
        .filter(|row| !row.contains(&format!("{:#x}", chain.wallet(6).0)))
        .collect();
    assert_eq!(after, before, "only the new history's deposit was added");
    assert_matches_chain(&chain, &db, backend).await;
}
both_databases!(
    reorg_unwinds_credit_funded_and_funds_reserved,
    super::reorg_drops_credit_line_changes
);

async fn reorg_while_down(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let gone = chain.deposit(5, 1_000_000).await;
    let before = chain.head().await;
    {
        let mut ix = indexer(&chain, &db, config()).await;
        sync(&mut ix).await;
        assert_eq!(balance(&db, gone).await.as_deref(), Some("1000000"));
    }
    // While the indexer is stopped, anvil replaces the last 3 blocks (the deposit's mint,
    // approve and deposit) with empty ones.
    chain.rpc("anvil_reorg", json!([3, []])).await;
    assert_eq!(chain.head().await, before);

    // A new process finds the checkpoint block replaced on its first step.
    let mut ix = indexer(&chain, &db, config()).await;
    let reorgs = sync(&mut ix).await;
    assert_eq!(reorgs.len(), 1, "{reorgs:?}");
    assert_eq!(reorgs[0].0, before - 3);
    assert_eq!(balance(&db, gone).await, None);
    assert_matches_chain(&chain, &db, backend).await;
}
both_databases!(
    reorg_while_down_is_detected_at_startup,
    super::reorg_while_down
);

async fn reorg_deeper_than_window(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let small = SyncConfig {
        window: 1,
        ..config()
    };
    let mut ix = indexer(&chain, &db, small).await;
    sync(&mut ix).await;
    chain.mine(5).await;
    sync(&mut ix).await;
    let before = dump(&db).await;
    let checkpoint = raw::checkpoint(&db).await.unwrap();

    chain.rpc("anvil_reorg", json!([6, []])).await;
    let err = ix.step().await.unwrap_err();
    assert!(matches!(err, Error::DeepReorg { .. }), "{err}");
    // Nothing was lost or changed: the operator decides (re-index from scratch).
    assert_eq!(dump(&db).await, before);
    assert_eq!(raw::checkpoint(&db).await.unwrap(), checkpoint);
}
both_databases!(
    reorg_deeper_than_window_is_an_error,
    super::reorg_deeper_than_window
);

/// `run` (API, follower and auditor in one process) exits with an error when the follower
/// meets a reorganisation deeper than its window, instead of serving a stale index.
async fn run_exits_on_a_reorg_deeper_than_window(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let mut cmd = indexer_cmd(&chain, &test_db.url);
    cmd.args(["run", "--listen", "127.0.0.1:0", "--window", "1"])
        .arg("--no-auto-audit");
    let mut running = Running::start(cmd);

    let head = chain.head().await;
    let caught_up = || async {
        raw::checkpoint(&db)
            .await
            .unwrap()
            .is_some_and(|c| c.number >= head)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !caught_up().await {
        assert!(
            std::time::Instant::now() < deadline,
            "run never reached the head"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        running.child.try_wait().unwrap().is_none(),
        "run exited early"
    );

    chain.rpc("anvil_reorg", json!([6, []])).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "run kept going after a deep reorg"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(!status.success());
    let log = std::fs::read_to_string(running.log.path()).unwrap();
    assert!(log.contains("following the chain stopped"), "{log}");
}
both_databases!(
    run_exits_on_a_deep_reorg,
    super::run_exits_on_a_reorg_deeper_than_window
);
