//! Test support: a devnet per test from the test kit (`fairtrain-testkit`: anvil with the suite
//! as `contracts/script/Deploy.s.sol` deploys it), the demo lifecycle of
//! `contracts/script/Demo.s.sol` (as `scripts/lib/demo.sh` runs it), the kit's fresh SQLite and
//! PostgreSQL databases, and helpers that send transactions.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use alloy::{
    network::Ethereum,
    primitives::{Address, U256},
    providers::{DynProvider, PendingTransactionBuilder, Provider},
    rpc::types::Filter,
};
use axum::{http::StatusCode, response::IntoResponse};
use fairtrain_indexer::{
    api::{router, AppState},
    fetch::Fetcher,
    sync::{Indexer, SyncConfig},
    Db,
};
use fairtrain_protocol::bindings::{
    pool_factory::Pools, Escrow, LicenseNFT, RevenuePoolFactory, RoyaltyStreams, TrainingEscrow,
};
use fairtrain_testkit::mined;
use fairtrain_testkit::{address, devnet::forge_script as forge, KEYS};
pub(crate) use fairtrain_testkit::{root, Backend, Devnet, TestDb};

alloy::sol! {
    #[sol(rpc)]
    interface MockToken {
        function mint(address to, uint256 amount) external;
        function approve(address spender, uint256 value) external returns (bool);
        function balanceOf(address account) external view returns (uint256);
    }
}

/// Forge scripts write `deployments/31337.json`, `broadcast/` and `cache/` in the repository:
/// one at a time.
static FORGE: Mutex<()> = Mutex::new(());

/// Anvil account of Demo.s.sol's payer (its `PAYER` key).
pub(crate) const DEMO_PAYER: usize = 3;

/// Anvil account of Demo.s.sol's relayer (its `RELAYER` key), whose credit line the demo funds.
pub(crate) const DEMO_RELAYER: usize = 4;

/// Waits for a sent transaction and asserts it did not revert (`what` names it in panics).
pub(crate) async fn landed(
    what: &str,
    sent: Result<PendingTransactionBuilder<Ethereum>, alloy::contract::Error>,
) {
    let pending = sent.unwrap_or_else(|e| panic!("{what}: {e}"));
    let provider = pending.provider().clone();
    let receipt = pending
        .get_receipt()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(receipt.status(), "{what} reverted");
    head_reaches(&provider, receipt.block_number.expect("mined")).await;
}

