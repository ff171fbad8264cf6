//! Counting in memory and resuming from a checkpoint, on a real journal: a meter dropped without
//! committing (a crash) and reopened counts every sample position exactly once.

use fairtrain_sdk::{Meter, Position, Restart};

use crate::support::{config, usage, TestRelayer};

/// Samples recorded per usage in the journal.
async fn recorded(meter: &Meter) -> Vec<u64> {
    meter
        .status()
        .await
        .unwrap()
        .iter()
        .map(|e| e.recorded)
        .collect()
}

#[tokio::test]
async fn a_crash_after_a_checkpoint_replays_without_counting_twice() {
    let relayer = TestRelayer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let a = usage(1, "resume");

    // First life: 30 samples, a checkpoint, 20 more committed, 5 more never committed.
    let checkpoint: Position = {
        let meter = Meter::open(config(dir.path(), &relayer.url)).await.unwrap();
        assert_eq!(meter.count(a, 30), 30);
        let checkpoint = meter.position().await.unwrap();
        assert_eq!(checkpoint.counts, vec![(a, 30)]);
        meter.count(a, 20);
        meter.commit().await.unwrap();
        meter.count(a, 5);
        assert_eq!(meter.uncommitted(), 5);
        checkpoint
    }; // dropped: the 5 uncommitted samples are lost with the process

    // Second life, from the checkpoint: the journal holds 50, so 20 replayed samples are skipped.
    let meter = Meter::open(config(dir.path(), &relayer.url)).await.unwrap();
    let resumed = meter.resume(&checkpoint).await.unwrap();
    assert_eq!(
        (resumed[0].journal, resumed[0].credit, resumed[0].raised),
        (50, 20, 0)
    );
    assert_eq!(meter.count(a, 8), 0);
    // A checkpoint taken mid-replay stands where the job stands, not where the journal does.
    assert_eq!(meter.position().await.unwrap().counts, vec![(a, 38)]);
    assert_eq!(meter.count(a, 12), 0);
    assert_eq!(
        meter.count(a, 5),
        5,
        "the samples lost in the crash count on replay"
    );
    meter.count(a, 10);
    let report = meter.flush().await.unwrap();
    assert_eq!(report.accepted, 1);
    // 30 + 20 + 5 + 10 positions trained, each counted once.
    assert_eq!(recorded(&meter).await, vec![65]);
    let key = a.receipt(crate::support::PAYER, 0, 0).usage_key();
    assert_eq!(relayer.ledger().cumulative[&key], 65);
}

#[tokio::test]
async fn a_journal_behind_the_checkpoint_is_raised_and_new_keys_are_replays() {
    let relayer = TestRelayer::start().await;
    let (a, b) = (usage(1, "moved"), usage(2, "moved"));
    let checkpoint = Position {
        counts: vec![(a, 40)],
    };

    // A fresh journal (the job moved machines) that already saw `b` after the checkpoint.
    let dir = tempfile::tempdir().unwrap();
    let meter = Meter::open(config(dir.path(), &relayer.url)).await.unwrap();
    meter.record(b, 7).await.unwrap();
    let resumed = meter.resume(&checkpoint).await.unwrap();
    assert_eq!((resumed[0].raised, resumed[0].credit), (40, 0));
    assert_eq!((resumed[1].usage, resumed[1].credit), (b, 7));
    assert_eq!(meter.count(a, 1), 1);
    assert_eq!(meter.count(b, 7), 0);
    meter.commit().await.unwrap();
    assert_eq!(recorded(&meter).await, vec![7, 41]);
}

#[tokio::test]
async fn a_restart_without_a_checkpoint_replays_from_the_start_unless_the_process_continues() {
    let relayer = TestRelayer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let a = usage(1, "no-checkpoint");
    {
        let meter = Meter::open(config(dir.path(), &relayer.url)).await.unwrap();
        meter.count(a, 12);
        meter.commit().await.unwrap();
    } // killed before its first checkpoint

    // A training job starts again from its first sample: the 12 are replays.
    let meter = Meter::open(config(dir.path(), &relayer.url)).await.unwrap();
    assert_eq!(meter.count(a, 10), 0);
    assert_eq!(meter.count(a, 5), 3);
    meter.commit().await.unwrap();
    assert_eq!(recorded(&meter).await, vec![15]);
    assert_eq!(meter.position().await.unwrap().counts, vec![(a, 15)]);
    drop(meter);

    // A service carries on: everything it counts is new.
    let mut continuing = config(dir.path(), &relayer.url);
    continuing.restart = Restart::Continues;
    let meter = Meter::open(continuing).await.unwrap();
    assert_eq!(meter.count(a, 4), 4);
    meter.commit().await.unwrap();
    assert_eq!(recorded(&meter).await, vec![19]);
}
