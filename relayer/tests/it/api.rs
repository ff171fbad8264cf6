//! The HTTP surface: the OpenAPI document matches the routes, body and bulk limits, per-signer
//! rate limits, operator authentication, service endpoints.

use std::collections::BTreeSet;

use alloy::primitives::U256;
use fairtrain_relayer::api::{OPENAPI, ROUTES};
use serde_json::{json, Value};

use crate::support::{config, Chain, Db, Relayer, TestDb};

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[test]
fn openapi_documents_exactly_the_routes() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routed);
    // Every error code the API can return is listed.
    let codes: BTreeSet<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in [
        "malformed",
        "signer_not_registered",
        "signer_revoked",
        "terms_not_accepted",
        "receipt_after_expiry",
        "no_credit_line",
        "cumulative_not_increasing",
        "insufficient_budget",
        "rate_limited",
        "invalid_signature",
        "body_too_large",
        "too_many_receipts",
    ] {
        assert!(codes.contains(c), "{c} undocumented");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_served_and_limits_hold() {
    let chain = Chain::start().await;
    let store = TestDb::new(Db::Sqlite);
    let mut cfg = config(&chain, &store);
    cfg.limits.max_body_bytes = 4_096;
    cfg.limits.signer_burst = 3;
    cfg.limits.signer_rate = 1;
    let relayer = Relayer::start(&cfg).await;

    // Every documented route answers (not the router's 404/405 for unknown routes).
    for (method, path) in ROUTES {
        let path = path
            .replace("{digest}", &format!("{:#x}", U256::from(1)))
            .replace("{id}", "1")
            .replace("{hash}", &format!("{:#066x}", 1))
            .replace("{licenseId}", "1")
            .replace("{address}", &chain.payer.address().to_string());
        let url = format!("{}{path}", relayer.url);
        let r = match *method {
            "get" => relayer.client.get(&url).send().await.unwrap(),
            _ => relayer
                .client
                .post(&url)
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
        };
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert!(
            status != 405 && !(status == 404 && body.is_empty()),
            "{method} {path}: {status}"
        );
    }
    let r = relayer
        .client
        .get(format!("{}/v1/nope", relayer.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let (status, info) = relayer.get("/v1/info").await;
    assert_eq!(status, 200);
    assert_eq!(info["domain"]["name"], "Fairtrain TrainingEscrow");
    assert_eq!(info["domain"]["chainId"], "31337");

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
    let (status, body) = relayer.post("/v1/receipts/bulk", &json!(receipts)).await;
    assert_eq!(status, 200);
    assert_eq!(body["accepted"], 3);
    let codes: Vec<_> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert_eq!(codes, ["rate_limited", "rate_limited"]);
    let (status, body) = relayer
        .post("/v1/receipts", &json!(chain.receipt("run-9", 1)))
        .await;
    assert_eq!((status, code(&body)), (429, "rate_limited"));
    let (_, status_body) = relayer.get("/v1/status").await;
    assert_eq!(status_body["receipts"]["pending"], 3);

    // Metrics are exposed in Prometheus text format.
    let text = relayer
        .client
        .get(format!("{}/metrics", relayer.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("relayer_receipts_accepted_total"), "{text}");
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
