//! The journal on a real SQLite file.

use fairtrain_sdk::{journal::MAX_CUMULATIVE, Error, Journal};

use crate::support::{usage, PAYER};

#[tokio::test]
async fn counts_survive_reopening_and_only_grow() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    {
        let journal = Journal::open(&path, PAYER).await.unwrap();
        assert_eq!(
            journal.record(&[(usage(1, "a"), 10)]).await.unwrap(),
            vec![10]
        );
        assert_eq!(
            journal
                .record(&[(usage(1, "a"), 5), (usage(2, "a"), 7)])
                .await
                .unwrap(),
            vec![15, 7]
        );
    }
    let journal = Journal::open(&path, PAYER).await.unwrap();
    let entries = journal.entries(false).await.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (entries[0].usage, entries[0].recorded, entries[0].acked),
        (usage(1, "a"), 15, 0)
    );
    assert_eq!((entries[1].usage, entries[1].recorded), (usage(2, "a"), 7));
    assert_eq!(
        journal.record(&[(usage(1, "a"), 1)]).await.unwrap(),
        vec![16]
    );
}

#[tokio::test]
async fn an_overflowing_record_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(&dir.path().join("j.db"), PAYER)
        .await
        .unwrap();
    journal
        .record(&[(usage(1, "a"), MAX_CUMULATIVE - 1)])
        .await
        .unwrap();
    let err = journal
        .record(&[(usage(2, "a"), 3), (usage(1, "a"), 2)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Overflow { recorded, adding: 2 } if recorded == MAX_CUMULATIVE - 1)
    );
    // All or nothing: usage 2 was not recorded either.
    let entries = journal.entries(false).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].recorded, MAX_CUMULATIVE - 1);
    assert_eq!(
        journal.record(&[(usage(1, "a"), 1)]).await.unwrap(),
        vec![MAX_CUMULATIVE]
    );
}

#[tokio::test]
async fn acknowledgements_never_move_backwards() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(&dir.path().join("j.db"), PAYER)
        .await
        .unwrap();
    journal.record(&[(usage(1, "a"), 100)]).await.unwrap();
    let key = usage(1, "a").receipt(PAYER, 0, 0).usage_key();
    journal.store_outcomes(&[(key, 80)], &[]).await.unwrap();
    journal.store_outcomes(&[(key, 50)], &[]).await.unwrap();
    let entry = &journal.entries(true).await.unwrap()[0];
    assert_eq!((entry.acked, entry.unreported()), (80, 20));
    journal.store_outcomes(&[(key, 100)], &[]).await.unwrap();
    assert!(journal.entries(true).await.unwrap().is_empty());
}
