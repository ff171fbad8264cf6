//! A database made by the indexer of the escrow before credit lines is refused with a clear
//! error; one migrated to the same schema but never bound to a deployment upgrades cleanly.

use std::path::Path;

use fairtrain_indexer::{Db, Error};
use sqlx::{any::install_default_drivers, migrate::Migrator, AnyPool};

use crate::{
    both_databases,
    support::{root, Backend, TestDb},
};

/// Migrates `url` with the migrations before credit lines only (0001–0007, unchanged), as the
/// earlier indexer did, and binds it to a deployment if `bound`.
async fn old_indexer_database(url: &str, bound: bool) {
    install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root().join("indexer/migrations")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "0008" {
            std::fs::copy(&path, dir.path().join(&name)).unwrap();
        }
    }
    let url = if url.starts_with("sqlite:") {
        format!("{url}?mode=rwc")
    } else {
        url.to_owned()
    };
    let pool = AnyPool::connect(&url).await.unwrap();
    Migrator::new(Path::new(dir.path()))
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    if bound {
        for (key, value) in [
            ("chain_id", "31337"),
            (
                "training_escrow",
                "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512",
            ),
        ] {
            sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2)")
                .bind(key)
                .bind(value)
                .execute(&pool)
                .await
                .unwrap();
        }
        sqlx::query("INSERT INTO relayers (payer, relayer, authorized) VALUES ('0x1', '0x2', 1)")
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
}

async fn legacy_refused(backend: Backend) {
    let test_db = TestDb::new(backend);
    old_indexer_database(&test_db.url, true).await;
    for attempt in 0..2 {
        match Db::connect(&test_db.url).await {
            Err(e @ Error::LegacyDatabase(_)) => {
                let message = e.to_string();
                assert!(
                    message.contains("earlier TrainingEscrow") && message.contains("new database"),
                    "{message}"
                );
            }
            Err(e) => panic!("attempt {attempt}: another error: {e}"),
            Ok(_) => panic!("attempt {attempt}: an old-escrow database was accepted"),
        }
    }

    // Same schema, never bound to a deployment (nothing indexed): upgraded and accepted.
    let fresh = TestDb::new(backend);
    old_indexer_database(&fresh.url, false).await;
    let db = Db::connect(&fresh.url).await.unwrap();
    let (lines,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM credit_lines")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(lines, 0);
}
both_databases!(old_escrow_database_is_refused, super::legacy_refused);
