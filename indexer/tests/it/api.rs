//! The HTTP API and the CLI against an index of the demo lifecycle: the numbers the chain holds,
//! pagination, errors, the finalized view, exports, the OpenAPI document and live updates.

use std::process::Command;

use alloy::transports::http::reqwest;
use fairtrain_indexer::sync::{Indexer, SyncConfig};
use serde_json::Value;

use crate::{
    both_databases,
    support::{config, root, serve_api, Backend, Chain, Connect, TestDb},
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
    let mut indexer = chain.indexer(&db, cfg).await;
    indexer.sync_to_head().await.unwrap();
    let base = serve_api(&chain, &db).await;
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

    // Errors answer in the one envelope, with a code.
    errors_answer_in_the_envelope(&base).await;

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

    // The router and the generated document agree, and a batch as served has exactly the
    // documented fields, its audit status too.
    let doc = ok(&base, "/api/openapi.json").await;
    router_and_document_agree(&base, &doc).await;
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let schemas = &doc["components"]["schemas"];
    assert_eq!(keys(&schemas["BatchView"]["properties"]), keys(batch));
    assert_eq!(
        keys(&schemas["AuditStatus"]["properties"]),
        keys(&batch["audit"])
    );

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

/// The status and `error.code` of `method path` (with a body of `content_type` if given).
async fn error_of(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> (u16, String, reqwest::header::HeaderMap) {
    let mut req = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(content_type) = body {
        req = req
            .header("content-type", content_type)
            .body("{}".to_owned());
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let code = body["error"]["code"].as_str().unwrap_or_else(|| {
        panic!("{path}: {status} without the error envelope: {body}");
    });
    assert!(body["error"]["message"].is_string(), "{body}");
    (status, code.to_owned(), headers)
}

/// Every error, the framework's too, in `{"error": {"code", "message"}}`.
async fn errors_answer_in_the_envelope(base: &str) {
    use reqwest::Method;
    let answer = |path: String| async move {
        let (status, code, _) = error_of(base, Method::GET, &path, None).await;
        (status, code)
    };
    let not_found = (404, "not_found".to_owned());
    let malformed = (400, "malformed".to_owned());
    // Items that do not exist; routes that do not exist.
    assert_eq!(
        answer(format!("/api/batches/0x{}", "00".repeat(32))).await,
        not_found
    );
    assert_eq!(
        answer(format!("/api/batches/0x{}/audit", "00".repeat(32))).await,
        not_found
    );
    assert_eq!(answer("/api/streams/999".into()).await, not_found);
    assert_eq!(
        answer(format!("/api/pools/0x{}", "00".repeat(20))).await,
        not_found
    );
    assert_eq!(answer("/api/nope".into()).await, not_found);
    assert_eq!(answer("/api/batches/a/b/c".into()).await, not_found);
    // Unparsable path and query values (axum answered these in plain text).
    for path in [
        "/api/batches/not-a-root",
        "/api/streams/abc",
        "/api/pools/0x12",
        "/api/licenses?page=abc",
        "/api/licenses?creator=alice",
        "/api/royalties?group=week",
        "/api/royalties?from_day=yesterday",
        "/api/settlements?license=-1",
        "/api/export/flows?format=xml",
        "/api/export/flows?to_block=9223372036854775808",
    ] {
        assert_eq!(answer(path.into()).await, malformed, "{path}");
    }
    // Pages out of range are refused on every list, not clamped; a page whose offset overflows
    // (u64, or only the databases' i64) neither crashes the handler nor answers page 1.
    for list in [
        "/api/licenses",
        "/api/balances",
        "/api/batches",
        "/api/settlements",
        "/api/royalties",
        "/api/credit-lines",
        "/api/streams",
        "/api/stream-payees",
        "/api/pools",
    ] {
        for query in [
            "page=0",
            "per_page=0",
            "per_page=1001",
            "page=1176662545295472896",
            "page=9223372036854776&per_page=1000",
            "page=1000000001",
            "page=18446744073709551616",
        ] {
            assert_eq!(
                answer(format!("{list}?{query}")).await,
                malformed,
                "{list}?{query}"
            );
        }
        let last = ok(base, &format!("{list}?page=1000000000&per_page=1000")).await;
        assert_eq!(last["items"], serde_json::json!([]), "{list}");
    }
    let (_, body) = get(base, "/api/licenses?per_page=5000").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("per_page"));
    // Wrong methods, with the allowed ones.
    let (status, code, headers) = error_of(base, Method::DELETE, "/api/status", None).await;
    assert_eq!((status, code.as_str()), (405, "method_not_allowed"));
    assert_eq!(headers["allow"], "GET,HEAD");
    // A body that is not JSON.
    let audit = format!("/api/batches/0x{}/audit", "00".repeat(32));
    let (status, code, _) = error_of(base, Method::POST, &audit, Some("text/plain")).await;
    assert_eq!((status, code.as_str()), (415, "unsupported_media_type"));
    let (status, code, _) = error_of(base, Method::POST, &audit, Some("application/json")).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
}

/// Every operation of the document is served (a method it does not document answers 405 with
/// exactly the documented methods in `Allow`), and a path it does not document is not (404).
async fn router_and_document_agree(base: &str, doc: &Value) {
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{:?}", paths.keys());
    for (path, item) in paths {
        let mut documented: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        documented.push("HEAD".into());
        documented.sort();
        let url = path
            .replace("{root}", &format!("0x{}", "00".repeat(32)))
            .replace("{address}", &format!("0x{}", "00".repeat(20)))
            .replace("{id}", "1");
        let (status, code, headers) = error_of(base, reqwest::Method::PATCH, &url, None).await;
        assert_eq!(
            (status, code.as_str()),
            (405, "method_not_allowed"),
            "{path}"
        );
        let mut allowed: Vec<String> = headers["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_owned())
            .collect();
        allowed.sort();
        assert_eq!(
            allowed, documented,
            "{path}: served methods against documented"
        );
        if !path.contains('{') && path != "/api/live" {
            assert_eq!(get(base, path).await.0, 200, "{path}");
        }
    }
    for undocumented in [
        "/api",
        "/api/",
        "/api/batch",
        "/openapi.json",
        "/api/export",
    ] {
        let (status, code, _) = error_of(base, reqwest::Method::GET, undocumented, None).await;
        assert_eq!(
            (status, code.as_str()),
            (404, "not_found"),
            "{undocumented}"
        );
    }
}

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
