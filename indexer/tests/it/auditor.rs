//! Automatic audits: `fairtrain-indexer run` (the real binary) follows a chain on which batches
//! are committed with their data served over HTTP by a local server (allowed with
//! `--allow-data-host`; another one stands in as an IPFS gateway), and audits each one without
//! being asked: sound data passes, tampered data fails with its reason, data not served yet is
//! `unavailable` and passes once served, `ipfs://` data is read through the gateway; data URIs
//! naming a local file or a loopback host that is not allowed are refused (`unavailable`, with
//! the reason) although the bytes there are right; a claim brings the report up to date without
//! fetching the data again (the same report a full audit writes); a reorganisation that drops a
//! batch drops its audit.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fairtrain_indexer::{audit::AuditStatus, query, Db};
use serde_json::json;

use crate::{
    audit::{claim, commit_at, Committed},
    both_databases,
    support::{root, Backend, Chain, Connect, Publisher, TestDb},
};

/// The indexer binary, killed on drop; its log is printed if the test failed.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) log: tempfile::NamedTempFile,
}

impl Running {
    pub(crate) fn start(mut cmd: Command) -> Self {
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        Self { child, log }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.log.path()).unwrap_or_default();
            eprintln!("--- fairtrain-indexer run log ---\n{log}");
        }
    }
}

pub(crate) fn indexer_cmd(chain: &Chain, db_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fairtrain-indexer"));
    cmd.args(["--db", db_url, "--rpc-url", &chain.url, "--deployment"])
        .arg(root().join("deployments/31337.json"));
    cmd
}

