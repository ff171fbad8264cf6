//! The dashboard in a real browser: headless Chromium (Debian's package, installed by
//! `scripts/setup`) driven over the Chrome DevTools Protocol. The page loads, shows the numbers
//! the chain holds, and updates without a reload after a new settlement, a stream that ran dry
//! and a paid revenue-share pool.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{primitives::address, transports::http::reqwest};
use fairtrain_indexer::{
    audit::worker::{Auditor, AuditorConfig},
    sync::SyncConfig,
};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::{connect_async, tungstenite::Message};

use fairtrain_indexer::derive::streams::StreamState;
use fairtrain_protocol::bindings::{pools::RevenuePool, RoyaltyStreams};

use crate::{
    audit::{claim, commit_published},
    pool_state::insolvent_stream_and_paid_pool,
    support::{config, serve_api, Backend, Chain, Connect, MockToken, Publisher, TestDb},
};

/// The Chromium binary: `$CHROMIUM`, else `chromium` or `chromium-browser` on the PATH.
fn chromium() -> String {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return path;
    }
    for name in ["chromium", "chromium-browser"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return name.to_owned();
        }
    }
    panic!(
        "Chromium not found: run ./scripts/setup (it installs Debian's chromium) or set CHROMIUM"
    );
}

struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Browser {
    /// Starts headless Chromium and attaches to its first page.
    async fn start() -> Self {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    tx.send(url.trim().to_owned()).ok();
                }
            }
        });
        let browser_ws = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium prints its DevTools URL");
        let host = browser_ws
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let targets: Value = reqwest::get(format!("http://{host}/json/list"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .expect("a page target")["webSocketDebuggerUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        let (ws, _) = connect_async(page).await.unwrap();
        Self {
            child,
            _profile: profile,
            ws,
            next_id: 0,
        }
    }

    /// Sends a CDP command and returns its result.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.ws
            .send(Message::text(
                json!({ "id": id, "method": method, "params": params }).to_string(),
            ))
            .await
            .unwrap();
        loop {
            let msg = self.ws.next().await.expect("CDP connection open").unwrap();
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Evaluates a JavaScript expression in the page.
    async fn eval(&mut self, expr: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        r["result"]["value"].clone()
    }

    /// Waits until `expr` evaluates to `want` (or panics after 30 s with the last value).
    async fn wait_for(&mut self, expr: &str, want: Value) {
        let start = Instant::now();
        loop {
            let got = self.eval(expr).await;
            if got == want {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{expr}: got {got}, want {want}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_the_chain_and_updates_live() {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(Backend::Sqlite);
    let db = test_db.connect().await;
    let cfg = SyncConfig {
        poll_interval: Duration::from_millis(200),
        ..config()
    };
    let mut indexer = chain.indexer(&db, cfg).await;
    indexer.sync_to_head().await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let following = tokio::spawn(async move {
        indexer
            .follow(async {
                stop_rx.await.ok();
            })
            .await
    });
    // Automatic audits, as `fairtrain-indexer run` does them, of data a local server publishes.
    let publisher = Publisher::start().await;
    let auditor = Auditor::new(
        db.clone(),
        chain.provider.clone(),
        chain.deployment.clone(),
        publisher.fetcher(),
        AuditorConfig::default(),
    );
    let (stop_audits, audits_stopped) = tokio::sync::oneshot::channel::<()>();
    let auditing = tokio::spawn(async move {
        auditor
            .run(async {
                audits_stopped.await.ok();
            })
            .await
    });
    // The tokens' symbols and decimals, as `fairtrain-indexer run` reads them: amounts show in
    // fUSD.
    fairtrain_indexer::catalog::refresh_tokens(&db, &chain.provider)
        .await
        .unwrap();
    let base = serve_api(&chain, &db).await;

    let creator_a = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
    let token = MockToken::new(chain.deployment.payment_tokens[0], chain.provider.clone());
    let paid_a = |v: alloy::primitives::U256| json!(fusd(&v.to_string()));
    let claimed_a = format!(
        "document.querySelector('[data-creator=\"{creator_a:#x}\"] [data-field=\"claimed\"]')?.textContent ?? null"
    );

    let mut browser = Browser::start().await;
    browser
        .call("Page.navigate", json!({ "url": format!("{base}/") }))
        .await;

    // The page shows what the chain holds: creator A's claimed royalties are its token balance.
    let balance = token.balanceOf(creator_a).call().await.unwrap();
    assert_eq!(balance.to::<u64>(), 10_140_000);
    browser.wait_for(&claimed_a, paid_a(balance)).await;
    browser
        .wait_for(
            "document.querySelectorAll('#batches tbody tr[data-root]').length",
            json!(1),
        )
        .await;
    browser
        .wait_for(
            "document.querySelectorAll('#usage-chart rect').length > 0",
            json!(true),
        )
        .await;
    browser
        .wait_for(
            "document.querySelectorAll('#licenses tbody tr[data-license]').length",
            json!(5),
        )
        .await;
    browser
        .wait_for("document.querySelector('#live').className", json!("on"))
        .await;
    let head = chain.head().await;
    browser
        .wait_for(
            "document.body.dataset.indexedBlock",
            json!(head.to_string()),
        )
        .await;

    // A new batch is committed and claimed; the open page updates without a reload.
    browser.eval("window.__sameDocument = true").await;
    let batch = commit_published(&chain, &publisher, "browser-run", 0).await;
    claim(&chain, &batch, &[0, 1, 2]).await;
    let balance = token.balanceOf(creator_a).call().await.unwrap();
    assert!(balance.to::<u64>() > 10_140_000);
    browser.wait_for(&claimed_a, paid_a(balance)).await;
    browser
        .wait_for(
            "document.querySelectorAll('#batches tbody tr[data-root]').length",
            json!(2),
        )
        .await;
    // Its audit status shows as a badge, updated live: the new batch's data is published, the
    // demo's is not.
    let badge = |root: &str| {
        format!("document.querySelector('[data-root=\"{root}\"] [data-field=\"audit\"]')?.className ?? null")
    };
    browser
        .wait_for(&badge(&batch.root), json!("badge passed"))
        .await;
    let demo = fairtrain_indexer::query::batches(&db, Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|b| b.data_uri.starts_with("demo://"))
        .unwrap();
    browser
        .wait_for(&badge(&demo.root), json!("badge unavailable"))
        .await;
    assert_eq!(
        browser.eval("window.__sameDocument === true").await,
        json!(true),
        "no reload happened"
    );

    streams_and_pools_shown(&chain, &mut browser).await;

    stop_tx.send(()).ok();
    following.await.unwrap().unwrap();
    stop_audits.send(()).ok();
    auditing.await.unwrap().unwrap();
}

/// A stream that ran dry and a paid pool appear in the open page with the chain's numbers.
async fn streams_and_pools_shown(chain: &Chain, browser: &mut Browser) {
    let (id, pool) = insolvent_stream_and_paid_pool(chain).await;
    let streams = RoyaltyStreams::new(
        chain.deployment.royalty_streams.unwrap(),
        chain.provider.clone(),
    );
    let record = streams.getStream(id).call().await.unwrap();
    let state = streams.stateOf(id).call().await.unwrap();
    let state = StreamState::from_chain(state).unwrap().as_str();
    assert_eq!(state, "insolvent");
    let cell = |row: &str, field: &str| {
        format!("document.querySelector('{row} [data-field=\"{field}\"]')?.textContent ?? null")
    };
    let stream_row = format!("#streams tr[data-stream=\"{id}\"]");
    browser
        .wait_for(&cell(&stream_row, "state"), json!(state))
        .await;
    browser
        .wait_for(
            &cell(&stream_row, "balance"),
            json!(fusd(&record.balance.to_string())),
        )
        .await;
    // Everything the stream held was withdrawn to the license holder.
    browser
        .wait_for(&cell(&stream_row, "withdrawn"), json!(fusd("100")))
        .await;
    browser
        .wait_for(&cell(&stream_row, "deposited"), json!(fusd("100")))
        .await;

    let token = chain.deployment.payment_tokens[0];
    let totals = RevenuePool::new(pool, chain.provider.clone())
        .tokenState(token)
        .call()
        .await
        .unwrap();
    let pool_row = format!("#pools tr[data-pool=\"{pool:#x}\"][data-token=\"{token:#x}\"]");
    browser
        .wait_for(
            &cell(&pool_row, "distributed"),
            json!(fusd(&totals.received.to_string())),
        )
        .await;
    browser
        .wait_for(
            &cell(&pool_row, "claimed"),
            json!(fusd(&totals.paidOut.to_string())),
        )
        .await;
}

/// Base units of fUSD (6 decimals) as the page prints them once the token told its symbol and
/// decimals: `10140000` → `10.14 fUSD`, `1234500000` → `1,234.5 fUSD`.
fn fusd(units: &str) -> String {
    let text = fairtrain_protocol::units::format_units(units.parse().unwrap(), 6);
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    format!("{}{frac} fUSD", format_thousands(whole))
}

/// `10140000` → `10,140,000` (what the page's `toLocaleString("en-US")` prints).
fn format_thousands(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The catalog page lists the published, licensed datasets with amounts in the token's units,
/// filters them, and shows a dataset's card: terms in plain words, the device, the files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_page_lists_filters_and_shows_a_card() {
    let published = crate::catalog::published(Backend::Sqlite).await;
    let base = &published.base;
    let mut browser = Browser::start().await;
    browser
        .call("Page.navigate", json!({ "url": format!("{base}/catalog") }))
        .await;
    browser
        .wait_for("document.body.dataset.listed ?? null", json!("2"))
        .await;
    let price = "document.querySelector('[data-license=\"1\"] [data-field=\"price\"]').textContent";
    assert_eq!(browser.eval(price).await, json!("0.001 fUSD / sample"));

    // Commercial only: the quantum dataset.
    browser
        .eval(
            "document.querySelector('select[name=kind]').value = 'commercial'; \
             document.querySelector('#filters button').click(); true",
        )
        .await;
    browser
        .wait_for("document.body.dataset.listed", json!("1"))
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('#datasets [data-field=\"name\"]').textContent")
            .await,
        json!("Kyiv circuits")
    );

    // Its card.
    browser.eval("location.hash = '#2'; true").await;
    browser
        .wait_for("document.body.dataset.card ?? null", json!("2"))
        .await;
    let terms = browser
        .eval("document.querySelector('#card-terms').textContent")
        .await;
    let terms = terms.as_str().unwrap();
    assert!(terms.contains("Costs 0.002 fUSD per access"), "{terms}");
    assert!(
        terms.contains("Models trained on it may be used commercially."),
        "{terms}"
    );
    let device = browser
        .eval("document.querySelector('#card-device').textContent")
        .await;
    assert!(
        device.as_str().unwrap().contains("ibm_kyiv, 2 qubits"),
        "{device}"
    );
    assert_eq!(
        browser
            .eval("document.querySelectorAll('#card-files tbody tr').length")
            .await,
        json!(1)
    );
    let access = browser
        .eval("document.querySelector('#card-access').textContent")
        .await;
    assert!(
        access
            .as_str()
            .unwrap()
            .starts_with("0 grants and 0 downloads by 0 payers, 0 grants paid per access"),
        "{access}"
    );
}
