//! The real `fairtrain-indexer` binary following the devnet (`run`: backfill, follow, serve the
//! API), and the check that the chain, the relayer's accounting and the indexer's totals agree
//! to the unit.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicU64, Ordering},
};

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    rpc::types::Filter,
};
use fairtrain_protocol::{
    api::{
        indexer::{BalanceView, BatchView, CreditLineView, Paged, RoyaltyTotal, Status},
        relayer::Batch,
    },
    Deployment,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::support::*;

/// The `fairtrain-indexer run` process on a free port, over its own store; SIGKILLed on drop.
pub(crate) struct Indexer {
    proc: Option<Proc>,
    db: String,
    rpc: String,
    deployment: PathBuf,
    log: PathBuf,
    range: u64,
    pub(crate) url: String,
    client: reqwest::Client,
}

impl Indexer {
    /// Starts `fairtrain-indexer run` on `db` against `devnet`, with the default `eth_getLogs`
    /// ranges.
    pub(crate) async fn start(devnet: &Devnet, db: &TestDb) -> Self {
        Self::start_with_range(devnet, db, 1_000).await
    }

    /// Starts it with `eth_getLogs` ranges of at most `range` blocks, so a backfill of a long
    /// chain takes many steps (each one a checkpoint).
    pub(crate) async fn start_with_range(devnet: &Devnet, db: &TestDb, range: u64) -> Self {
        let mut indexer = Self {
            proc: None,
            db: String::new(),
            rpc: devnet.url.clone(),
            deployment: devnet.deployment(),
            log: PathBuf::new(),
            range,
            url: String::new(),
            client: reqwest::Client::new(),
        }
        .with_store(db);
        indexer.restart().await;
        indexer
    }

    /// The same configuration on another store, not started (for one-shot commands).
    pub(crate) fn with_store(&self, db: &TestDb) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = self.deployment.parent().unwrap();
        Self {
            proc: None,
            db: db.url.clone(),
            rpc: self.rpc.clone(),
            deployment: self.deployment.clone(),
            log: dir.join(format!("indexer-{}.log", N.fetch_add(1, Ordering::Relaxed))),
            range: self.range,
            url: String::new(),
            client: self.client.clone(),
        }
    }

    fn common(&self, cmd: &mut Command) {
        cmd.arg("--db")
            .arg(&self.db)
            .arg("--rpc-url")
            .arg(&self.rpc)
            .arg("--deployment")
            .arg(&self.deployment)
            // The relayers of these tests publish batch data on 127.0.0.1 (each on its own free
            // port): the indexer fetches only public addresses unless a host is allowed.
            .args(["--allow-data-host", "127.0.0.1"])
            .env_remove("DATABASE_URL")
            .env_remove("RPC_URL")
            .env_remove("DEPLOYMENT")
            .env_remove("LISTEN");
    }

    /// Starts the process (again, on a new port) and waits until its API answers.
    pub(crate) async fn restart(&mut self) {
        let port = free_port();
        self.url = format!("http://127.0.0.1:{port}");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(bin("fairtrain-indexer"));
        cmd.arg("run");
        self.common(&mut cmd);
        let child = cmd
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--range", &self.range.to_string()])
            .args(["--max-range", &self.range.to_string()])
            // Each range it indexes is logged (`indexed blocks from=… to=…`): tests read where a
            // restart resumed.
            .env("RUST_LOG", "info,sqlx=warn,fairtrain_indexer::sync=debug")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.proc = Some(Proc(child));
        eventually(60, || async {
            self.try_get::<Status>("/api/status").await.map(|_| ())
        })
        .await
        .unwrap_or_else(|| panic!("indexer API not up; log:\n{}", self.log()));
    }

    /// Its log (stderr of every start), for failure messages.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `(from, to)` block ranges it logged as indexed, in order, from byte `since` of its
    /// log on ([`Indexer::log_len`]).
    pub(crate) fn indexed_ranges(&self, since: usize) -> Vec<(u64, u64)> {
        let log = self.log();
        let field = |line: &str, name: &str| -> Option<u64> {
            let at = line.find(&format!(" {name}="))? + name.len() + 2;
            line[at..].split(' ').next()?.parse().ok()
        };
        log.get(since..)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("indexed blocks"))
            .map(|l| {
                let range = field(l, "from").zip(field(l, "to"));
                range.unwrap_or_else(|| panic!("unexpected log line {l:?}"))
            })
            .collect()
    }

    /// The length of its log so far.
    pub(crate) fn log_len(&self) -> usize {
        self.log().len()
    }

    /// SIGKILL.
    pub(crate) fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    async fn try_get<T: DeserializeOwned>(&self, path: &str) -> Option<T> {
        let resp = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        resp.json().await.ok()
    }

    /// An answer of its API, as the protocol's API types say; panics with its log on any
    /// failure.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> T {
        self.try_get(path)
            .await
            .unwrap_or_else(|| panic!("GET {path} failed; indexer log:\n{}", self.log()))
    }

    /// The block its checkpoint stands at (`/api/status`).
    pub(crate) async fn indexed_block(&self) -> Option<u64> {
        let status: Status = self.try_get("/api/status").await?;
        Some(status.indexed_block)
    }

    /// Waits until the checkpoint is the chain's head block. The head is read from the node
    /// on every poll, so a chain still moving is followed to where it stops.
    pub(crate) async fn caught_up(&self, devnet: &Devnet) -> u64 {
        eventually(120, || async {
            let head = devnet.provider.get_block_number().await.ok()?;
            (self.indexed_block().await? == head).then_some(head)
        })
        .await
        .unwrap_or_else(|| panic!("the indexer did not reach the head; log:\n{}", self.log()))
    }

    /// Runs a one-shot command of the binary on the same store, chain and deployment.
    pub(crate) fn command(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin("fairtrain-indexer"));
        cmd.args(args);
        self.common(&mut cmd);
        cmd.output().unwrap()
    }

    /// `fairtrain-indexer query <what>` on its store (every item on one page).
    pub(crate) fn query(&self, what: &str) -> Value {
        let mut args = vec!["query", what];
        if !matches!(what, "status" | "creators") {
            args.extend(["--per-page", "1000"]);
        }
        let out = self.command(&args);
        assert!(
            out.status.success(),
            "query {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `fairtrain-indexer reconcile` must exit 0 (every derived value equals the chain's at the
    /// checkpoint block).
    pub(crate) fn assert_reconciles(&self) {
        let out = self.command(&["reconcile"]);
        assert!(
            out.status.success(),
            "reconcile found differences ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every contract of the deployment the indexer follows (no revenue pools are created here).
pub(crate) fn followed(devnet: &Devnet) -> Vec<Address> {
    Deployment::load(&devnet.deployment()).unwrap().addresses()
}

/// How many logs the followed contracts emitted up to `to` (`eth_getLogs`).
pub(crate) async fn chain_log_count(devnet: &Devnet, to: u64) -> u64 {
    let filter = Filter::new()
        .address(followed(devnet))
        .from_block(devnet.start_block)
        .to_block(to);
    devnet.provider.get_logs(&filter).await.unwrap().len() as u64
}

/// Every item of a paginated indexer list.
pub(crate) async fn all_items<T: DeserializeOwned + std::fmt::Debug>(
    indexer: &Indexer,
    path: &str,
) -> Vec<T> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let page: Paged<T> = indexer.get(&format!("{path}{sep}per_page=1000")).await;
    assert_eq!(page.total, page.items.len() as u64, "{page:?}");
    page.items
}

/// What the test itself moved in and out of the escrow for one payer.
pub(crate) struct Flows {
    pub(crate) payer: Address,
    pub(crate) deposited: U256,
    pub(crate) withdrawn: U256,
}

/// A committed receipt as the relayer recorded it.
struct Receipt {
    license: String,
    root: String,
    amount: U256,
    claimed: bool,
}

/// Waits for the indexer to reach the head, then checks that chain, relayer and indexer agree
/// to the unit, and that `reconcile` is clean:
///
/// - raw events stored = logs of the followed contracts on the chain;
/// - the payer's available balance, credit and reserved funds equal the escrow's (its one credit
///   line, for the relayer account: in `/api/balances` and `/api/credit-lines`, credit, reserved,
///   fees, reserved-until and pending reduction equal the chain's); deposited and withdrawn
///   equal `flows`; spent equals what the relayer's claimed receipts charged, and
///   deposited = available + credit + reserved + spent + withdrawn;
/// - per license, gross royalties equal the relayer's claimed receipts of that license, and
///   gross = net + fee; per payee, net royalties equal the payee's token balance on the chain
///   (payees get tokens from royalties only in these tests);
/// - fees in royalties = fees in batches = the escrow's accrued fees plus the line's unswept fees;
/// - the indexer's batches are the relayer's confirmed batches: same root, commit transaction
///   and block, receipt count, reserved amount (the relayer's reservations), settled amount and
///   claim count (the relayer's claimed receipts of that root);
/// - the escrow's token balance = available + credit + reserved + fees.
pub(crate) async fn assert_agree(
    devnet: &Devnet,
    relayer: &Relayer,
    indexer: &Indexer,
    flows: &Flows,
) {
    let head = indexer.caught_up(devnet).await;
    indexer.assert_reconciles();
    let status: Status = indexer.get("/api/status").await;
    assert_eq!(
        status.events,
        chain_log_count(devnet, head).await,
        "every log stored once: {status:?}"
    );

    // The relayer's records: committed receipts (with their licenses), confirmed batches.
    let mut receipts = Vec::new();
    for c in relayer.committed_receipts().await {
        receipts.push(Receipt {
            license: c.receipt.license_id.to_string(),
            root: format!("{:#x}", c.root.unwrap()),
            amount: c.amount,
            claimed: claimed(&c),
        });
    }
    let claimed: U256 = receipts
        .iter()
        .filter(|r| r.claimed)
        .map(|r| r.amount)
        .sum();
    let confirmed: Vec<Batch> = relayer
        .batches()
        .await
        .into_iter()
        .filter(|b| b.state == "confirmed")
        .collect();

    // Payer balances.
    let balances: Vec<BalanceView> =
        all_items(indexer, &format!("/api/balances?payer={:#x}", flows.payer)).await;
    assert_eq!(balances.len(), 1, "{balances:?}");
    let b = &balances[0];
    let available = devnet.available(flows.payer).await;
    let line = devnet.line(flows.payer).await;
    let (credit, reserved) = (U256::from(line.credit), U256::from(line.reserved));
    assert_eq!(dec(&b.available), available, "available: {b:?}");
    assert_eq!(dec(&b.credit), credit, "credit: {b:?}");
    assert_eq!(dec(&b.reserved), reserved, "reserved: {b:?}");
    assert_eq!(b.credit_lines.len(), 1, "one credit line: {b:?}");
    assert_line(devnet, flows.payer, &b.credit_lines[0]).await;
    let rows: Vec<CreditLineView> = all_items(
        indexer,
        &format!("/api/credit-lines?payer={:#x}", flows.payer),
    )
    .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_line(devnet, flows.payer, &rows[0]).await;
    assert_eq!(dec(&b.deposited), flows.deposited, "deposited: {b:?}");
    assert_eq!(dec(&b.withdrawn), flows.withdrawn, "withdrawn: {b:?}");
    assert_eq!(
        dec(&b.spent),
        claimed,
        "spent = the relayer's claimed receipts: {b:?}"
    );
    assert_eq!(
        flows.deposited,
        available + credit + reserved + claimed + flows.withdrawn,
        "deposited = available + credit + reserved + spent + withdrawn"
    );

    // Royalties per license and per payee.
    let mut fees = U256::ZERO;
    let by_license: Vec<RoyaltyTotal> = all_items(indexer, "/api/royalties?group=license").await;
    let mut gross_of: BTreeMap<String, U256> = BTreeMap::new();
    for r in &by_license {
        let (gross, fee, net) = (dec(&r.gross), dec(&r.fee), dec(&r.net));
        assert_eq!(gross, net + fee, "gross = net + fee: {r:?}");
        *gross_of.entry(r.key.clone()).or_default() += gross;
        fees += fee;
    }
    let mut relayer_of: BTreeMap<String, U256> = BTreeMap::new();
    for r in receipts.iter().filter(|r| r.claimed) {
        *relayer_of.entry(r.license.clone()).or_default() += r.amount;
    }
    assert_eq!(
        gross_of, relayer_of,
        "royalties per license = the relayer's claimed receipts per license"
    );
    for r in all_items::<RoyaltyTotal>(indexer, "/api/royalties?group=payee").await {
        let payee: Address = r.key.parse().unwrap();
        assert_eq!(
            dec(&r.net),
            devnet.balance(payee).await,
            "net royalties = the payee's balance: {r:?}"
        );
    }
    assert_eq!(
        fees,
        devnet.fees().await,
        "royalty fees = accrued fees + the line's unswept fees"
    );

    // Batches.
    let batches: Vec<BatchView> = all_items(indexer, "/api/batches").await;
    assert_eq!(
        batches.len(),
        confirmed.len(),
        "the indexer's batches are the relayer's confirmed ones"
    );
    let mut batch_fees = U256::ZERO;
    for rb in &confirmed {
        let root = format!("{:#x}", rb.root);
        let ib = batches
            .iter()
            .find(|b| b.root == root)
            .unwrap_or_else(|| panic!("batch {root} not indexed: {batches:?}"));
        assert_eq!(ib.receipt_count, rb.receipt_count, "{ib:?} / {rb:?}");
        assert_eq!(
            ib.tx_hash,
            format!("{:#x}", rb.commit_tx.unwrap()),
            "{ib:?} / {rb:?}"
        );
        assert_eq!(Some(ib.block_number), rb.commit_block, "{ib:?} / {rb:?}");
        let relayer_reserved: U256 = rb.reservations.iter().map(|r| r.amount).sum();
        assert_eq!(dec(&ib.reserved), relayer_reserved, "{ib:?} / {rb:?}");
        let of_root = || receipts.iter().filter(|r| r.root == root && r.claimed);
        assert_eq!(
            dec(&ib.settled),
            of_root().map(|r| r.amount).sum::<U256>(),
            "settled = the relayer's claimed receipts of the batch: {ib:?}"
        );
        assert_eq!(ib.claims, of_root().count() as i64, "{ib:?}");
        batch_fees += dec(&ib.fees);
    }
    assert_eq!(batch_fees, fees, "fees in batches = all platform fees");
    assert_eq!(
        devnet.balance(devnet.escrow).await,
        available + credit + reserved + fees,
        "the escrow holds available + credit + reserved + fees"
    );
}

/// An indexer `CreditLineView` row of `payer`'s line for the relayer account equals the chain's
/// line and pending reduction.
async fn assert_line(devnet: &Devnet, payer: Address, row: &CreditLineView) {
    let line = devnet.line(payer).await;
    let reduction = devnet
        .escrow()
        .creditReduction(payer, addr(RELAYER), devnet.token)
        .call()
        .await
        .unwrap();
    let address = |a: &str| -> Address { a.parse().unwrap() };
    assert_eq!(
        (
            address(&row.payer),
            address(&row.relayer),
            address(&row.token)
        ),
        (payer, addr(RELAYER), devnet.token),
        "{row:?}"
    );
    assert_eq!(dec(&row.credit), U256::from(line.credit), "{row:?}");
    assert_eq!(dec(&row.reserved), U256::from(line.reserved), "{row:?}");
    assert_eq!(dec(&row.fees), U256::from(line.fees), "{row:?}");
    assert_eq!(
        U256::from(row.reserved_until),
        U256::from(line.reservedUntil),
        "{row:?}"
    );
    assert_eq!(
        dec(&row.reduction_amount),
        U256::from(reduction.amount),
        "{row:?}"
    );
    assert_eq!(
        U256::from(row.reduction_effective_at),
        U256::from(reduction.effectiveAt),
        "{row:?}"
    );
}

/// A decimal string of the indexer's API (token units).
pub(crate) fn dec(s: &str) -> U256 {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} is not a decimal amount: {e}"))
}
