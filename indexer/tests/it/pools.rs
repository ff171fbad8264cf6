//! Streams and pools: their events stored, pools followed from the factory's `PoolCreated` (in
//! the range of their creation too) and forgotten on a rollback; a stream's derived row against
//! `getStream`. Derived pool state and stream states: `pool_state.rs`.

use alloy::primitives::{Address, U256};
use fairtrain_indexer::{
    raw,
    sync::{Indexer, SyncConfig},
    Db,
};
use fairtrain_protocol::bindings::{pools::RevenuePool, RoyaltyStreams};
use fairtrain_testkit::mined;
use serde_json::json;

use crate::{
    both_databases,
    support::{config, Backend, Chain, Connect, MockToken, TestDb},
};

async fn indexer(chain: &Chain, db: &Db, config: SyncConfig) -> Indexer {
    chain.indexer(db, config).await
}

/// Names of the stored raw events of `address`, in chain order.
async fn names(db: &Db, address: Address) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM raw_events WHERE address = $1 ORDER BY block_number, log_index",
    )
    .bind(fairtrain_indexer::units::addr(&address))
    .fetch_all(&db.pool)
    .await
    .unwrap();
    rows.into_iter().map(|(n,)| n).collect()
}

/// Account 0 creates a pool of two members (shares 1 and 3) through the factory, then 1000
/// tokens are sent to it and distributed.
async fn pool_with_income(chain: &Chain) -> Address {
    let (_, p) = chain.wallet(0);
    let token = chain.deployment.payment_tokens[0];
    let pool = chain.create_pool("Pool", [1, 3], true).await;
    mined!(MockToken::new(token, p.clone()).mint(pool, U256::from(1500)));
    mined!(RevenuePool::new(pool, p).distribute(token));
    pool
}

async fn pools_followed(backend: Backend) {
    let chain = Chain::deployed().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let mut ix = indexer(&chain, &db, config()).await;
    ix.sync_to_head().await.unwrap();
    let snapshot = chain.rpc("evm_snapshot", json!([])).await;

    // Created and used in one indexed range: its logs of that range are fetched too.
    let pool = pool_with_income(&chain).await;
    ix.sync_to_head().await.unwrap();
    let factory = chain.deployment.revenue_pool_factory.unwrap();
    assert_eq!(names(&db, factory).await, ["PoolCreated"]);
    assert_eq!(raw::pools(&db, &chain.deployment).await.unwrap(), [pool]);
    assert_eq!(
        names(&db, pool).await,
        ["TokenAccepted", "Transfer", "Transfer", "IncomeDistributed"],
        "token and share mints at creation, then the distribution"
    );

    // Later ranges follow it from the stored PoolCreated.
    let (_, p) = chain.wallet(1);
    mined!(RevenuePool::new(pool, p).claim(chain.wallet(1).0, chain.deployment.payment_tokens[0]));
    ix.sync_to_head().await.unwrap();
    assert_eq!(
        names(&db, pool).await.last().map(String::as_str),
        Some("Claimed")
    );

    // A reorganisation that drops the creation forgets the pool.
    chain.rpc("evm_revert", json!([snapshot])).await;
    chain.mine(10).await;
    ix.sync_to_head().await.unwrap();
    assert!(raw::pools(&db, &chain.deployment).await.unwrap().is_empty());
    assert!(names(&db, pool).await.is_empty());
    assert!(names(&db, factory).await.is_empty());
}
both_databases!(pools_followed_from_the_factory, super::pools_followed);

