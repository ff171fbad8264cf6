//! RPC connections and RPC failures: what a failure means is read from its structure — the
//! JSON-RPC error code of the node's answer, the HTTP status, the transport's error kind (a
//! timeout, a refused or reset connection) — never from substrings of the whole error text,
//! where a URL, a block hash or a body could contain "502" or "eof".
//!
//! [`classify`] sorts a [`TransportError`] into an [`RpcErrorKind`]; [`TransientOnly`] is the
//! [`RetryPolicy`] of alloy's [`RetryBackoffLayer`] that retries exactly the transient ones, and
//! [`client`] connects over HTTP with that layer, so every request of a provider built on it is
//! retried where retrying can help.
//!
//! Transaction-pool answers have no standard code (geth answers `-32000` for all of them, anvil
//! `-32003`): they are recognised by the leading words of the *node's message* inside a JSON-RPC
//! error object, the only place where nodes state them.

use std::{error::Error as StdError, time::Duration};

use alloy::{
    rpc::{
        client::{ClientBuilder, RpcClient},
        json_rpc::ErrorPayload,
    },
    transports::{
        http::reqwest::Url,
        layers::{RetryBackoffLayer, RetryPolicy},
        RpcError, TransportError, TransportErrorKind,
    },
};

/// How an RPC failure should be handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpcErrorKind {
    /// The node or the way to it is down, slow, overloaded or rate limiting (a refused, reset
    /// or timed-out connection; HTTP 408, 425, 429, 502, 503, 504; a JSON-RPC rate-limit
    /// answer): the same request may succeed later.
    Transient,
    /// The node already has this transaction.
    AlreadyKnown,
    /// The transaction's nonce has been used: look for the mined transaction.
    NonceTooLow,
    /// The transaction's fees are too low (a replacement not bumped enough, or below the base
    /// fee): bump them.
    Underpriced,
    /// The call or transaction would revert (JSON-RPC code 3, or "execution reverted").
    Reverted,
    /// The node answered and refused this request (any other JSON-RPC error, e.g. a log range
    /// or result limit, or an HTTP 4xx/500 status): the same request will fail again, a
    /// smaller one may not.
    Rejected,
    /// Anything else (e.g. retries exhausted, a malformed answer).
    Other,
}

impl RpcErrorKind {
    /// Whether the same request may succeed later.
    pub const fn is_transient(self) -> bool {
        matches!(self, Self::Transient)
    }
}

/// JSON-RPC "limit exceeded" (EIP-1474): a rate limit or a result/range limit.
const LIMIT_EXCEEDED: i64 = -32005;

/// HTTP statuses that mean "try again later".
const TRANSIENT_STATUS: [u16; 6] = [408, 425, 429, 502, 503, 504];

/// Classifies a failure of a request.
pub fn classify(err: &TransportError) -> RpcErrorKind {
    match err {
        RpcError::ErrorResp(payload) => classify_payload(payload),
        RpcError::Transport(kind) => classify_transport(kind),
        // A node without the block or state yet (lagging behind a load balancer).
        RpcError::NullResp => RpcErrorKind::Transient,
        // Some nodes answer errors that are not valid JSON-RPC (no `id`): read the error
        // object inside.
        RpcError::DeserError { text, .. } => {
            #[derive(serde::Deserialize)]
            struct Envelope {
                error: ErrorPayload,
            }
            serde_json::from_str::<ErrorPayload>(text)
                .ok()
                .or_else(|| serde_json::from_str::<Envelope>(text).ok().map(|e| e.error))
                .map_or(RpcErrorKind::Other, |p| classify_payload(&p))
        }
        _ => RpcErrorKind::Other,
    }
}

/// Classifies a failure of a contract call or transaction built with alloy's contract
/// bindings.
pub fn classify_contract(err: &alloy::contract::Error) -> RpcErrorKind {
    use alloy::{contract::Error as E, providers::PendingTransactionError as P};
    match err {
        E::TransportError(e) | E::PendingTransactionError(P::TransportError(e)) => classify(e),
        _ => RpcErrorKind::Other,
    }
}

