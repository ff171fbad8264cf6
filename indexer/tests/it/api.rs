//! The HTTP API and the CLI against an index of the demo lifecycle: the numbers the chain holds,
//! pagination, errors, the finalized view, exports, the OpenAPI document and live updates.

use std::process::Command;

use alloy::transports::http::reqwest;
use fairtrain_indexer::{
    api::{router, AppState},
    sync::{Indexer, SyncConfig},
};
use serde_json::Value;

use crate::{
    both_databases,
    support::{config, root, Backend, Chain, Connect, TestDb},
};

/// Creator A of Demo.s.sol (anvil account 1): three licenses, paid 10.14 fUSD net.
const CREATOR_A: &str = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";

pub(crate) struct Served {
    pub(crate) chain: Chain,
    pub(crate) test_db: TestDb,
    pub(crate) base: String,
    pub(crate) indexer: Indexer,
}

/// The demo lifecycle, indexed, with the API served on a free port.
pub(crate) async fn serve(backend: Backend, cfg: SyncConfig) -> Served {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let mut indexer = Indexer::new(
        chain.provider.clone(),
        db.clone(),
        chain.deployment.clone(),
        cfg,
    )
    .await
    .unwrap();
    indexer.sync_to_head().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(AppState::new(
        db.clone(),
        chain.provider.clone(),
        chain.deployment.clone(),
    ));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Served {
        chain,
        test_db,
        base,
        indexer,
    }
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let resp = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn ok(base: &str, path: &str) -> Value {
    let (status, body) = get(base, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn sum(items: &Value, field: &str) -> u128 {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[field].as_str().unwrap().parse::<u128>().unwrap())
        .sum()
}

async fn api_answers(backend: Backend) {
    let mut s = serve(backend, config()).await;
    let base = s.base.clone();
    let head = s.chain.head().await;

    let status = ok(&base, "/api/status").await;
    assert_eq!(status["indexed_block"], head);
    assert_eq!(status["events"], s.chain.log_count().await);
    assert_eq!(status["chain_id"], 31337);

    let creators = ok(&base, "/api/creators").await;
    let a = creators
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["creator"] == CREATOR_A)
        .unwrap();
    assert_eq!(a["claimed"], "10140000");
    assert_eq!(a["licenses"], 3);
    let total_gross: u128 = sum(&creators, "gross");
    assert_eq!(
        total_gross, 186_400_000,
        "the batch's claims paid 186.4 fUSD in all"
    );

    let by_creator = ok(
        &base,
        &format!("/api/royalties?group=creator&creator={CREATOR_A}"),
    )
    .await;
    assert_eq!(by_creator["total"], 1);
    assert_eq!(by_creator["items"][0]["net"], "10140000");

    let payer = ok(&base, "/api/balances").await["items"][0].clone();
    assert_eq!(payer["available"], "1000000000");
    assert_eq!(payer["spent"], "186400000");
    let by_payer = ok(
        &base,
        &format!(
            "/api/royalties?payer={}&group=license",
            payer["payer"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(sum(&by_payer["items"], "gross"), 186_400_000);
    // Every source table (totals, per day, per day and license, settlements) agrees.
    let by_day = ok(&base, "/api/royalties?group=day").await;
    assert_eq!(sum(&by_day["items"], "gross"), 186_400_000);
    let a_by_day = ok(
        &base,
        &format!("/api/royalties?group=day&creator={CREATOR_A}"),
    )
    .await;
    assert_eq!(sum(&a_by_day["items"], "net"), 10_140_000);
    let from_day = ok(&base, "/api/royalties?group=license&from_day=0").await;
    let all_time = ok(&base, "/api/royalties?group=license").await;
    assert_eq!(from_day["items"], all_time["items"]);
    assert_eq!(sum(&all_time["items"], "gross"), 186_400_000);
    let future = ok(&base, "/api/royalties?group=license&from_day=100000").await;
    assert_eq!(future["total"], 0);

    // Pagination.
    let p1 = ok(
        &base,
        &format!("/api/licenses?creator={CREATOR_A}&per_page=2"),
    )
    .await;
    let p2 = ok(
        &base,
        &format!("/api/licenses?creator={CREATOR_A}&per_page=2&page=2"),
    )
    .await;
    assert_eq!(
        (p1["total"].as_u64(), p1["items"].as_array().unwrap().len()),
        (Some(3), 2)
    );
    assert_eq!(p2["items"].as_array().unwrap().len(), 1);
    assert_ne!(p1["items"][0]["license_id"], p2["items"][0]["license_id"]);

    // Batches with their claims.
    let batches = ok(&base, "/api/batches").await;
    assert_eq!(batches["total"], 1);
    let batch = &batches["items"][0];
    assert_eq!(batch["audit"]["status"], "pending");
    assert_eq!(batch["audit"]["passed"], Value::Null);
    let detail = ok(
        &base,
        &format!("/api/batches/{}", batch["root"].as_str().unwrap()),
    )
    .await;
    assert_eq!(detail["reservations"].as_array().unwrap().len(), 1);
    assert_eq!(sum(&detail["claims"], "amount"), 186_400_000);
    let reservation = &detail["reservations"][0];
    assert_eq!(reservation["amount"], "186400000");
    assert_eq!(reservation["relayer"], batch["relayer"]);

    // Credit lines: in the balance rows and on their own, with the names of docs/indexer.md.
    let balances = ok(&base, "/api/balances").await;
    let row = &balances["items"][0];
    assert_eq!(row["credit"], "8813600000");
    assert_eq!(row["reserved"], "0");
    assert_eq!(row["credit_lines"].as_array().unwrap().len(), 1);
    let lines = ok(
        &base,
        &format!(
            "/api/credit-lines?relayer={}&per_page=1",
            batch["relayer"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(lines["total"], 1);
    let line = &lines["items"][0];
    assert_eq!(line, &row["credit_lines"][0]);
    let mut fields: Vec<&str> = line
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "credit",
            "fees",
            "payer",
            "reduction_amount",
            "reduction_effective_at",
            "relayer",
            "reserved",
            "reserved_until",
            "token"
        ]
    );
    assert_eq!(line["credit"], "8813600000");
    assert_eq!(line["reduction_amount"], "0");
    assert!(line["reserved_until"].as_i64().unwrap() > 0);
    let none = ok(
        &base,
        &format!("/api/credit-lines?payer=0x{}", "11".repeat(20)),
    )
    .await;
    assert_eq!(none["total"], 0);

    // Errors are clear and typed.
    let (code, body) = get(&base, &format!("/api/batches/0x{}", "00".repeat(32))).await;
    assert_eq!(code, 404, "{body}");
    let (code, body) = get(&base, "/api/batches/not-a-root").await;
    assert_eq!(code, 400, "{body}");
    let (code, body) = get(&base, "/api/streams/999").await;
    assert_eq!(code, 404, "{body}");
    let (code, body) = get(&base, &format!("/api/pools/0x{}", "00".repeat(20))).await;
    assert_eq!(code, 404, "{body}");
    let (code, body) = get(&base, "/api/pools?page=0").await;
    assert_eq!(code, 400, "{body}");
    let (code, body) = get(&base, "/api/licenses?per_page=5000").await;
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("per_page"));
    let (code, _) = get(&base, "/api/export/flows?format=xml").await;
    assert_eq!(code, 400);

    // The finalized view (head − 2 confirmations) does not yet count the claims of the last
    // block; after more blocks it does.
    let fin = ok(&base, "/api/royalties?finalized=true&group=creator").await;
    assert_eq!(fin["total"], 0, "{fin}");
    s.chain.mine(3).await;
    s.indexer.sync_to_head().await.unwrap();
    let fin = ok(&base, "/api/royalties?finalized=true&group=creator").await;
    assert_eq!(sum(&fin["items"], "gross"), 186_400_000);

    // Exports.
    let flows = ok(&base, "/api/export/flows").await;
    assert_eq!(sum(&flows, "gross"), 186_400_000);
    assert!(flows
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["kind"] == "batch" && f["payer"] == payer["payer"]));
    let csv = reqwest::get(format!("{base}/api/export/flows?format=csv"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("block_number,block_time,tx_hash,log_index,kind,root,payer,payee"));
    assert_eq!(lines.len(), flows.as_array().unwrap().len() + 1);

    // Every documented path answers; every route is documented.
    let doc = ok(&base, "/api/openapi.json").await;
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for route in [
        "/api/status",
        "/api/royalties",
        "/api/creators",
        "/api/licenses",
        "/api/balances",
        "/api/batches",
        "/api/batches/{root}",
        "/api/settlements",
        "/api/unclaimed",
        "/api/credit-lines",
        "/api/export/flows",
        "/api/live",
        "/api/openapi.json",
        "/api/streams",
        "/api/streams/{id}",
        "/api/stream-payees",
        "/api/pools",
        "/api/pools/{address}",
    ] {
        assert!(
            paths.iter().any(|p| *p == route),
            "{route} is not documented"
        );
    }
    // A batch as served has exactly the documented fields, its audit status too.
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let schemas = &doc["components"]["schemas"];
    assert_eq!(keys(&schemas["Batch"]["properties"]), keys(batch));
    assert_eq!(
        keys(&schemas["AuditStatus"]["properties"]),
        keys(&batch["audit"])
    );
    for p in paths
        .iter()
        .filter(|p| !p.contains('{') && **p != "/api/live")
    {
        let (code, _) = get(&base, p).await;
        assert_eq!(code, 200, "{p}");
    }

    // Live updates: the first server-sent event is the status.
    let mut resp = reqwest::get(format!("{base}/api/live")).await.unwrap();
    let chunk = String::from_utf8(resp.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(
        chunk.contains("event: status") && chunk.contains("indexed_block"),
        "{chunk}"
    );
    drop(s.test_db);
}
both_databases!(api_answers_with_the_chains_numbers, super::api_answers);

/// Runs the indexer's binary against `db` and the chain: exit code and stdout + stderr.
pub(crate) fn cli(db: &str, chain: &Chain, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fairtrain-indexer"))
        .args(["--db", db, "--rpc-url", &chain.url, "--deployment"])
        .arg(root().join("deployments/31337.json"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

async fn cli_answers(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let url = test_db.url.clone();

    let (code, out) = cli(&url, &chain, &["backfill"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("indexed {} events", chain.log_count().await)),
        "{out}"
    );

    let (code, out) = cli(&url, &chain, &["reconcile"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(", 0 differ"), "{out}");

    let (code, out) = cli(&url, &chain, &["query", "creators"]);
    assert_eq!(code, 0, "{out}");
    let creators: Value = serde_json::from_str(&out).unwrap();
    assert!(creators
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["creator"] == CREATOR_A && c["claimed"] == "10140000"));

    let (code, out) = cli(
        &url,
        &chain,
        &[
            "query",
            "royalties",
            "--group",
            "creator",
            "--creator",
            CREATOR_A,
        ],
    );
    assert_eq!(code, 0, "{out}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["items"][0]["net"], "10140000");

    let (code, out) = cli(&url, &chain, &["query", "royalties", "--group", "month"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("expected license, creator, payee or day"),
        "{out}"
    );

    let (code, out) = cli(&url, &chain, &["export", "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let flows: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        sum(&flows, "net"),
        181_740_000,
        "186.4 fUSD minus the 2.5% fee"
    );

    // A corrupted derived value makes reconcile exit 1 with the difference named.
    let db = test_db.connect().await;
    sqlx::query("UPDATE credit_lines SET fees = '0'")
        .execute(&db.pool)
        .await
        .unwrap();
    let (code, out) = cli(&url, &chain, &["reconcile"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("DIFFERS creditLine("), "{out}");
    assert!(out.contains("DIFFERS balanceOf(escrow)"), "{out}");
}
both_databases!(cli_answers_the_same_questions, super::cli_answers);
