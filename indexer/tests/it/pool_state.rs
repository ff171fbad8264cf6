//! Derived pool and stream state against the contracts' views: a pool created from the factory,
//! paid by direct transfers, distributed, with a share transfer and claims; reconcile, rebuild,
//! corruption and a reorganisation dropping a distribution; a pool paid by escrow claims as the
//! holder of a license. Streams that run out of balance or
//! pass their end show as insolvent or ended, and the state agrees with `stateOf` through
//! withdrawals, top-ups, pauses, restarts, rate changes and cancellation.

use alloy::{
    primitives::{aliases::U40, Address, U256},
    providers::Provider,
    transports::http::reqwest,
};
use fairtrain_indexer::{
    derive::{self, streams::StreamState},
    query::{pools, streams},
    reconcile::{reconcile, Report},
    sync::Indexer,
    units::addr,
    Db,
};
use fairtrain_protocol::bindings::{
    pools::RevenuePool, LicenseNFT, RevenuePoolFactory, RoyaltyStreams,
};
use serde_json::json;

use crate::{
    api::cli,
    audit::{claim as claim_batch, commit},
    both_databases,
    support::{config, serve_api, Backend, Chain, Connect, MockToken, TestDb},
};

async fn indexer(chain: &Chain, db: &Db) -> Indexer {
    chain.indexer(db, config()).await
}

/// Mines a transaction and waits for its receipt (asserting success).
macro_rules! mine {
    ($call:expr) => {{
        let receipt = $call.send().await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status(), "transaction reverted");
    }};
}

async fn clean(chain: &Chain, db: &Db) -> Report {
    let report = reconcile(db, &chain.provider, &chain.deployment)
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");
    report
}

/// Every row of the pool tables, in a stable order (for comparing a rebuild).
async fn pool_rows(db: &Db) -> Vec<String> {
    let mut out = Vec::new();
    for (table, order) in [
        ("pools", "pool"),
        ("pool_tokens", "pool, token"),
        ("pool_holders", "pool, holder"),
        ("pool_accounts", "pool, token, holder"),
    ] {
        let sql = format!("SELECT * FROM {table} ORDER BY {order}",);
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&db.pool)
            .await
            .unwrap();
        for row in rows {
            use sqlx::{Column, Row};
            let cols: Vec<String> = row
                .columns()
                .iter()
                .map(|c| {
                    row.try_get::<String, _>(c.ordinal())
                        .or_else(|_| row.try_get::<i64, _>(c.ordinal()).map(|i| i.to_string()))
                        .unwrap()
                })
                .collect();
            out.push(format!("{table}: {}", cols.join(" | ")));
        }
    }
    out
}

/// The derived pool (through the API's query) against the pool's views: totals per token and
/// every holder's shares and claimable amount; claimed per holder against what the claims paid.
async fn assert_pool_matches(chain: &Chain, db: &Db, pool: Address, claimed: &[(Address, u64)]) {
    let token = chain.deployment.payment_tokens[0];
    let view = pools::pool(db, &addr(&pool)).await.unwrap().unwrap();
    let c = RevenuePool::new(pool, chain.provider.clone());
    let state = c.tokenState(token).call().await.unwrap();
    assert_eq!(view.pool.tokens.len(), 1);
    let t = &view.pool.tokens[0];
    assert_eq!(t.token, addr(&token));
    assert_eq!(t.distributed, state.received.to_string());
    assert_eq!(t.claimed, state.paidOut.to_string());
    assert_eq!(t.acc_per_share, state.accPerShare.to_string());
    assert_eq!(t.carry, state.carry.to_string());
    assert_eq!(
        view.pool.total_supply,
        c.totalSupply().call().await.unwrap().to_string()
    );
    assert!(view.pool.transferable);
    for h in &view.holder_list {
        let holder: Address = h.holder.parse().unwrap();
        assert_eq!(
            h.shares,
            c.balanceOf(holder).call().await.unwrap().to_string()
        );
        let due = c.claimable(holder, token).call().await.unwrap();
        assert_eq!(
            h.tokens[0].claimable,
            due.to_string(),
            "claimable of {holder}"
        );
        let paid = claimed
            .iter()
            .find(|(a, _)| *a == holder)
            .map_or(0, |(_, n)| *n);
        assert_eq!(h.tokens[0].claimed, paid.to_string(), "claimed by {holder}");
    }
}

async fn pay(chain: &Chain, pool: Address, amount: u64) {
    let (_, p) = chain.wallet(0);
    let token = chain.deployment.payment_tokens[0];
    income(chain, pool, amount).await;
    mine!(RevenuePool::new(pool, p).distribute(token));
}

