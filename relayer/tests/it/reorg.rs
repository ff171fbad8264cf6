//! Reorganisations under the chain follower (anvil's `anvil_reorg` replaces the last blocks
//! with empty ones): a deposit, a key registration and a commit the relayer had followed are
//! unwound while it runs, and across a restart; a reorganisation deeper than the window stops
//! the follower (readiness fails, the state is kept) until `resync`. Each time the relayer's
//! view is compared with the state folded afresh from the chain's logs.

use alloy::{
    primitives::{keccak256, Address, U256},
    providers::{ext::AnvilApi, Provider},
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
};
use fairtrain_protocol::{api::relayer::Ready, bindings::LicenseNFT};
use fairtrain_relayer::{
    chain::{journal::Journal, ChainState},
    store::Store,
};
use fairtrain_testkit::mined;
use serde_json::json;

use crate::support::{config, eventually, typed, Chain, Db, Relayer, TestDb};

/// The relayer's view of the chain.
fn view(relayer: &Relayer) -> ChainState {
    relayer.running.app.chain.read().unwrap().clone()
}

/// The state folded from every log of the chain as it is now, up to `head`.
async fn fold(chain: &Chain, head: u64) -> ChainState {
    let filter = Filter::new()
        .address(vec![chain.escrow, chain.nft])
        .from_block(0)
        .to_block(head);
    let mut state = ChainState::default();
    for log in chain.provider.get_logs(&filter).await.unwrap() {
        state.block = log.block_number.unwrap();
        state.apply(chain.escrow, chain.nft, &log.inner);
    }
    state
}

/// Waits until the relayer has followed the head, then checks its view against the chain.
async fn assert_view_is_the_chain(chain: &Chain, relayer: &Relayer) {
    let head = chain.provider.get_block_number().await.unwrap();
    eventually(60, || async { (view(relayer).block >= head).then_some(()) }).await;
    let (v, c) = (view(relayer), fold(chain, head).await);
    assert_eq!(v.block, head);
    assert_eq!(v.signers, c.signers);
    assert_eq!(v.acceptances, c.acceptances);
    assert_eq!(v.lines, c.lines);
    assert_eq!(v.root_relayers, c.root_relayers);
    assert_eq!(v.available, c.available);
    assert_eq!(v.settled, c.settled);
    assert_eq!(v.holders, c.holders);
    assert_eq!(v.committed_roots, c.committed_roots);
    // And with the escrow's own view.
    assert_eq!(
        v.available(chain.payer.address(), chain.token),
        chain.available().await
    );
    let line = v.line(chain.payer.address(), chain.relayer.address(), chain.token);
    let onchain = chain.line().await;
    assert_eq!(line.credit, U256::from(onchain.credit));
    assert_eq!(line.reserved, U256::from(onchain.reserved));
    assert_eq!(line.reserved_until, onchain.reservedUntil.to::<u64>());
}

/// The payer mints `amount` test tokens and deposits them (two blocks).
async fn deposit(chain: &Chain, amount: u64) {
    let mint = [
        &keccak256("mint(address,uint256)")[..4],
        &alloy::sol_types::SolValue::abi_encode_params(&(
            chain.payer.address(),
            U256::from(amount),
        )),
    ]
    .concat();
    let tx = alloy::rpc::types::TransactionRequest::default()
        .from(chain.owner.address())
        .to(chain.token)
        .input(mint.into());
    chain
        .provider
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    mined!(chain
        .escrow()
        .deposit(chain.token, U256::from(amount))
        .from(chain.payer.address()));
}

/// The payer registers a new training key (one block).
async fn register(chain: &Chain, key: Address) {
    mined!(chain
        .escrow()
        .registerSigner(key)
        .from(chain.payer.address()));
}

/// Replaces the last `depth` blocks with empty ones, then mines one more.
async fn reorg(chain: &Chain, depth: u64) {
    let head = chain.provider.get_block_number().await.unwrap();
    let _: serde_json::Value = chain
        .provider
        .raw_request("anvil_reorg".into(), (depth, json!([])))
        .await
        .unwrap();
    assert_eq!(chain.provider.get_block_number().await.unwrap(), head);
    chain.provider.anvil_mine(Some(1), None).await.unwrap();
}