/// Waits until the node's head is at least `block`. Under load anvil can hand out a receipt
/// before its block is the head, and an indexer syncing "to the head" at that moment stops one
/// block short of the transaction.
pub(crate) async fn head_reaches(provider: &impl Provider, block: u64) {
    for _ in 0..200 {
        if provider.get_block_number().await.unwrap() >= block {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the head never reached block {block}");
}

/// A devnet with the suite deployed (its node, URL, deployment and provider through `Deref`).
pub(crate) struct Chain {
    devnet: Devnet,
}

impl std::ops::Deref for Chain {
    type Target = Devnet;

    fn deref(&self) -> &Devnet {
        &self.devnet
    }
}

impl Chain {
    /// Starts anvil with the suite deployed.
    pub(crate) async fn deployed() -> Self {
        Self::deployed_with(&[]).await
    }

    /// Starts anvil with extra command-line arguments and the suite deployed.
    pub(crate) async fn deployed_with(args: &[&str]) -> Self {
        Self {
            devnet: Devnet::start_with(args).await,
        }
    }

    /// Starts anvil with the suite deployed, and runs the demo lifecycle (licenses, deposit,
    /// acceptances, one committed batch, claims).
    pub(crate) async fn with_demo() -> Self {
        let chain = Self::deployed().await;
        chain.demo().await;
        chain
    }

    /// Runs `Demo.s.sol`: `prepare()`, a notice period of time, `settle()`.
    pub(crate) async fn demo(&self) {
        {
            let _guard = FORGE.lock().unwrap_or_else(|e| e.into_inner());
            forge(
                &self.url,
                &["contracts/script/Demo.s.sol", "--sig", "prepare()"],
                &[],
            );
        }
        self.advance(3600).await;
        let _guard = FORGE.lock().unwrap_or_else(|e| e.into_inner());
        forge(
            &self.url,
            &["contracts/script/Demo.s.sol", "--sig", "settle()"],
            &[],
        );
    }

    /// Number of logs the followed contracts emitted, straight from the node.
    pub(crate) async fn log_count(&self) -> usize {
        let filter = Filter::new()
            .address(self.deployment.addresses().to_vec())
            .from_block(self.deployment.start_block)
            .to_block(self.head().await);
        self.provider.get_logs(&filter).await.unwrap().len()
    }

    /// The address of anvil's account `index` and a provider that signs with its key.
    pub(crate) fn wallet(&self, index: usize) -> (Address, DynProvider) {
        (address(index), self.devnet.wallet(index))
    }

    /// The holder of `license` (one of anvil's accounts) lets payers stream to it.
    pub(crate) async fn enable_streams(&self, license: U256) {
        let holder = LicenseNFT::new(self.deployment.license_nft, self.provider.clone())
            .ownerOf(license)
            .call()
            .await
            .unwrap();
        let index = (0..KEYS.len())
            .find(|&i| self.wallet(i).0 == holder)
            .expect("the license's holder is an anvil account");
        let (_, p) = self.wallet(index);
        let receipt = mined!(
            RoyaltyStreams::new(self.deployment.royalty_streams.unwrap(), p).enableStreams(license)
        );
        assert!(receipt.status(), "enableStreams reverted");
    }

    /// Account `index` mints `amount` test tokens and deposits them (three transactions).
    pub(crate) async fn deposit(&self, index: usize, amount: u64) -> Address {
        let (payer, p) = self.wallet(index);
        let token = self.token();
        let amount = U256::from(amount);
        let t = MockToken::new(token, p.clone());
        landed("mint", t.mint(payer, amount).send().await).await;
        landed(
            "approve",
            t.approve(self.deployment.training_escrow, amount)
                .send()
                .await,
        )
        .await;
        landed(
            "deposit",
            self.escrow_as(index).deposit(token, amount).send().await,
        )
        .await;
        payer
    }

    /// The escrow, sending as anvil's account `index`.
    pub(crate) fn escrow_as(
        &self,
        index: usize,
    ) -> TrainingEscrow::TrainingEscrowInstance<DynProvider> {
        TrainingEscrow::new(self.deployment.training_escrow, self.wallet(index).1)
    }

    /// Payer account `payer` moves `amount` of its available balance into its credit line for
    /// `relayer` (`fundCredit`, token of [`Self::token`]).
    pub(crate) async fn fund_credit(&self, payer: usize, relayer: Address, amount: u128) {
        let call = self.escrow_as(payer);
        let call = call.fundCredit(relayer, self.token(), amount);
        landed("fundCredit", call.send().await).await;
    }

    /// Payer account `payer` asks to take `amount` of credit back from its line for `relayer`
    /// (`requestCreditReduction`; effective a notice period later).
    pub(crate) async fn request_reduction(&self, payer: usize, relayer: Address, amount: u128) {
        let call = self.escrow_as(payer);
        let call = call.requestCreditReduction(relayer, self.token(), amount);
        landed("requestCreditReduction", call.send().await).await;
    }

    /// Payer account `payer` withdraws its pending credit reduction (`cancelCreditReduction`).
    pub(crate) async fn cancel_reduction(&self, payer: usize, relayer: Address) {
        let call = self.escrow_as(payer);
        let call = call.cancelCreditReduction(relayer, self.token());
        landed("cancelCreditReduction", call.send().await).await;
    }

    /// Payer account `payer` executes its effective credit reduction (`reduceCredit`).
    pub(crate) async fn execute_reduction(&self, payer: usize, relayer: Address) {
        let call = self.escrow_as(payer);
        let call = call.reduceCredit(relayer, self.token());
        landed("reduceCredit", call.send().await).await;
    }

    /// Releases the line (payer, relayer, token) once its batches expired (`release`, sent by
    /// the deployer: anyone may).
    pub(crate) async fn release(&self, payer: Address, relayer: Address, token: Address) {
        let call = self.escrow_as(0);
        let call = call.release(payer, relayer, token);
        landed("release", call.send().await).await;
    }

    /// Moves the line's fees to the platform's accrued fees (`sweepFees`, sent by the
    /// deployer: anyone may).
    pub(crate) async fn sweep_fees(&self, payer: Address, relayer: Address, token: Address) {
        let call = self.escrow_as(0);
        let call = call.sweepFees(payer, relayer, token);
        landed("sweepFees", call.send().await).await;
    }

    /// The chain's `creditLine` and `creditReduction` of (payer, relayer, [`Self::token`]) at
    /// `block`.
    pub(crate) async fn line(
        &self,
        payer: Address,
        relayer: Address,
        block: u64,
    ) -> (Escrow::CreditLine, Escrow::CreditReduction) {
        let escrow = TrainingEscrow::new(self.deployment.training_escrow, self.provider.clone());
        let at = alloy::eips::BlockId::number(block);
        let line = escrow
            .creditLine(payer, relayer, self.token())
            .block(at)
            .call()
            .await
            .unwrap();
        let reduction = escrow
            .creditReduction(payer, relayer, self.token())
            .block(at)
            .call()
            .await
            .unwrap();
        (line, reduction)
    }

    /// The token balance of the escrow at `block` (what the accounting identity must sum to).
    pub(crate) async fn escrow_holds(&self, block: u64) -> U256 {
        MockToken::new(self.token(), self.provider.clone())
            .balanceOf(self.deployment.training_escrow)
            .block(alloy::eips::BlockId::number(block))
            .call()
            .await
            .unwrap()
    }

    /// The escrow's view of a payer's available balance.
    pub(crate) async fn available(&self, payer: Address) -> U256 {
        TrainingEscrow::new(self.deployment.training_escrow, self.provider.clone())
            .availableBalance(payer, self.deployment.payment_tokens[0])
            .call()
            .await
            .unwrap()
    }
}

/// Connecting the indexer's store to a test database.
pub(crate) trait Connect {
    /// Connects (and migrates).
    async fn connect(&self) -> Db;
}

impl Connect for TestDb {
    async fn connect(&self) -> Db {
        Db::connect(&self.url).await.unwrap()
    }
}

/// A local HTTP server publishing batch data by path (a missing path is a 404; it also answers
/// as an IPFS gateway, `/ipfs/CID/…`). It listens on 127.0.0.1, which the indexer refuses by
/// default: fetchers must allow its [`Publisher::host`].
pub(crate) struct Publisher {
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    /// `127.0.0.1:<port>`, for `--allow-data-host`.
    pub(crate) host: String,
    served: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

impl Publisher {
    /// Starts it (in the test's runtime).
    pub(crate) async fn start() -> Self {
        let served: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let docs = served.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let docs = docs.clone();
            async move {
                match docs.lock().unwrap().get(uri.path()) {
                    Some(bytes) => (StatusCode::OK, bytes.clone()).into_response(),
                    None => (StatusCode::NOT_FOUND, "not published").into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base: format!("http://{host}"),
            host,
            served,
        }
    }

    /// The URL of `path` (from `/`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Serves `bytes` at `path`.
    pub(crate) fn publish(&self, path: &str, bytes: &[u8]) {
        self.served
            .lock()
            .unwrap()
            .insert(path.to_owned(), bytes.to_vec());
    }

    /// Stops serving `path`.
    pub(crate) fn take_down(&self, path: &str) {
        self.served.lock().unwrap().remove(path);
    }

    /// A fetcher that allows this server (and refuses every other non-public host).
    pub(crate) fn fetcher(&self) -> Fetcher {
        Fetcher::default().with_allowed_hosts([self.host.parse().unwrap()])
    }
}

/// Sync settings for tests: small first range so that several ranges run.
pub(crate) fn config() -> SyncConfig {
    SyncConfig {
        initial_range: 4,
        max_range: 64,
        confirmations: Some(2),
        ..SyncConfig::default()
    }
}

/// Declares `$name` as a test on SQLite and on PostgreSQL, calling `$body(Backend)`.
#[macro_export]
macro_rules! both_databases {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body($crate::support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $body($crate::support::Backend::Postgres).await
            }
        }
    };
}

impl Chain {
    /// An indexer of this chain's deployment into `db`.
    pub(crate) async fn indexer(&self, db: &Db, cfg: SyncConfig) -> Indexer {
        Indexer::new(
            self.provider.clone(),
            db.clone(),
            self.deployment.clone(),
            cfg,
        )
        .await
        .unwrap()
    }

    /// Account 0 creates a revenue pool through the factory: accounts 1 and 2 holding `shares`,
    /// paid in the first payment token, its symbol `name` in capitals. Returns its address.
    pub(crate) async fn create_pool(
        &self,
        name: &str,
        shares: [u64; 2],
        transferable: bool,
    ) -> Address {
        let (_, p0) = self.wallet(0);
        let factory = RevenuePoolFactory::new(self.deployment.revenue_pool_factory.unwrap(), p0);
        let config = Pools::Config {
            name: name.into(),
            symbol: name.to_uppercase(),
            members: vec![self.wallet(1).0, self.wallet(2).0],
            shares: shares.map(U256::from).to_vec(),
            tokens: vec![self.deployment.payment_tokens[0]],
            transferable,
            manager: Address::ZERO,
        };
        let pool = factory.createPool(config.clone()).call().await.unwrap();
        assert!(
            mined!(factory.createPool(config)).status(),
            "createPool reverted"
        );
        pool
    }

    /// Indexes to the head with a new indexer on `db`.
    pub(crate) async fn sync(&self, db: &Db) {
        self.indexer(db, config())
            .await
            .sync_to_head()
            .await
            .unwrap();
    }
}

/// Serves the indexer's API over `db` (asking `chain`) on a free port: its base URL.
pub(crate) async fn serve_api(chain: &Chain, db: &Db) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(AppState::new(
        db.clone(),
        chain.provider.clone(),
        chain.deployment.clone(),
    ));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}