/// Income by a direct transfer (as an escrow claim or a stream withdrawal pays a holder), not
/// distributed.
async fn income(chain: &Chain, pool: Address, amount: u64) {
    let (_, p) = chain.wallet(0);
    let token = chain.deployment.payment_tokens[0];
    mine!(MockToken::new(token, p).mint(pool, U256::from(amount)));
}

async fn claim(chain: &Chain, pool: Address, who: usize) -> u64 {
    let (holder, p) = chain.wallet(who);
    let token = chain.deployment.payment_tokens[0];
    let c = RevenuePool::new(pool, p);
    let amount = c.claim(holder, token).call().await.unwrap();
    mine!(c.claim(holder, token));
    amount.to::<u64>()
}

async fn pool_lifecycle(backend: Backend) {
    let chain = Chain::deployed().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let mut ix = indexer(&chain, &db).await;
    let token = chain.deployment.payment_tokens[0];

    // Members 1 and 2 with 1 and 2 shares: 1000 / 3 leaves a carry.
    let pool = chain.create_pool("Split", [1, 2], true).await;
    pay(&chain, pool, 1000).await;
    // 300 more arrive and nobody distributes them; member 2 sells one share to account 3. The
    // sale books the 300 first (`IncomeDistributed` in the sale's transaction): income received
    // so far stays with the holders before it.
    income(&chain, pool, 300).await;
    let (_, p2) = chain.wallet(2);
    mine!(RevenuePool::new(pool, p2).transfer(chain.wallet(3).0, U256::from(1)));
    pay(&chain, pool, 500).await;
    let c1 = claim(&chain, pool, 1).await;
    let c3 = claim(&chain, pool, 3).await;
    assert_eq!(
        (c1, c3),
        (600, 166),
        "(1000 + 300 + 500)/3 and 500/3, rounded down"
    );

    ix.sync_to_head().await.unwrap();
    let claimed = [(chain.wallet(1).0, c1), (chain.wallet(3).0, c3)];
    assert_pool_matches(&chain, &db, pool, &claimed).await;
    let view = pools::pool(&db, &addr(&pool)).await.unwrap().unwrap();
    assert_eq!(view.pool.tokens[0].distributed, "1800");
    assert_eq!(view.pool.tokens[0].claimed, "766");
    assert_eq!(view.pool.tokens[0].distributions, 3);
    assert_eq!(view.pool.holders, 3);
    assert_eq!(
        view.pool.factory,
        addr(&chain.deployment.revenue_pool_factory.unwrap())
    );
    assert_eq!(view.pool.creator, addr(&chain.wallet(0).0));
    let listed = pools::pools(&db, Default::default()).await.unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(listed.items[0], view.pool);
    let report = clean(&chain, &db).await;
    assert!(report.checks > 5, "{report}");

    // The API serves the same numbers.
    let base = serve_api(&chain, &db).await;
    let body: serde_json::Value = reqwest::get(format!("{base}/api/pools/{}", addr(&pool)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body, serde_json::to_value(&view).unwrap());
    let body: serde_json::Value = reqwest::get(format!("{base}/api/pools?per_page=1"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["items"][0]["tokens"][0]["distributed"], "1800");

    // So does the CLI.
    let (code, out) = cli(&test_db.url, &chain, &["query", "pool", &addr(&pool)]);
    assert_eq!(code, 0, "{out}");
    let printed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed, serde_json::to_value(&view).unwrap());
    let (code, out) = cli(&test_db.url, &chain, &["query", "pools"]);
    assert_eq!(code, 0, "{out}");
    let printed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed["items"][0]["pool"], addr(&pool));

    // A rebuild gives the same rows.
    let before = pool_rows(&db).await;
    derive::rebuild(&db, &chain.deployment).await.unwrap();
    assert_eq!(pool_rows(&db).await, before);

    // Corrupted values are named: a token total, one holder's account, and the pool's own
    // parameters.
    sqlx::query("UPDATE pool_tokens SET distributed = '1799'")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE pools SET total_supply = '1'")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE pool_accounts SET owed_scaled = '7' WHERE holder = $1")
        .bind(addr(&chain.wallet(2).0))
        .execute(&db.pool)
        .await
        .unwrap();
    let (code, out) = cli(&test_db.url, &chain, &["reconcile"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("DIFFERS pool {}: tokenState(", addr(&pool))),
        "{out}"
    );
    let report = reconcile(&db, &chain.provider, &chain.deployment)
        .await
        .unwrap();
    let named: Vec<&str> = report.differences.iter().map(|d| d.what.as_str()).collect();
    assert_eq!(
        named,
        [
            format!("pool {}", addr(&pool)),
            format!(
                "pool {}: claimable({}, {})",
                addr(&pool),
                addr(&chain.wallet(2).0),
                addr(&token)
            ),
            format!("pool {}: tokenState({})", addr(&pool), addr(&token)),
        ],
        "{report}"
    );
    assert!(
        report.differences[0].indexed.contains("totalSupply 1,")
            && report.differences[0].chain.starts_with("isPool true, "),
        "{report}"
    );
    derive::rebuild(&db, &chain.deployment).await.unwrap();
    assert_eq!(pool_rows(&db).await, before);
    clean(&chain, &db).await;

    // A reorganisation that drops a distribution rolls it back.
    let snapshot = chain.rpc("evm_snapshot", json!([])).await;
    pay(&chain, pool, 300).await;
    ix.sync_to_head().await.unwrap();
    let view = pools::pool(&db, &addr(&pool)).await.unwrap().unwrap();
    assert_eq!(view.pool.tokens[0].distributed, "2100");
    assert_eq!(view.pool.tokens[0].distributions, 4);
    chain.rpc("evm_revert", json!([snapshot])).await;
    chain.mine(10).await;
    ix.sync_to_head().await.unwrap();
    let view = pools::pool(&db, &addr(&pool)).await.unwrap().unwrap();
    assert_eq!(view.pool.tokens[0].distributed, "1800");
    assert_eq!(view.pool.tokens[0].distributions, 3);
    assert_eq!(pool_rows(&db).await, before);
    assert_pool_matches(&chain, &db, pool, &claimed).await;
    clean(&chain, &db).await;
    drop(test_db);
}
both_databases!(pool_derived_equal_to_the_contract, super::pool_lifecycle);