/// Classifies a JSON-RPC error object answered by the node.
pub fn classify_payload<D>(payload: &ErrorPayload<D>) -> RpcErrorKind
where
    D: std::borrow::Borrow<serde_json::value::RawValue>,
{
    let message = payload.message.to_ascii_lowercase();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| message.starts_with(p));
    if payload.code == 3 || starts(&["execution reverted", "reverted", "vm execution error"]) {
        RpcErrorKind::Reverted
    } else if starts(&[
        "already known",
        "transaction already imported",
        "known transaction",
        "alreadyknown",
    ]) {
        RpcErrorKind::AlreadyKnown
    } else if starts(&["nonce too low", "nonce has already been used", "oldnonce"]) {
        RpcErrorKind::NonceTooLow
    } else if starts(&[
        "replacement transaction underpriced",
        "transaction underpriced",
        "max fee per gas less than block base fee",
        "fee cap less than block base fee",
        "feetoolow",
    ]) {
        RpcErrorKind::Underpriced
    } else if payload.code == LIMIT_EXCEEDED {
        // "Limit exceeded" is a rate limit only when the node says when to come back;
        // otherwise a result or range limit (a smaller request passes).
        if payload_backoff(payload).is_some() {
            RpcErrorKind::Transient
        } else {
            RpcErrorKind::Rejected
        }
    } else if payload.is_retry_err() {
        // alloy's table of rate-limit and load-balancer answers (codes 429, -32016, -32012,
        // -32007, 1008, -32055, "header not found", …).
        RpcErrorKind::Transient
    } else {
        RpcErrorKind::Rejected
    }
}

fn classify_transport(kind: &TransportErrorKind) -> RpcErrorKind {
    match kind {
        TransportErrorKind::HttpError(http) => {
            if TRANSIENT_STATUS.contains(&http.status) {
                RpcErrorKind::Transient
            } else if (400..=500).contains(&http.status) {
                RpcErrorKind::Rejected
            } else {
                RpcErrorKind::Other
            }
        }
        TransportErrorKind::HttpErrorWithRetryAfter { error, .. } if error.status >= 400 => {
            RpcErrorKind::Transient
        }
        TransportErrorKind::MissingBatchResponse(_) | TransportErrorKind::BackendGone => {
            RpcErrorKind::Transient
        }
        TransportErrorKind::Custom(source) if is_connection_failure(source.as_ref()) => {
            RpcErrorKind::Transient
        }
        _ => RpcErrorKind::Other,
    }
}

/// Whether an error (or one of its sources) is a timeout or a connection that could not be
/// made or broke: reqwest's error kinds, or the I/O error kind underneath.
fn is_connection_failure(err: &(dyn StdError + 'static)) -> bool {
    use std::io::ErrorKind as K;
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(r) = e.downcast_ref::<reqwest::Error>() {
            if r.is_timeout() || r.is_connect() || r.is_request() || r.is_body() {
                return true;
            }
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::NotConnected
                    | K::BrokenPipe
                    | K::TimedOut
                    | K::UnexpectedEof
                    | K::Interrupted
            ) {
                return true;
            }
        }
        current = e.source();
    }
    false
}

/// The wait a node asks for in a rate-limit answer (`data.rate.backoff_seconds`, Infura's form).
fn payload_backoff<D>(payload: &ErrorPayload<D>) -> Option<Duration>
where
    D: std::borrow::Borrow<serde_json::value::RawValue>,
{
    let data: serde_json::Value = payload.try_data_as()?.ok()?;
    let seconds = &data["rate"]["backoff_seconds"];
    seconds
        .as_u64()
        .or_else(|| seconds.as_f64().map(|s| s.ceil() as u64))
        .map(Duration::from_secs)
}

/// Longest wait honoured from a node's hint.
const MAX_HINT: Duration = Duration::from_secs(60);

/// The [`RetryPolicy`] for alloy's [`RetryBackoffLayer`]: retry what [`classify`] calls
/// [`RpcErrorKind::Transient`], waiting what the node asks for (`Retry-After`, or a rate-limit
/// answer's backoff) when it says.
#[derive(Clone, Copy, Debug, Default)]
pub struct TransientOnly;

impl RetryPolicy for TransientOnly {
    fn should_retry(&self, error: &TransportError) -> bool {
        classify(error).is_transient()
    }