async fn streams_stored(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let mut ix = indexer(&chain, &db, config()).await;
    ix.sync_to_head().await.unwrap();

    // Account 3 streams to license 1 at rate 10 with a deposit of 1000, then (after 20 seconds)
    // the holder's accrual is withdrawn and the stream cancelled. Rates are 18-decimal
    // fixed-point: 10 is 1e-17 units a second, so the withdrawal finds nothing to pay (no
    // event) and the cancellation rounds the accrued fraction up to one whole unit for the holder
    // (`AccrualCredited` of 1: rounding never favours the payer) and refunds the other 1499.
    chain.enable_streams(U256::from(1)).await;
    let (payer, p) = chain.wallet(3);
    let token = chain.deployment.payment_tokens[0];
    let address = chain.deployment.royalty_streams.unwrap();
    let t = MockToken::new(token, p.clone());
    mined!(t.mint(payer, U256::from(1500)));
    mined!(t.approve(address, U256::from(1500)));
    let streams = RoyaltyStreams::new(address, p);
    let params = fairtrain_protocol::bindings::streams::Streams::CreateParams {
        licenseId: U256::from(1),
        token,
        ratePerSecond: 10,
        startTime: alloy::primitives::aliases::U40::ZERO,
        endTime: alloy::primitives::aliases::U40::ZERO,
        operator: Address::ZERO,
        deposit: 1000,
    };
    let id = streams.create(params.clone()).call().await.unwrap();
    mined!(streams.create(params));
    // Derived while active: the chain's record, with a top-up of 500.
    mined!(streams.deposit(id, 500));
    ix.sync_to_head().await.unwrap();
    assert_stream_matches(&chain, &db, id, "active", "1500").await;

    chain.rpc("evm_increaseTime", json!([20])).await;
    chain.mine(1).await;
    mined!(streams.withdraw(id));
    mined!(streams.cancel(id));
    // Past the indexer's confirmation depth (2), so the last blocks are indexed whatever else
    // the node mined meanwhile (CI once saw the sync stop short of the cancellation).
    chain.mine(2).await;
    ix.sync_to_head().await.unwrap();
    assert_eq!(
        names(&db, address).await,
        [
            "HolderCheckpointed",
            "StreamCreated",
            "StreamDeposited",
            "AccrualCredited",
            "StreamCancelled"
        ],
        "the holder enables streams; create (deposit included), cancel with its round-up"
    );
    let (withdrawn, credited, refunded): (String, String, String) =
        sqlx::query_as("SELECT withdrawn, credited, refunded FROM streams WHERE stream_id = $1")
            .bind(id.to_string())
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((&*withdrawn, &*credited, &*refunded), ("0", "1", "1499"));
    assert_stream_matches(&chain, &db, id, "cancelled", "1500").await;
    let report = fairtrain_indexer::reconcile::reconcile(&db, &chain.provider, &chain.deployment)
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");
    sqlx::query("UPDATE streams SET balance = '1' WHERE stream_id = $1")
        .bind(id.to_string())
        .execute(&db.pool)
        .await
        .unwrap();
    let report = fairtrain_indexer::reconcile::reconcile(&db, &chain.provider, &chain.deployment)
        .await
        .unwrap();
    let named: Vec<&str> = report.differences.iter().map(|d| d.what.as_str()).collect();
    assert_eq!(
        named,
        [
            format!(
                "balanceOf(streams) = Σ stream balances + Σ owedTo ({})",
                fairtrain_indexer::units::addr(&token)
            ),
            format!("getStream({id}) balance, rate, status"),
        ],
        "the stream and the token's accounting identity: {report}"
    );
    fairtrain_indexer::derive::rebuild(&db, &chain.deployment)
        .await
        .unwrap();
    assert_stream_matches(&chain, &db, id, "cancelled", "1500").await;
}

/// The derived row of stream `id` against `getStream` and the expected status and deposits;
/// withdrawn + credited + refunded + balance = deposited.
async fn assert_stream_matches(chain: &Chain, db: &Db, id: U256, status: &str, deposited: &str) {
    let onchain = RoyaltyStreams::new(
        chain.deployment.royalty_streams.unwrap(),
        chain.provider.clone(),
    )
    .getStream(id)
    .call()
    .await
    .unwrap();
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
    );
    let row: Row = sqlx::query_as(
        "SELECT payer, license_id, token, rate, status, deposited, withdrawn, credited, \
         refunded, balance FROM streams WHERE stream_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let (payer, license, token, rate, st, dep, withdrawn, credited, refunded, balance) = row;
    assert_eq!(payer, fairtrain_indexer::units::addr(&onchain.payer));
    assert_eq!(license, onchain.licenseId.to_string());
    assert_eq!(token, fairtrain_indexer::units::addr(&onchain.token));
    assert_eq!(rate, onchain.ratePerSecond.to_string());
    assert_eq!(balance, onchain.balance.to_string());
    assert_eq!(st, status);
    assert_eq!(dep, deposited);
    let n = |s: &str| s.parse::<u128>().unwrap();
    assert_eq!(
        n(&withdrawn) + n(&credited) + n(&refunded) + n(&balance),
        n(&dep)
    );
}
both_databases!(stream_stored_and_derived, super::streams_stored);