/// Current block timestamp.
async fn now(chain: &Chain) -> u64 {
    chain
        .provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp
}

async fn state(db: &Db, id: U256) -> streams::StreamView {
    streams::stream(db, &id.to_string()).await.unwrap().unwrap()
}

const UNIT: u128 = 1_000_000_000_000_000_000;

async fn streams_run_out(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let mut ix = indexer(&chain, &db).await;

    chain.enable_streams(U256::from(1)).await;
    let (payer, p) = chain.wallet(3);
    let token = chain.deployment.payment_tokens[0];
    let address = chain.deployment.royalty_streams.unwrap();
    let t = MockToken::new(token, p.clone());
    mine!(t.mint(payer, U256::from(10_000)));
    mine!(t.approve(address, U256::from(10_000)));
    let streams = RoyaltyStreams::new(address, p);
    // A: 10 units a second with 100 deposited (runs dry after 10 s). B: 1 unit a second for
    // 30 s, funded for longer (ends).
    let params = |rate: u128, end: u64, deposit: u128| {
        fairtrain_protocol::bindings::streams::Streams::CreateParams {
            licenseId: U256::from(1),
            token,
            ratePerSecond: rate,
            startTime: U40::ZERO,
            endTime: U40::from(end),
            operator: Address::ZERO,
            deposit,
        }
    };
    let a = streams
        .create(params(10 * UNIT, 0, 100))
        .call()
        .await
        .unwrap();
    mine!(streams.create(params(10 * UNIT, 0, 100)));
    let end = now(&chain).await + 30;
    let b = streams
        .create(params(UNIT, end, 1000))
        .call()
        .await
        .unwrap();
    mine!(streams.create(params(UNIT, end, 1000)));
    ix.sync_to_head().await.unwrap();
    assert_eq!(state(&db, a).await.state, StreamState::Streaming);
    assert_eq!(state(&db, b).await.state, StreamState::Streaming);
    clean(&chain, &db).await;

    // A minute later, without any stream event: A is insolvent, B has ended.
    chain.rpc("evm_increaseTime", json!([60])).await;
    chain.mine(1).await;
    ix.sync_to_head().await.unwrap();
    let sa = state(&db, a).await;
    assert_eq!(sa.state, StreamState::Insolvent, "{sa:?}");
    assert_eq!(sa.withdrawable, "100");
    assert_eq!(sa.status, "active", "what the contract stores");
    assert_eq!(state(&db, b).await.state, StreamState::Ended);
    let listed = streams::streams(&db, Some("1"), Some(&addr(&payer)), Default::default())
        .await
        .unwrap();
    assert_eq!(listed.total, 2);
    let (code, out) = cli(
        &test_db.url,
        &chain,
        &["query", "streams", "--payer", &addr(&payer)],
    );
    assert_eq!(code, 0, "{out}");
    let printed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let states: Vec<&str> = printed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["insolvent", "ended"]);
    let (code, out) = cli(&test_db.url, &chain, &["query", "stream", "999"]);
    assert_eq!(code, 1, "{out}");
    clean(&chain, &db).await;

    // Withdrawing pays what the balance covered (StreamWithdrawn, then StreamInsolvent).
    mine!(streams.withdraw(a));
    ix.sync_to_head().await.unwrap();
    let sa = state(&db, a).await;
    assert_eq!(
        (sa.state, sa.withdrawn.as_str()),
        (StreamState::Insolvent, "100")
    );
    clean(&chain, &db).await;

    // Top up, pause, restart at another rate, adjust it, cancel: the state follows the chain.
    mine!(streams.deposit(a, 5000));
    ix.sync_to_head().await.unwrap();
    clean(&chain, &db).await;
    mine!(streams.pause(a));
    ix.sync_to_head().await.unwrap();
    assert_eq!(state(&db, a).await.state, StreamState::Paused);
    clean(&chain, &db).await;
    chain.rpc("evm_increaseTime", json!([5])).await;
    mine!(streams.restart(a, 5 * UNIT / 2));
    chain.rpc("evm_increaseTime", json!([3])).await;
    chain.mine(1).await;
    ix.sync_to_head().await.unwrap();
    assert_eq!(state(&db, a).await.state, StreamState::Streaming);
    clean(&chain, &db).await;
    mine!(streams.adjustRate(a, 7 * UNIT / 3));
    chain.rpc("evm_increaseTime", json!([7])).await;
    chain.mine(1).await;
    ix.sync_to_head().await.unwrap();
    clean(&chain, &db).await;
    mine!(streams.cancel(a));
    mine!(streams.cancel(b));
    ix.sync_to_head().await.unwrap();
    assert_eq!(state(&db, a).await.state, StreamState::Cancelled);
    assert_eq!(state(&db, b).await.state, StreamState::Cancelled);
    clean(&chain, &db).await;
    derive::rebuild(&db, &chain.deployment).await.unwrap();
    clean(&chain, &db).await;

    // The license holder: 100 withdrawn from A; the rest booked to its `owedTo` by the payer's
    // operations, which it then withdraws.
    let holder = LicenseNFT::new(chain.deployment.license_nft, chain.provider.clone())
        .ownerOf(U256::from(1))
        .call()
        .await
        .unwrap();
    let payees = streams::stream_payees(&db, Some(&addr(&holder)), Default::default())
        .await
        .unwrap();
    assert_eq!(payees.total, 1);
    let row = &payees.items[0];
    let owed = RoyaltyStreams::new(address, chain.provider.clone())
        .owedTo(holder, token)
        .call()
        .await
        .unwrap();
    assert_eq!(row.withdrawn, "100");
    assert_eq!(row.owed, owed.to_string());
    assert!(owed > U256::ZERO);
    mine!(streams.withdrawOwed(holder, token));
    ix.sync_to_head().await.unwrap();
    let (code, out) = cli(
        &test_db.url,
        &chain,
        &["query", "stream-payees", "--holder", &addr(&holder)],
    );
    assert_eq!(code, 0, "{out}");
    let printed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let row = &printed["items"][0];
    assert_eq!(row["owed"], "0");
    assert_eq!(row["owed_withdrawn"], owed.to_string());
    assert_eq!(row["received"], (owed + U256::from(100)).to_string());
    clean(&chain, &db).await;
    sqlx::query("UPDATE stream_payees SET owed = '5'")
        .execute(&db.pool)
        .await
        .unwrap();
    let report = reconcile(&db, &chain.provider, &chain.deployment)
        .await
        .unwrap();
    let named: Vec<&str> = report.differences.iter().map(|d| d.what.as_str()).collect();
    assert_eq!(
        named,
        [
            format!(
                "balanceOf(streams) = Σ stream balances + Σ owedTo ({})",
                addr(&token)
            ),
            format!("owedTo({}, {})", addr(&holder), addr(&token)),
        ],
        "{report}"
    );
    drop(test_db);
}
both_databases!(streams_show_insolvent_and_ended, super::streams_run_out);