    fn backoff_hint(&self, error: &TransportError) -> Option<Duration> {
        let hint = match error {
            RpcError::Transport(kind) => kind.retry_after(),
            RpcError::ErrorResp(payload) => payload_backoff(payload),
            _ => None,
        };
        hint.map(|h| h.min(MAX_HINT))
    }
}

/// Per-request retries of transient failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Wait between attempts (unless the node asks for another).
    pub backoff: Duration,
}

impl Default for Retry {
    /// 4 retries, 250 ms apart: a second of outage or rate limiting is absorbed per request;
    /// longer ones reach the caller, which backs off on its own terms.
    fn default() -> Self {
        Self {
            max_retries: 4,
            backoff: Duration::from_millis(250),
        }
    }
}

/// An HTTP RPC client whose requests are retried by alloy's [`RetryBackoffLayer`] under
/// [`TransientOnly`]. Build a provider on it with `ProviderBuilder::connect_client`.
pub fn client(url: Url, retry: Retry) -> RpcClient {
    let layer = RetryBackoffLayer::new_with_policy(
        retry.max_retries,
        retry.backoff.as_millis() as u64,
        // No compute-unit budget of our own: waits come from the policy and the node.
        u64::MAX,
        TransientOnly,
    );
    ClientBuilder::default().layer(layer).http(url)
}

#[cfg(test)]
mod tests {
    use std::{
        borrow::Cow,
        sync::{
            atomic::{AtomicUsize, Ordering},
            Arc,
        },
    };

    use alloy::providers::{Provider, ProviderBuilder};
    use serde_json::{json, value::RawValue, Value};

    use super::*;

    fn payload(code: i64, message: &str, data: Option<&str>) -> TransportError {
        RpcError::ErrorResp(ErrorPayload {
            code,
            message: Cow::Owned(message.to_owned()),
            data: data.map(|d| RawValue::from_string(d.to_owned()).unwrap()),
        })
    }

