//! A relayer double that speaks `POST /v1/receipts/bulk` as docs/relayer.md specifies and checks
//! what the real relayer checks about a receipt itself: the signature recovers to the expected
//! key, and cumulative counts per usage key only grow. Faults are switched on per test.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use alloy::{
    primitives::{address, keccak256, Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use fairtrain_protocol::{
    api::{
        relayer::{BulkResponse, Outcome},
        ErrorBody, ErrorDetail,
    },
    EscrowDomain, SignedReceipt,
};
use fairtrain_sdk::{MeterConfig, RetryPolicy, Usage};
use serde_json::Value;

/// The domain every test signs under.
pub(crate) fn domain() -> EscrowDomain {
    EscrowDomain::new(
        31337,
        address!("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"),
    )
}

/// The payer of every test.
pub(crate) const PAYER: Address = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");

/// The training key of every test.
pub(crate) fn signer() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256("training key")).unwrap()
}

/// Usage `n` of run `run`.
pub(crate) fn usage(n: u64, run: &str) -> Usage {
    Usage {
        license_id: U256::from(n),
        terms_id: 1,
        run_id: keccak256(run),
    }
}

/// A fast retry policy for tests.
pub(crate) fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        initial_backoff: std::time::Duration::from_millis(10),
        max_backoff: std::time::Duration::from_millis(50),
        request_timeout: std::time::Duration::from_secs(5),
    }
}

/// A meter config on a fresh journal in `dir`, pointed at `url`.
pub(crate) fn config(dir: &std::path::Path, url: &str) -> MeterConfig {
    let mut config = MeterConfig::new(dir.join("usage.db"), url, domain(), PAYER, signer());
    config.retry = quick_retry();
    config
}

/// What the double has seen and how it misbehaves.
#[derive(Default)]
pub(crate) struct Ledger {
    /// Highest cumulative count stored per usage key.
    pub(crate) cumulative: HashMap<B256, u64>,
    /// Digests stored.
    pub(crate) digests: HashSet<B256>,
    /// Per usage key and count, the digests signed for it (a meter signs each count once).
    pub(crate) signed_per_count: HashMap<(B256, u64), HashSet<B256>>,
    /// Every well-formed receipt received, in order (duplicates included).
    pub(crate) received: Vec<SignedReceipt>,
    /// Requests received.
    pub(crate) requests: usize,
    /// Answer the next N requests with 503 without looking at them.
    pub(crate) fail_next: usize,
    /// Store the receipts, then answer 500 (a lost answer), this many times.
    pub(crate) lose_answers: usize,
    /// Refuse every receipt with this code.
    pub(crate) refuse_with: Option<String>,
}

/// A running relayer double.
#[derive(Clone)]
pub(crate) struct TestRelayer {
    /// Its base URL.
    pub(crate) url: String,
    /// Its state.
    pub(crate) ledger: Arc<Mutex<Ledger>>,
}

impl TestRelayer {
    /// Starts one on a free port.
    pub(crate) async fn start() -> Self {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let app = Router::new()
            .route("/v1/receipts/bulk", post(bulk))
            .with_state(ledger.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, ledger }
    }

    /// Locks the ledger.
    pub(crate) fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap()
    }
}

async fn bulk(State(ledger): State<Arc<Mutex<Ledger>>>, Json(items): Json<Vec<Value>>) -> Response {
    let mut ledger = ledger.lock().unwrap();
    ledger.requests += 1;
    if ledger.fail_next > 0 {
        ledger.fail_next -= 1;
        return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try later");
    }
    let results: Vec<Outcome> = items.into_iter().map(|item| ledger.judge(item)).collect();
    if ledger.lose_answers > 0 {
        ledger.lose_answers -= 1;
        return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "lost");
    }
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|o| f(o)).count();
    let body = BulkResponse {
        accepted: count(|o| matches!(o, Outcome::Accepted { .. })),
        duplicates: count(|o| matches!(o, Outcome::Duplicate { .. })),
        rejected: count(|o| matches!(o, Outcome::Rejected { .. })),
        results,
    };
    (StatusCode::OK, Json(body)).into_response()
}

/// An error in the relayer's envelope.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.into(),
            message: message.into(),
        },
    };
    (status, Json(body)).into_response()
}

fn rejected(code: &str, message: impl Into<String>) -> Outcome {
    Outcome::Rejected {
        code: code.into(),
        message: message.into(),
    }
}

impl Ledger {
    /// What the double answers for one submitted item, recording what it accepts.
    fn judge(&mut self, item: Value) -> Outcome {
        let Ok(signed) = serde_json::from_value::<SignedReceipt>(item) else {
            return rejected("malformed", "not a receipt");
        };
        if let Some(code) = &self.refuse_with {
            return rejected(code, "refused by the test");
        }
        self.received.push(signed.clone());
        let receipt = signed.receipt();
        let digest = domain().digest(&receipt);
        if signed.recover(&domain()).ok() != Some(signer().address()) {
            return rejected("signer_not_registered", "unknown key");
        }
        let key = receipt.usage_key();
        self.signed_per_count
            .entry((key, receipt.cumulativeSamples))
            .or_default()
            .insert(digest);
        if self.digests.contains(&digest) {
            return Outcome::Duplicate { digest };
        }
        let known = self.cumulative.get(&key).copied().unwrap_or(0);
        if receipt.cumulativeSamples <= known {
            return rejected(
                "cumulative_not_increasing",
                format!("{} does not exceed {known}", receipt.cumulativeSamples),
            );
        }
        self.cumulative.insert(key, receipt.cumulativeSamples);
        self.digests.insert(digest);
        Outcome::Accepted {
            digest,
            amount: U256::ZERO,
        }
    }
}