/// For the dashboard test: account 3 opens a stream to license 1 (10 units a second, 100
/// deposited) that runs dry, and it is withdrawn a minute later; account 0 creates a pool of
/// accounts 1 and 2 (1 and 2 shares), pays it 1000, distributes, and account 1 claims. Returns
/// the stream id and the pool.
pub(crate) async fn insolvent_stream_and_paid_pool(chain: &Chain) -> (U256, Address) {
    chain.enable_streams(U256::from(1)).await;
    let (payer, p) = chain.wallet(3);
    let token = chain.deployment.payment_tokens[0];
    let address = chain.deployment.royalty_streams.unwrap();
    let t = MockToken::new(token, p.clone());
    mine!(t.mint(payer, U256::from(100)));
    mine!(t.approve(address, U256::from(100)));
    let streams = RoyaltyStreams::new(address, p);
    let params = fairtrain_protocol::bindings::streams::Streams::CreateParams {
        licenseId: U256::from(1),
        token,
        ratePerSecond: 10 * UNIT,
        startTime: U40::ZERO,
        endTime: U40::ZERO,
        operator: Address::ZERO,
        deposit: 100,
    };
    let id = streams.create(params.clone()).call().await.unwrap();
    mine!(streams.create(params));
    chain.rpc("evm_increaseTime", json!([60])).await;
    mine!(streams.withdraw(id));

    let pool = chain.create_pool("Split", [1, 2], false).await;
    pay(chain, pool, 1000).await;
    claim(chain, pool, 1).await;
    (id, pool)
}