    /// RPC endpoints and batch data are reached over `https://` with rustls (no system OpenSSL):
    /// an HTTPS request to a peer that is not a TLS server fails in the TLS handshake, not for
    /// lack of a TLS backend (which reqwest reports as a builder error about the scheme).
    #[tokio::test]
    async fn https_goes_through_a_tls_handshake() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                use tokio::io::AsyncWriteExt;
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\n\r\nnot tls").await;
            }
        });
        let err = reqwest::Client::new()
            .get(format!("https://{addr}/"))
            .send()
            .await
            .unwrap_err();
        assert!(!err.is_builder(), "no TLS backend: {err:?}");
        assert!(err.is_connect(), "expected a failed TLS handshake: {err:?}");
    }

    /// A real reqwest error of the given flavour.
    async fn reqwest_error(timeout: bool) -> TransportError {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        if !timeout {
            // Nobody listens any more: the connection is refused.
            drop(listener);
        }
        let err = client
            .post(format!("http://{addr}/"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.is_timeout(), timeout, "{err:?}");
        TransportErrorKind::custom(err)
    }

    #[test]
    fn numbers_inside_other_text_are_not_transient() {
        // Each of these mentions "502", "503", "429", "eof", "timeout" or "connection"
        // somewhere; none is a transient failure.
        for err in [
            TransportErrorKind::custom_str("invalid block hash 0x5020aa429eof"),
            TransportErrorKind::custom_str("connection string rejected: timeout=503"),
            payload(-32000, "missing trie node 502eof (path 429)", None),
            payload(
                -32602,
                "invalid argument 0: hex string 0x503 has leading zero",
                None,
            ),
            TransportErrorKind::http_error(400, "upstream said 502 Bad Gateway, eof".into()),
            RpcError::DeserError {
                err: serde_json::from_str::<Value>("<").unwrap_err(),
                text: "<html>502 Bad Gateway</html>".into(),
            },
        ] {
            assert!(!classify(&err).is_transient(), "{err}");
            assert!(!TransientOnly.should_retry(&err), "{err}");
        }
    }

    #[tokio::test]
    async fn real_outages_and_rate_limits_are_transient() {
        for err in [
            TransportErrorKind::http_error(429, String::new()),
            TransportErrorKind::http_error(503, "<html>unavailable</html>".into()),
            TransportErrorKind::http_error(502, String::new()),
            TransportErrorKind::http_error_with_retry_after(
                429,
                String::new(),
                Some(Duration::from_secs(2)),
            ),
            payload(429, "Too Many Requests", None),
            payload(
                LIMIT_EXCEEDED,
                "project ID request rate exceeded",
                Some(r#"{"rate":{"backoff_seconds":2}}"#),
            ),
            RpcError::NullResp,
            reqwest_error(true).await,
            reqwest_error(false).await,
        ] {
            assert_eq!(classify(&err), RpcErrorKind::Transient, "{err}");
            assert!(TransientOnly.should_retry(&err), "{err}");
        }
        let hinted = TransportErrorKind::http_error_with_retry_after(
            429,
            String::new(),
            Some(Duration::from_secs(3_600)),
        );
        assert_eq!(TransientOnly.backoff_hint(&hinted), Some(MAX_HINT));
    }

    #[test]
    fn reverts_are_final_and_pool_answers_are_named() {
        let revert = payload(
            3,
            "execution reverted: custom error",
            Some(r#""0xdeadbeef""#),
        );
        assert_eq!(classify(&revert), RpcErrorKind::Reverted);
        assert!(!TransientOnly.should_retry(&revert));
        assert_eq!(
            classify(&payload(-32000, "execution reverted", None)),
            RpcErrorKind::Reverted
        );
        for (message, kind) in [
            ("nonce too low", RpcErrorKind::NonceTooLow),
            (
                "nonce too low: next nonce 5, tx nonce 4",
                RpcErrorKind::NonceTooLow,
            ),
            ("already known", RpcErrorKind::AlreadyKnown),
            ("transaction already imported", RpcErrorKind::AlreadyKnown),
            (
                "replacement transaction underpriced",
                RpcErrorKind::Underpriced,
            ),
            (
                "max fee per gas less than block base fee",
                RpcErrorKind::Underpriced,
            ),
        ] {
            assert_eq!(classify(&payload(-32003, message, None)), kind, "{message}");
        }
        // A range refusal is a rejection: a smaller range may pass.
        assert_eq!(
            classify(&payload(
                LIMIT_EXCEEDED,
                "query exceeds max block range 3",
                None
            )),
            RpcErrorKind::Rejected
        );
        assert_eq!(
            classify(&TransportErrorKind::http_error(413, String::new())),
            RpcErrorKind::Rejected
        );
    }

    /// A JSON-RPC server that answers the first `fail` requests with `failure`, then
    /// `eth_blockNumber` = 7.
    async fn flaky(fail: usize, failure: (u16, Value)) -> (Url, Arc<AtomicUsize>) {
        let seen = Arc::new(AtomicUsize::new(0));
        let count = seen.clone();
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move |axum::Json(req): axum::Json<Value>| {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let failure = failure.clone();
                async move {
                    let status = axum::http::StatusCode::from_u16(failure.0).unwrap();
                    if n < fail {
                        let mut body = failure.1;
                        body["id"] = req["id"].clone();
                        (status, axum::Json(body))
                    } else {
                        (
                            axum::http::StatusCode::OK,
                            axum::Json(json!({"jsonrpc": "2.0", "id": req["id"], "result": "0x7"})),
                        )
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url.parse().unwrap(), seen)
    }

    #[tokio::test]
    async fn the_client_retries_transient_failures_only() {
        let retry = Retry {
            max_retries: 4,
            backoff: Duration::from_millis(10),
        };
        // Two 503s, then an answer: the caller sees the answer.
        let (url, seen) = flaky(2, (503, json!({}))).await;
        let provider = ProviderBuilder::new().connect_client(client(url, retry));
        assert_eq!(provider.get_block_number().await.unwrap(), 7);
        assert_eq!(seen.load(Ordering::SeqCst), 3);
        // A JSON-RPC error that merely mentions 502: asked once, refused at once.
        let (url, seen) = flaky(
            1,
            (
                200,
                json!({"jsonrpc": "2.0", "error": {"code": -32000, "message": "block 502 not found"}}),
            ),
        )
        .await;
        let provider = ProviderBuilder::new().connect_client(client(url, retry));
        let err = provider.get_block_number().await.unwrap_err();
        assert_eq!(classify(&err), RpcErrorKind::Rejected, "{err}");
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }
}