async fn unwinds_what_it_followed(db: Db) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let mut cfg = config(&chain, &store);
    cfg.batch.max_receipts = 2;
    assert_eq!(cfg.confirmations, 1, "the default: following the head");
    let relayer = Relayer::start(&cfg).await;
    assert_view_is_the_chain(&chain, &relayer).await;
    let fork = chain.provider.get_block_number().await.unwrap();
    let before = chain.available().await;
    let credit_before = chain.credit().await;

    // A commit of the relayer's own, a deposit and a key registration, all followed.
    relayer
        .bulk(&[chain.receipt("run-1", 10), chain.receipt("run-2", 20)])
        .await;
    let root = relayer.batch_in(1, "confirmed", 60).await.batch.root;
    deposit(&chain, 5_000_000).await;
    let key = PrivateKeySigner::from_bytes(&keccak256("reorged key"))
        .unwrap()
        .address();
    register(&chain, key).await;
    eventually(60, || async {
        let v = view(&relayer);
        (v.committed_roots.contains_key(&root)
            && v.signers.contains_key(&(chain.payer.address(), key))
            && v.available(chain.payer.address(), chain.token) == chain.available().await)
            .then_some(())
    })
    .await;
    assert_view_is_the_chain(&chain, &relayer).await;

    // Every block since the fork point is replaced by an empty one.
    let depth = chain.provider.get_block_number().await.unwrap() - fork;
    reorg(&chain, depth).await;
    assert_eq!(chain.available().await, before);
    assert_eq!(chain.credit().await, credit_before);
    assert!(chain.devnet.committed_roots().await.is_empty());

    assert_view_is_the_chain(&chain, &relayer).await;
    let v = view(&relayer);
    assert!(
        !v.committed_roots.contains_key(&root),
        "the commit is unwound"
    );
    assert!(
        !v.signers.contains_key(&(chain.payer.address(), key)),
        "the key is unwound"
    );
    assert_eq!(
        v.available(chain.payer.address(), chain.token),
        before,
        "the deposit is unwound"
    );
    assert_eq!(
        v.line(chain.payer.address(), chain.relayer.address(), chain.token)
            .credit,
        credit_before,
        "the reservation is unwound"
    );

    // Following goes on on the new branch: the creator (none of whose transactions was
    // reorganised away, so its provider's nonce is right) transfers the license.
    mined!(LicenseNFT::new(chain.nft, chain.provider.clone())
        .transferFrom(
            chain.creator.address(),
            chain.owner.address(),
            chain.license_id,
        )
        .from(chain.creator.address()));
    assert_view_is_the_chain(&chain, &relayer).await;
    assert_eq!(
        view(&relayer).holders[&chain.license_id],
        chain.owner.address()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_unwinds_followed_deposit_key_and_commit_sqlite() {
    unwinds_what_it_followed(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_unwinds_followed_deposit_key_and_commit_postgres() {
    unwinds_what_it_followed(Db::Postgres).await;
}

/// The relayer stops having followed a deposit; while it is down the deposit's blocks are
/// replaced. The restarted relayer restores its journal, finds its last block gone on the
/// first step, unwinds and follows the new branch.
async fn reorg_while_stopped(db: Db) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let cfg = config(&chain, &store);
    let before = chain.available().await;
    {
        let relayer = Relayer::start(&cfg).await;
        deposit(&chain, 5_000_000).await;
        assert_view_is_the_chain(&chain, &relayer).await;
        assert_ne!(
            view(&relayer).available(chain.payer.address(), chain.token),
            before
        );
        relayer.stop();
    }
    reorg(&chain, 2).await;
    let relayer = Relayer::start(&cfg).await;
    assert_view_is_the_chain(&chain, &relayer).await;
    assert_eq!(
        view(&relayer).available(chain.payer.address(), chain.token),
        before
    );
    // The journal it wrote restores the same view once more.
    relayer.stop();
    drop(relayer);
    let relayer = Relayer::start(&cfg).await;
    assert_view_is_the_chain(&chain, &relayer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_while_stopped_is_unwound_at_restart_sqlite() {
    reorg_while_stopped(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_while_stopped_is_unwound_at_restart_postgres() {
    reorg_while_stopped(Db::Postgres).await;
}

/// A reorganisation deeper than `reorg_window` stops the follower: readiness fails and the
/// state stays as it was (nothing half-unwound); `resync` (the journal cleared) and a restart
/// follow the chain again from the start block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_deeper_than_the_window_stops_until_resync() {
    let chain = Chain::start().await;
    let store = TestDb::new(Db::Sqlite);
    let mut cfg = config(&chain, &store);
    cfg.reorg_window = 2;
    let relayer = Relayer::start(&cfg).await;
    deposit(&chain, 5_000_000).await;
    chain.provider.anvil_mine(Some(5), None).await.unwrap();
    assert_view_is_the_chain(&chain, &relayer).await;
    let followed = view(&relayer);

    reorg(&chain, 8).await;
    eventually(60, || async {
        let (status, body) = relayer.get("/ready").await;
        (status == 503 && !typed::<Ready>(body).chain_followed).then_some(())
    })
    .await;
    let kept = view(&relayer);
    assert_eq!(kept.block, followed.block);
    assert_eq!(kept.available, followed.available);
    relayer.stop();
    drop(relayer);

    Store::connect(&store.url)
        .await
        .unwrap()
        .journal_clear()
        .await
        .unwrap();
    let relayer = Relayer::start(&cfg).await;
    assert_view_is_the_chain(&chain, &relayer).await;
}

/// Two processes on one PostgreSQL store both follow the chain; one writes the journal. When it
/// goes away the other takes over (reloading the journal), and the journal it writes restores
/// the chain's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_writer_hands_over_postgres() {
    let chain = Chain::start().await;
    let store = TestDb::new(Db::Postgres);
    let cfg = config(&chain, &store);
    let a = Relayer::start(&cfg).await;
    let b = Relayer::start(&cfg).await;
    deposit(&chain, 1_000).await;
    assert_view_is_the_chain(&chain, &a).await;
    assert_view_is_the_chain(&chain, &b).await;
    a.stop();
    drop(a);
    deposit(&chain, 2_000).await;
    assert_view_is_the_chain(&chain, &b).await;
    let head = chain.provider.get_block_number().await.unwrap();
    let db = Store::connect(&store.url).await.unwrap();
    eventually(60, || async {
        let stored = db.journal_load().await.unwrap();
        stored
            .cursor
            .is_some_and(|c| c.number >= head)
            .then_some(())
    })
    .await;
    let (_, restored) = Journal::restore(
        chain.escrow,
        chain.nft,
        cfg.reorg_window,
        cfg.start_block,
        db.journal_load().await.unwrap(),
    )
    .unwrap();
    let folded = fold(&chain, head).await;
    assert_eq!(restored.available, folded.available);
    assert_eq!(restored.signers, folded.signers);
    assert_eq!(restored.block, head);
}
