//! Proxies in front of a node, for tests of how the services cope with their RPC:
//! [`RangeLimitProxy`] records the block range of every `eth_getLogs` it forwards and, if given
//! a limit, refuses ranges over that many blocks, as hosted providers do, answering JSON-RPC
//! `-32005` "query exceeds max block range" (every other request passes through);
//! [`slow_proxy`] delays every request.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{extract::State, routing::post, Json, Router};
use serde_json::{json, Value};

/// A running proxy (it runs on the Tokio runtime of the test that started it).
#[derive(Debug, Clone)]
pub struct RangeLimitProxy {
    /// Its URL.
    pub url: String,
    refused: Arc<AtomicU64>,
    answered: Arc<AtomicU64>,
    ranges: Arc<Mutex<Vec<(u64, u64)>>>,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    client: reqwest::Client,
    limit: Option<u64>,
    refused: Arc<AtomicU64>,
    answered: Arc<AtomicU64>,
    ranges: Arc<Mutex<Vec<(u64, u64)>>>,
}

impl RangeLimitProxy {
    /// Starts a proxy to `upstream` (an `http://` URL) that refuses log ranges wider than
    /// `limit` blocks.
    ///
    /// # Panics
    ///
    /// If no local port can be bound.
    pub async fn start(upstream: &str, limit: u64) -> Self {
        Self::serve(upstream, Some(limit)).await
    }

    /// Starts a proxy to `upstream` that refuses nothing and only records log ranges.
    ///
    /// # Panics
    ///
    /// If no local port can be bound.
    pub async fn recording(upstream: &str) -> Self {
        Self::serve(upstream, None).await
    }

    async fn serve(upstream: &str, limit: Option<u64>) -> Self {
        let refused = Arc::new(AtomicU64::new(0));
        let answered = Arc::new(AtomicU64::new(0));
        let ranges = Arc::new(Mutex::new(Vec::new()));
        let proxy = Proxy {
            upstream: upstream.to_owned(),
            client: reqwest::Client::new(),
            limit,
            refused: refused.clone(),
            answered: answered.clone(),
            ranges: ranges.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let app = Router::new().route("/", post(forward)).with_state(proxy);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            refused,
            answered,
            ranges,
        }
    }

    /// `(fromBlock, toBlock)` of every `eth_getLogs` let through so far, in order.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        self.ranges.lock().expect("ranges lock").clone()
    }

    /// `eth_getLogs` requests refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// `eth_getLogs` requests let through so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }
}

async fn call(p: &Proxy, req: &Value) -> Value {
    let resp = p
        .client
        .post(&p.upstream)
        .json(req)
        .send()
        .await
        .expect("upstream answers");
    resp.json().await.expect("upstream answers JSON")
}

/// A block parameter as a number (`latest` and the other tags: the head).
async fn block(p: &Proxy, v: &Value) -> u64 {
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    match v.as_str() {
        Some("earliest") => 0,
        Some(s) if s.starts_with("0x") => hex(s).expect("a hex block number"),
        _ => {
            let head = call(
                p,
                &json!({"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []}),
            )
            .await;
            hex(head["result"].as_str().expect("a block number")).expect("a hex block number")
        }
    }
}

async fn forward(State(p): State<Proxy>, Json(req): Json<Value>) -> Json<Value> {
    if req["method"] == "eth_getLogs" && req["params"][0]["blockHash"].is_null() {
        let f = &req["params"][0];
        let (from, to) = (
            block(&p, &f["fromBlock"]).await,
            block(&p, &f["toBlock"]).await,
        );
        if let Some(limit) = p.limit.filter(|limit| to.saturating_sub(from) + 1 > *limit) {
            p.refused.fetch_add(1, Ordering::Relaxed);
            return Json(json!({
                "jsonrpc": "2.0",
                "id": req["id"],
                "error": { "code": -32005, "message": format!("query exceeds max block range {limit}") }
            }));
        }
        p.answered.fetch_add(1, Ordering::Relaxed);
        p.ranges.lock().expect("ranges lock").push((from, to));
    }
    Json(call(&p, &req).await)
}

/// A TCP proxy to `target` (an `http://host:port` URL) that holds every chunk the client sends
/// for `delay` before forwarding it: a slow RPC. Returns the proxy's URL.
///
/// # Panics
///
/// If no local port can be bound.
pub async fn slow_proxy(target: &str, delay: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let target = target
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let (mut ri, mut wi) = inbound.into_split();
                let (mut ro, mut wo) = outbound.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 1 << 16];
                    while let Ok(n) = ri.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        tokio::time::sleep(delay).await;
                        if wo.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut ro, &mut wi).await;
                };
                tokio::join!(up, down);
            });
        }
    });
    url
}
