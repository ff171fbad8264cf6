//! The meter against a relayer that verifies what it receives.

use std::{sync::Arc, time::Duration};

use fairtrain_sdk::{relayer::RelayerError, Error, ManualClock, Meter};

use crate::support::{config, usage, TestRelayer};

#[tokio::test]
async fn flush_reports_each_key_once_with_its_cumulative_count() {
    let relayer = TestRelayer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let meter = Meter::open(config(dir.path(), &relayer.url)).await.unwrap();
    meter.record(usage(1, "r"), 100).await.unwrap();
    meter.record(usage(1, "r"), 50).await.unwrap();
    meter.record(usage(2, "r"), 7).await.unwrap();

    let report = meter.flush().await.unwrap();
    assert_eq!((report.sent, report.accepted, report.duplicates), (2, 2, 0));
    let key1 = usage(1, "r")
        .receipt(crate::support::PAYER, 0, 0)
        .usage_key();
    assert_eq!(relayer.ledger().cumulative[&key1], 150);

    // Nothing new: nothing sent.
    assert_eq!(meter.flush().await.unwrap().sent, 0);
    meter.record(usage(1, "r"), 1).await.unwrap();
    let report = meter.flush().await.unwrap();
    assert_eq!((report.sent, report.accepted), (1, 1));
    assert_eq!(relayer.ledger().cumulative[&key1], 151);
    assert!(meter
        .status()
        .await
        .unwrap()
        .iter()
        .all(|e| e.unreported() == 0));
}

#[tokio::test]
async fn bulk_requests_are_split_at_max_bulk() {
    let relayer = TestRelayer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), &relayer.url);
    config.max_bulk = 3;
    let meter = Meter::open(config).await.unwrap();
    let usages: Vec<_> = (1..=8).map(|n| (usage(n, "r"), n)).collect();
    meter.record_many(&usages).await.unwrap();
    let report = meter.flush().await.unwrap();
    assert_eq!((report.sent, report.accepted), (8, 8));
    assert_eq!(relayer.ledger().requests, 3);
}

#[tokio::test]
async fn server_errors_are_retried_and_lost_answers_come_back_as_duplicates() {
    let relayer = TestRelayer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let meter = Meter::open(config(dir.path(), &relayer.url)).await.unwrap();
    meter.record(usage(1, "r"), 10).await.unwrap();
    relayer.ledger().fail_next = 2;
    relayer.ledger().lose_answers = 1;
    let report = meter.flush().await.unwrap();
    // 2 × 503, then stored but answered 500, then the same bytes again: a duplicate.
    assert_eq!(relayer.ledger().requests, 4);
    assert_eq!((report.accepted, report.duplicates), (0, 1));
    assert_eq!(relayer.ledger().digests.len(), 1);
    assert_eq!(meter.status().await.unwrap()[0].acked, 10);
}

/// A count is signed once: the receipt the journal stored before a restart is the one sent
/// after it, byte for byte, although the clock moved on in between (re-signing would stamp a
/// later `issuedAt`, so a second signature could not pass for the first).
#[tokio::test]
async fn an_unreachable_relayer_loses_nothing_and_each_count_is_signed_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_750_000_000));
    let config = |url: &str| {
        let mut config = config(dir.path(), url);
        config.clock = clock.clone();
        config
    };
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let stored = {
        let meter = Meter::open(config(&url)).await.unwrap();
        meter.record(usage(1, "r"), 42).await.unwrap();
        let err = meter.flush().await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Relayer(RelayerError::Unreachable { attempts: 4, .. })
            ),
            "{err}"
        );
        let entry = &meter.status().await.unwrap()[0];
        assert_eq!(entry.unreported(), 42);
        // Signed and stored before the failed send.
        entry
            .signed
            .clone()
            .expect("the journal stored the receipt")
    };
    assert_eq!(
        (stored.cumulative_samples, stored.issued_at),
        (42, 1_750_000_000)
    );
    // An hour later the relayer comes up; the meter restarts with the same journal and resends
    // the receipt it signed before.
    clock.advance(3_600);
    let relayer = TestRelayer::start().await;
    let meter = Meter::open(config(&relayer.url)).await.unwrap();
    let report = meter.flush().await.unwrap();
    assert_eq!(report.accepted, 1);
    assert_eq!(
        relayer.ledger().received,
        vec![stored],
        "the relayer received the receipt signed before the restart, not a new one"
    );
    let key = usage(1, "r")
        .receipt(crate::support::PAYER, 0, 0)
        .usage_key();
    assert_eq!(relayer.ledger().signed_per_count[&(key, 42)].len(), 1);
    assert_eq!(meter.status().await.unwrap()[0].unreported(), 0);

    // New samples are signed at the clock's new time.
    meter.record(usage(1, "r"), 1).await.unwrap();
    assert_eq!(meter.flush().await.unwrap().accepted, 1);
    let last = relayer.ledger().received.last().cloned().unwrap();
    assert_eq!(
        (last.cumulative_samples, last.issued_at),
        (43, 1_750_003_600)
    );
}

