//! The HTTP surface: the generated OpenAPI document and the router agree both ways, every
//! error answers in the one envelope (the framework's 404/405/400/415 included), body and bulk
//! limits, per-signer rate limits, rejections counted in the metrics, operator authentication.

use alloy::primitives::{Address, U256};
use fairtrain_protocol::api::{relayer::Info, ErrorBody};
use fairtrain_relayer::{api::openapi, config::Limits};
use serde_json::{json, Value};

use crate::support::{config, Chain, Db, Relayer, TestDb};

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// Every `(method, path)` the document lists.
fn operations(doc: &Value) -> Vec<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect()
}

/// Schemas that say nothing of their fields: `type: object` without properties or
/// additionalProperties (only the document's own route may answer one).
fn bare_objects(at: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            let object = m.get("type").is_some_and(|t| {
                t == "object" || t.as_array().is_some_and(|a| a.contains(&json!("object")))
            });
            if object && !m.contains_key("properties") && !m.contains_key("additionalProperties") {
                out.push(at.to_owned());
            }
            for (k, v) in m {
                bare_objects(&format!("{at}/{k}"), v, out);
            }
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| bare_objects(&format!("{at}/{i}"), v, out)),
        _ => {}
    }
}

#[test]
fn the_document_says_what_every_route_answers() {
    let doc = serde_json::to_value(openapi(&Limits::default())).unwrap();
    let ops = operations(&doc);
    assert_eq!(ops.len(), 15, "{ops:?}");
    let mut bare = Vec::new();
    bare_objects("", &doc, &mut bare);
    assert_eq!(
        bare,
        ["/paths//openapi.json/get/responses/200/content/application/json/schema"]
    );
    // Every operation documents its errors in the one envelope, and strict inputs.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["AddressHex"]["pattern"], "^0x[0-9a-fA-F]{40}$");
    assert_eq!(
        schemas["Signature65"]["pattern"],
        "^0x[0-9a-fA-F]{64}[0-7][0-9a-fA-F]{63}1[bcBC]$"
    );
    assert_eq!(schemas["Decimal"]["pattern"], "^[0-9]+$");
    assert_eq!(
        schemas["SignedReceipt"]["properties"]["licenseId"]["$ref"],
        "#/components/schemas/Uint256"
    );
    assert_eq!(schemas["SignedReceipt"]["additionalProperties"], false);
    let limit = |path: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap()["schema"]
            .clone()
    };
    assert_eq!(
        (
            limit("/v1/batches")["minimum"].clone(),
            limit("/v1/batches")["maximum"].clone()
        ),
        (json!(1), json!(1000))
    );
    assert_eq!(limit("/v1/licenses/{licenseId}/proofs")["maximum"], 1000);
    let small = Limits {
        max_proofs_page: 7,
        ..Limits::default()
    };
    let doc7 = serde_json::to_value(openapi(&small)).unwrap();
    let max7 = doc7["paths"]["/v1/payees/{address}/proofs"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()["schema"]["maximum"]
        .clone();
    assert_eq!(max7, 7);
    assert_eq!(
        doc["paths"]["/v1/receipts"]["post"]["responses"]["415"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
}

/// A request for `(method, path)` with every path parameter filled in.
async fn call(relayer: &Relayer, method: &str, path: &str, payee: Address) -> (u16, Value) {
    let path = path
        .replace("{digest}", &format!("{:#066x}", U256::from(1)))
        .replace("{id}", "1")
        .replace("{hash}", &format!("{:#066x}", 1))
        .replace("{licenseId}", "1")
        .replace("{address}", &payee.to_string());
    let url = format!("{}{path}", relayer.url);
    let r = match method {
        "get" => relayer.client.get(&url).send().await.unwrap(),
        "post" => relayer
            .client
            .post(&url)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        other => relayer
            .client
            .request(other.to_uppercase().parse().unwrap(), &url)
            .send()
            .await
            .unwrap(),
    };
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_and_document_agree_and_errors_answer_in_the_envelope() {
    let chain = Chain::start().await;
    let store = TestDb::new(Db::Sqlite);
    let cfg = config(&chain, &store);
    let relayer = Relayer::start(&cfg).await;
    let payee = chain.payer.address();

    // The served document is the generated one.
    let (status, served) = relayer.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(served, serde_json::to_value(openapi(&cfg.limits)).unwrap());

    // Every documented operation is routed (the router's own 404/405 never answer it); the
    // router serves nothing else: it is built from the same `routes!` list, and an operation
    // of another method on a documented path answers 405 in the envelope.
    for (method, path) in operations(&served) {
        let (status, body) = call(&relayer, &method, &path, payee).await;
        assert!(
            !(status == 405
                || status == 404
                    && body["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("no route "))),
            "{method} {path}: {status} {body}"
        );
        let other = if method == "get" { "delete" } else { "get" };
        let (status, body) = call(&relayer, other, &path, payee).await;
        assert_eq!(
            (status, code(&body)),
            (405, "method_not_allowed"),
            "{other} {path}"
        );
    }
    let (status, body) = relayer.get("/v1/nope").await;
    assert_eq!((status, code(&body)), (404, "not_found"));

    // Unparsable path and query values, out-of-range values.
    for (path, want) in [
        ("/v1/batches/abc", "malformed"),
        ("/v1/batches/0", "out_of_range"),
        ("/v1/batches?limit=abc", "malformed"),
        ("/v1/batches?limit=0", "out_of_range"),
        ("/v1/batches?limit=1001", "out_of_range"),
        ("/v1/licenses/1/proofs?limit=0", "out_of_range"),
        ("/v1/licenses/1/proofs?limit=-1", "malformed"),
        ("/v1/licenses/0x1/proofs", "malformed"),
        ("/v1/receipts/abc", "malformed"),
        (
            &format!("/v1/payees/{}/proofs", &payee.to_string()[2..]),
            "malformed",
        ),
    ] {
        let (status, body) = relayer.get(path).await;
        assert_eq!((status, code(&body)), (400, want), "{path}: {body}");
        serde_json::from_value::<ErrorBody>(body).unwrap();
    }

    // A body that is not declared JSON is refused, whatever it holds.
    let receipt = json!(chain.receipt("run-ct", 1)).to_string();
    for (path, content_type) in [
        ("/v1/receipts", None),
        ("/v1/receipts", Some("text/plain")),
        (
            "/v1/receipts/bulk",
            Some("application/x-www-form-urlencoded"),
        ),
    ] {
        let mut r = relayer
            .client
            .post(format!("{}{path}", relayer.url))
            .body(receipt.clone());
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 415, "{path} {content_type:?}");
        let body: ErrorBody = r.json().await.unwrap();
        assert_eq!(body.error.code, "unsupported_media_type");
    }
    let r = relayer
        .client
        .post(format!("{}/v1/receipts", relayer.url))
        .header("content-type", "application/json; charset=utf-8")
        .body(receipt)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // Addresses EIP-55.
    let info: Info = relayer.get_as("/v1/info").await;
    let (_, raw) = relayer.get("/v1/info").await;
    assert_eq!(raw["relayer"], info.relayer.to_checksum(None));
    assert_eq!(
        raw["domain"]["verifyingContract"],
        info.domain.verifying_contract.to_checksum(None)
    );
    assert_eq!(info.domain.chain_id, 31337);
    assert_eq!(info.limits.max_proofs_page, cfg.limits.max_proofs_page);
}

async fn metrics_text(relayer: &Relayer) -> String {
    let r = relayer.client.get(format!("{}/metrics", relayer.url));
    r.send().await.unwrap().text().await.unwrap()
}

/// `relayer_receipts_rejected_total{code}` in a metrics text.
fn rejected(text: &str, code: &str) -> u64 {
    text.lines()
        .find(|l| {
            l.starts_with("relayer_receipts_rejected_total")
                && l.contains(&format!("code=\"{code}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_and_every_rejection_is_counted() {
    let chain = Chain::start().await;
    let store = TestDb::new(Db::Sqlite);
    let mut cfg = config(&chain, &store);
    cfg.limits.max_body_bytes = 4_096;
    cfg.limits.signer_burst = 3;
    cfg.limits.signer_rate = 1;
    let relayer = Relayer::start(&cfg).await;

    // Oversized bodies are refused with a JSON error and nothing changes.
    let big = "x".repeat(5_000);
    let r = relayer
        .client
        .post(format!("{}/v1/receipts", relayer.url))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(code(&body), "body_too_large");

    // Rate limit: a burst of 3 for the signer, then `rate_limited` for the rest.
    let receipts: Vec<_> = (1..=5)
        .map(|i| chain.receipt(&format!("run-{i}"), i))
        .collect();
    let bulk = relayer.bulk(&receipts).await;
    assert_eq!((bulk.accepted, bulk.rejected), (3, 2));
    let (status, body) = relayer.submit(&chain.receipt("run-9", 1)).await;
    assert_eq!((status, code(&body)), (429, "rate_limited"));
    assert_eq!(relayer.status().await.receipts["pending"], 3);

    // Refusals before the writer are counted too: the three rate-limited ones above, a
    // malformed receipt, a signature from which no key recovers (r = 0). The recorder is the
    // process's, shared with the tests running beside this one: compare before and after.
    let before = metrics_text(&relayer).await;
    let (status, body) = relayer.post("/v1/receipts", &json!({"payer": "0x1"})).await;
    assert_eq!((status, code(&body)), (400, "malformed"));
    let mut bad = json!(chain.receipt("run-10", 1));
    let sig = bad["signature"].as_str().unwrap().to_owned();
    bad["signature"] = json!(format!("0x{}{}", "0".repeat(64), &sig[66..]));
    let (status, body) = relayer.post("/v1/receipts", &bad).await;
    assert_eq!((status, code(&body)), (422, "invalid_signature"), "{body}");
    let after = metrics_text(&relayer).await;
    assert!(rejected(&after, "rate_limited") >= 3, "{after}");
    assert!(
        rejected(&after, "malformed") > rejected(&before, "malformed"),
        "{after}"
    );
    assert!(
        rejected(&after, "invalid_signature") > rejected(&before, "invalid_signature"),
        "{after}"
    );
    assert!(after.contains("relayer_receipts_accepted_total"), "{after}");
    let r = relayer
        .client
        .get(format!("{}/health", relayer.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_endpoints_disabled_without_a_token() {
    let chain = Chain::start().await;
    let store = TestDb::new(Db::Sqlite);
    let mut cfg = config(&chain, &store);
    cfg.operator_token = None;
    let relayer = Relayer::start(&cfg).await;
    let (status, body) = relayer.post("/v1/claims", &json!({})).await;
    assert_eq!((status, code(&body)), (403, "operator_disabled"));
}