/// Per-sample royalties reach a pool that holds the license: the escrow pays `ownerOf`, the pool
/// distributes, and the derived totals equal both the settlements the indexer recorded for the
/// pool and the pool's views.
async fn pool_paid_by_escrow_claims(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let mut ix = indexer(&chain, &db).await;
    let token = chain.deployment.payment_tokens[0];

    // The holder of license 1 moves it into a new pool of two members.
    let nft = LicenseNFT::new(chain.deployment.license_nft, chain.provider.clone());
    let holder = nft.ownerOf(U256::from(1)).call().await.unwrap();
    let index = (0..10)
        .find(|&i| chain.wallet(i).0 == holder)
        .expect("license 1 held by an anvil account");
    let (_, p0) = chain.wallet(0);
    let factory = RevenuePoolFactory::new(chain.deployment.revenue_pool_factory.unwrap(), p0);
    let config = fairtrain_protocol::bindings::pool_factory::Pools::Config {
        name: "Dataset".into(),
        symbol: "DATA".into(),
        members: vec![holder, chain.wallet(5).0],
        shares: vec![U256::from(3), U256::from(1)],
        tokens: vec![token],
        transferable: true,
        manager: holder,
    };
    let pool = factory.createPool(config.clone()).call().await.unwrap();
    mine!(factory.createPool(config));
    let (_, ph) = chain.wallet(index);
    mine!(
        LicenseNFT::new(chain.deployment.license_nft, ph).transferFrom(holder, pool, U256::from(1))
    );

    // A batch paying licenses 1, 2 and 4 is committed and claimed: license 1's part goes to
    // the pool, which distributes it; the second member claims.
    let batch = commit(&chain, "pool-income", 0).await;
    claim_batch(&chain, &batch, &[0, 1, 2]).await;
    let received = MockToken::new(token, chain.provider.clone())
        .balanceOf(pool)
        .call()
        .await
        .unwrap();
    assert!(received > U256::ZERO);
    let (_, p5) = chain.wallet(5);
    mine!(RevenuePool::new(pool, p5.clone()).distribute(token));
    let c5 = RevenuePool::new(pool, p5.clone())
        .claim(chain.wallet(5).0, token)
        .call()
        .await
        .unwrap();
    mine!(RevenuePool::new(pool, p5).claim(chain.wallet(5).0, token));

    ix.sync_to_head().await.unwrap();
    let settled = fairtrain_indexer::query::settlements(
        &db,
        Some(&addr(&pool)),
        None,
        None,
        Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(settled.total, 1, "license 1's claim paid the pool");
    let s = &settled.items[0];
    let net = s.amount.parse::<U256>().unwrap() - s.fee.parse::<U256>().unwrap();
    assert_eq!(net, received);
    let view = pools::pool(&db, &addr(&pool)).await.unwrap().unwrap();
    assert_eq!(view.pool.tokens[0].distributed, net.to_string());
    assert_eq!(view.pool.tokens[0].claimed, c5.to_string());
    assert_pool_matches(&chain, &db, pool, &[(chain.wallet(5).0, c5.to::<u64>())]).await;
    clean(&chain, &db).await;
    drop(test_db);
}
both_databases!(
    pool_paid_by_escrow_claims_equal_to_the_contract,
    super::pool_paid_by_escrow_claims
);