#[tokio::test]
async fn permanent_refusals_wait_for_new_samples_and_transient_ones_are_resent() {
    let relayer = TestRelayer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let meter = Meter::open(config(dir.path(), &relayer.url)).await.unwrap();
    meter.record(usage(1, "r"), 5).await.unwrap();

    relayer.ledger().refuse_with = Some("insufficient_budget".into());
    let report = meter.flush().await.unwrap();
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].1.code, "insufficient_budget");
    // Transient: sent again next time.
    assert_eq!(meter.flush().await.unwrap().sent, 1);

    relayer.ledger().refuse_with = Some("receipt_after_expiry".into());
    assert_eq!(meter.flush().await.unwrap().refused.len(), 1);
    // Permanent at this count: not resent...
    assert_eq!(meter.flush().await.unwrap().sent, 0);
    let entry = &meter.status().await.unwrap()[0];
    assert_eq!(
        entry.rejection.as_ref().unwrap().code,
        "receipt_after_expiry"
    );
    // ...until more samples are recorded, which makes a new receipt.
    relayer.ledger().refuse_with = None;
    meter.record(usage(1, "r"), 1).await.unwrap();
    let report = meter.flush().await.unwrap();
    assert_eq!((report.sent, report.accepted), (1, 1));
    assert!(meter.status().await.unwrap()[0].rejection.is_none());
}

#[tokio::test]
async fn a_whole_request_refusal_is_an_error_not_a_retry() {
    // An endpoint that answers 413 like a relayer with a smaller body limit.
    let app = axum::Router::new().route(
        "/v1/receipts/bulk",
        axum::routing::post(|| async {
            (
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                axum::Json(serde_json::json!({"error": {"code": "too_many_receipts", "message": "at most 1"}})),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let meter = Meter::open(config(dir.path(), &url)).await.unwrap();
    meter
        .record_many(&[(usage(1, "r"), 1), (usage(2, "r"), 1)])
        .await
        .unwrap();
    let err = meter.flush().await.unwrap_err();
    assert!(
        matches!(&err, Error::Relayer(RelayerError::Refused { status: 413, code, .. }) if code == "too_many_receipts"),
        "{err}"
    );
    assert_eq!(
        meter
            .status()
            .await
            .unwrap()
            .iter()
            .map(|e| e.unreported())
            .sum::<u64>(),
        2
    );
}

#[tokio::test]
async fn the_background_flusher_reports_everything_by_shutdown() {
    let relayer = TestRelayer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let meter = Arc::new(Meter::open(config(dir.path(), &relayer.url)).await.unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let flusher = meter
        .clone()
        .spawn_flusher(Duration::from_millis(20), async move {
            let _ = stopped.await;
        });
    for i in 0..50 {
        meter.record(usage(i % 3, "bg"), 10).await.unwrap();
        if i % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    stop.send(()).unwrap();
    flusher.await.unwrap();
    let total: u64 = relayer.ledger().cumulative.values().sum();
    assert_eq!(total, 500);
    assert!(meter
        .status()
        .await
        .unwrap()
        .iter()
        .all(|e| e.unreported() == 0));
}