/// Polls the batch until `done` holds for its audit status (or panics after a generous
/// deadline with the last status seen).
async fn wait_audit(
    db: &Db,
    root: &str,
    what: &str,
    done: impl Fn(&AuditStatus) -> bool,
) -> AuditStatus {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut last = None;
    while Instant::now() < deadline {
        if let Some(b) = query::batch(db, root).await.unwrap() {
            if done(&b.batch.audit) {
                return b.batch.audit;
            }
            last = Some(b.batch.audit);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("batch {root}: never {what}; last status {last:?}");
}

async fn report(db: &Db, root: &str) -> Option<serde_json::Value> {
    let r = fairtrain_indexer::audit::stored(db, root).await.unwrap();
    r.map(|r| serde_json::to_value(r).unwrap())
}

async fn automatic_audits(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    // The relayer's data server, allowed by the operator; and an IPFS gateway, allowed because
    // the operator configured it.
    let data = Publisher::start().await;
    let gateway = Publisher::start().await;

    let mut cmd = indexer_cmd(&chain, &test_db.url);
    cmd.args(["run", "--listen", "127.0.0.1:0", "--confirmations", "2"])
        .args(["--audit-retry-min", "200ms", "--audit-retry-max", "1s"])
        .args(["--ipfs-gateway", &gateway.base])
        .args(["--allow-data-host", &data.host]);
    let _indexer = Running::start(cmd);

    // Sound data over HTTP, published before the commit.
    let good = commit_at(&chain, "auto-good", 0, data.url("/b/good.json")).await;
    data.publish("/b/good.json", &good.bytes);
    // Other bytes at the URI: the hash cannot match.
    let tampered = commit_at(&chain, "auto-tampered", 0, data.url("/b/tampered.json")).await;
    let mut doc: serde_json::Value = serde_json::from_slice(&tampered.bytes).unwrap();
    doc["receipts"][0]["cumulativeSamples"] = "999999".into();
    data.publish("/b/tampered.json", &serde_json::to_vec(&doc).unwrap());
    // Published later.
    let late = commit_at(&chain, "auto-late", 0, data.url("/b/late.json")).await;
    // On IPFS, read through the gateway; the CID is only a name here: the hash is what counts.
    let ipfs = commit_at(
        &chain,
        "auto-ipfs",
        0,
        "ipfs://bafkreiautoaudit/batch.json".into(),
    )
    .await;
    gateway.publish("/ipfs/bafkreiautoaudit/batch.json", &ipfs.bytes);
    // Data URIs an attacker would name to read the indexer's host: a local file, and the
    // allowed server under another name (`localhost`, not the allowed `127.0.0.1:<port>`). The
    // right bytes are there: only the refusal keeps them from passing.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("batch.json");
    let local = commit_at(&chain, "auto-file", 0, format!("file://{}", file.display())).await;
    std::fs::write(&file, &local.bytes).unwrap();
    let port = data.host.rsplit(':').next().unwrap();
    let loopback = commit_at(
        &chain,
        "auto-loopback",
        0,
        format!("http://localhost:{port}/b/loopback.json"),
    )
    .await;
    data.publish("/b/loopback.json", &loopback.bytes);

    let passed = |a: &AuditStatus| a.status == "passed";
    let a = wait_audit(&db, &good.root, "passed", passed).await;
    assert_eq!((a.passed, a.reason.as_deref()), (Some(true), None), "{a:?}");
    assert!(a.checked_at.is_some());
    assert_eq!(report(&db, &good.root).await.unwrap()["passed"], true);

    let a = wait_audit(&db, &tampered.root, "failed", |a| a.status == "failed").await;
    assert_eq!(a.passed, Some(false));
    let reason = a.reason.unwrap();
    assert!(
        reason.contains("data hash matches the commitment"),
        "{reason}"
    );
    assert!(
        reason.contains("leaves rebuild the committed root"),
        "{reason}"
    );

    let a = wait_audit(&db, &late.root, "unavailable", |a| {
        a.status == "unavailable"
    })
    .await;
    assert_eq!(a.passed, None, "unavailable is not a verdict: {a:?}");
    assert!(a.reason.as_deref().unwrap().contains("HTTP 404"), "{a:?}");
    assert!(a.attempts >= 1 && a.next_retry_at.is_some(), "{a:?}");
    // Retried with backoff until it is there.
    wait_audit(&db, &late.root, "retried", |a| a.attempts >= 2).await;
    data.publish("/b/late.json", &late.bytes);
    let a = wait_audit(&db, &late.root, "passed once published", passed).await;
    assert_eq!(
        (a.passed, a.attempts, a.next_retry_at),
        (Some(true), 0, None)
    );

    let a = wait_audit(&db, &ipfs.root, "passed through the gateway", passed).await;
    assert_eq!(a.passed, Some(true));
    assert_eq!(
        report(&db, &ipfs.root).await.unwrap()["data_uri"],
        "ipfs://bafkreiautoaudit/batch.json"
    );

    // Refused, however often retried: a local file and a loopback host not allowed.
    for (b, why) in [
        (
            &local,
            "refused: local files are not read from an on-chain dataURI",
        ),
        // `localhost` resolves to 127.0.0.1 or ::1.
        (&loopback, "is not a public address (loopback)"),
    ] {
        let a = wait_audit(&db, &b.root, "refused, or passed", |a| {
            a.status == "passed" || (a.status == "unavailable" && a.attempts >= 2)
        })
        .await;
        assert_eq!(
            (a.status.as_str(), a.passed),
            ("unavailable", None),
            "{a:?}"
        );
        assert!(a.reason.as_deref().unwrap().contains(why), "{a:?}");
        let r = report(&db, &b.root).await;
        assert!(r.is_none(), "no report of bytes never fetched: {r:?}");
    }

    // The demo's batch was never published (`demo://`): unavailable, not failed.
    let demo = query::batches(&db, query::Page::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|b| b.data_uri.starts_with("demo://"))
        .unwrap();
    let a = wait_audit(&db, &demo.root, "unavailable", |a| {
        a.status == "unavailable"
    })
    .await;
    assert!(a.reason.unwrap().contains("unsupported scheme"));

    // A claim changes the picture: the batch is audited again, with the claim in the report.
    // Only its claims changed, so the stored report is brought up to date without fetching the
    // data again (taken down here: a full audit would find it unavailable).
    assert_eq!(report(&db, &good.root).await.unwrap()["total_claimed"], "0");
    data.take_down("/b/good.json");
    claim(&chain, &good, &[0]).await;
    let claimed = good.expected[0].to_string();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let r = report(&db, &good.root).await.unwrap();
        let b = query::batch(&db, &good.root).await.unwrap().unwrap().batch;
        if r["total_claimed"] == json!(claimed) && b.audit.status == "passed" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not re-audited: {r} {:?}",
            b.audit
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The re-checked report is the one a full audit of the same data writes.
    let rechecked = report(&db, &good.root).await.unwrap();
    assert_eq!(rechecked["receipts"][0]["status"], "claimed");
    let full = fairtrain_indexer::audit::audit(
        &db,
        &chain.provider,
        &chain.deployment,
        &good.root,
        Some(good.bytes.clone()),
    )
    .await
    .unwrap();
    assert_eq!(rechecked, serde_json::to_value(&full).unwrap());

    // The CLI lists the batches with their audit status.
    let out = indexer_cmd(&chain, &test_db.url)
        .args(["query", "batches"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let status_of = |root: &str| {
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["root"] == root)
            .map(|b| b["audit"]["status"].clone())
    };
    assert_eq!(status_of(&good.root), Some(json!("passed")));
    assert_eq!(status_of(&tampered.root), Some(json!("failed")));

    // A batch audited, then dropped by a reorganisation: its audit goes with it.
    let snapshot = chain.rpc("evm_snapshot", json!([])).await;
    let doomed = commit_at(&chain, "auto-doomed", 0, data.url("/b/doomed.json")).await;
    data.publish("/b/doomed.json", &doomed.bytes);
    wait_audit(&db, &doomed.root, "passed", passed).await;
    chain.rpc("evm_revert", json!([snapshot])).await;
    chain.mine(3).await;
    forgotten(&db, &doomed).await;
    // The others are untouched.
    assert_eq!(
        query::batch(&db, &good.root)
            .await
            .unwrap()
            .unwrap()
            .batch
            .audit
            .status,
        "passed"
    );
}

/// Waits until the batch, its report and its status are gone.
async fn forgotten(db: &Db, b: &Committed) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let batch = query::batch(db, &b.root).await.unwrap();
        let (reports,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM audits WHERE root = $1) \
             + (SELECT COUNT(*) FROM audit_receipts WHERE root = $1) \
             + (SELECT COUNT(*) FROM audit_queue WHERE root = $1)",
        )
        .bind(&b.root)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if batch.is_none() && reports == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "dropped batch still there: {batch:?}, {reports} audit rows"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
both_databases!(batches_are_audited_automatically, super::automatic_audits);
