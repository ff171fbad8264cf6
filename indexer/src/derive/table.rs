//! A write-back cache of one derived table for the span of one database transaction: rows are
//! loaded on first use, changed in memory, and written once (multi-row upserts and deletes) when
//! the transaction flushes. Applying many events to few keys thus costs a handful of statements.

use std::{collections::HashMap, hash::Hash};

use sqlx::{any::AnyRow, Any, Row as _, Transaction};

use fairtrain_db::Backend;

use crate::Result;

/// A column value as bound or read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Val {
    /// `BIGINT`.
    I(i64),
    /// `TEXT`.
    T(String),
    /// Nullable `TEXT`.
    N(Option<String>),
}

/// A derived table's row type: how its key and values map to columns.
pub(crate) trait Row: Sized + Clone {
    /// Primary key.
    type Key: Eq + Hash + Clone;
    /// Table name.
    const TABLE: &'static str;
    /// Primary key columns.
    const KEY_COLS: &'static [&'static str];
    /// Other columns, in [`Row::values`] order.
    const COLS: &'static [&'static str];
    /// The key's column values.
    fn key_values(key: &Self::Key) -> Vec<Val>;
    /// The other columns' values.
    fn values(&self) -> Vec<Val>;
    /// Reads the other columns from a row selected as `COLS`.
    fn read(row: &AnyRow) -> Result<Self>;
}

/// The cached rows of one table: `None` marks a row known absent (or deleted).
#[derive(Debug)]
pub(crate) struct Cache<R: Row> {
    rows: HashMap<R::Key, Option<R>>,
    dirty: Vec<R::Key>,
    dirty_set: std::collections::HashSet<R::Key>,
}

impl<R: Row> Default for Cache<R> {
    fn default() -> Self {
        Self {
            rows: HashMap::new(),
            dirty: Vec::new(),
            dirty_set: Default::default(),
        }
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    vals: Vec<Val>,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    for v in vals {
        q = match v {
            Val::I(i) => q.bind(i),
            Val::T(s) => q.bind(s),
            Val::N(s) => q.bind(s),
        };
    }
    q
}

impl<R: Row> Cache<R> {
    fn mark(&mut self, key: &R::Key) {
        if self.dirty_set.insert(key.clone()) {
            self.dirty.push(key.clone());
        }
    }

    async fn load(&mut self, tx: &mut Transaction<'static, Any>, key: &R::Key) -> Result<()> {
        if self.rows.contains_key(key) {
            return Ok(());
        }
        let cond = R::KEY_COLS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect::<Vec<_>>()
            .join(" AND ");
        let sql = format!(
            "SELECT {} FROM {} WHERE {cond}",
            R::COLS.join(", "),
            R::TABLE
        );
        let row = bind_all(
            sqlx::query(sqlx::AssertSqlSafe(sql.clone())),
            R::key_values(key),
        )
        .fetch_optional(&mut **tx)
        .await?;
        let value = row.as_ref().map(R::read).transpose()?;
        self.rows.insert(key.clone(), value);
        Ok(())
    }

    /// Loads, in a few multi-row statements, every one of `keys` not cached yet: what `load`
    /// would otherwise read with one statement (one round trip to the database) per key. A
    /// performance hint only: a key left out is loaded on first use.
    pub(crate) async fn prefetch(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        keys: impl IntoIterator<Item = R::Key>,
    ) -> Result<()> {
        let mut missing: HashMap<Vec<Val>, R::Key> = HashMap::new();
        for key in keys {
            let vals = R::key_values(&key);
            // `IN` never matches NULL: such keys are left to `load`.
            if !self.rows.contains_key(&key) && !vals.iter().any(|v| matches!(v, Val::N(_))) {
                missing.entry(vals).or_insert(key);
            }
        }
        let missing: Vec<(Vec<Val>, R::Key)> = missing.into_iter().collect();
        let width = R::KEY_COLS.len();
        let backend = Backend::of_connection(tx);
        for chunk in missing.chunks((crate::raw::MAX_PARAMS / width).max(1)) {
            let sql = format!(
                "SELECT {} FROM {} WHERE ({}) IN (VALUES {})",
                R::COLS
                    .iter()
                    .chain(R::KEY_COLS)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
                R::TABLE,
                R::KEY_COLS.join(", "),
                fairtrain_db::sql::values(backend, chunk.len(), width, ""),
            );
            let vals = chunk.iter().flat_map(|(v, _)| v.iter().cloned()).collect();
            let found = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), vals)
                .fetch_all(&mut **tx)
                .await?;
            let by_vals: HashMap<&Vec<Val>, &R::Key> = chunk.iter().map(|(v, k)| (v, k)).collect();
            for row in &found {
                let stored = read_key(row, R::COLS.len(), &chunk[0].0)?;
                if let Some(key) = by_vals.get(&stored) {
                    self.rows.insert((*key).clone(), Some(R::read(row)?));
                }
            }
            for (_, key) in chunk {
                self.rows.entry(key.clone()).or_insert(None);
            }
        }
        Ok(())
    }

    /// The cached row of `key`, if it is cached and exists (no database read).
    pub(crate) fn peek(&self, key: &R::Key) -> Option<&R> {
        self.rows.get(key).and_then(Option::as_ref)
    }

    /// The row of `key` for reading (not marked for writing), if it exists.
    pub(crate) async fn get(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        key: &R::Key,
    ) -> Result<Option<&R>> {
        self.load(tx, key).await?;
        Ok(self.peek(key))
    }

    /// The row for changing (marked for writing), if it exists.
    pub(crate) async fn get_mut(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        key: &R::Key,
    ) -> Result<Option<&mut R>> {
        self.load(tx, key).await?;
        if matches!(self.rows.get(key), Some(Some(_))) {
            self.mark(key);
        }
        Ok(self.rows.get_mut(key).and_then(Option::as_mut))
    }

    /// The row for changing, created with `init` when absent.
    pub(crate) async fn upsert(
        &mut self,
        tx: &mut Transaction<'static, Any>,
        key: &R::Key,
        init: impl FnOnce() -> R,
    ) -> Result<&mut R> {
        self.load(tx, key).await?;
        self.mark(key);
        let slot = self.rows.get_mut(key).expect("loaded above");
        Ok(slot.get_or_insert_with(init))
    }

    /// Sets a row without reading the stored one.
    pub(crate) fn put(&mut self, key: R::Key, row: R) {
        self.mark(&key);
        self.rows.insert(key, Some(row));
    }

    /// Deletes a row.
    pub(crate) fn delete(&mut self, key: R::Key) {
        self.mark(&key);
        self.rows.insert(key, None);
    }

    /// Writes the changed rows; the cache stays valid for the rest of the transaction.
    pub(crate) async fn flush(&mut self, tx: &mut Transaction<'static, Any>) -> Result<()> {
        let keys = std::mem::take(&mut self.dirty);
        self.dirty_set.clear();
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for key in keys {
            match self.rows.get(&key) {
                Some(Some(row)) => upserts.push((key, row)),
                _ => deletes.push(key),
            }
        }
        let cols = R::KEY_COLS.len() + R::COLS.len();
        let all_cols = R::KEY_COLS
            .iter()
            .chain(R::COLS)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        let update = if R::COLS.is_empty() {
            "DO NOTHING".to_owned()
        } else {
            format!(
                "DO UPDATE SET {}",
                R::COLS
                    .iter()
                    .map(|c| format!("{c} = excluded.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let backend = Backend::of_connection(tx);
        for chunk in upserts.chunks((crate::raw::MAX_PARAMS / cols).max(1)) {
            let sql = format!(
                "INSERT INTO {} ({all_cols}) VALUES {} ON CONFLICT ({}) {update}",
                R::TABLE,
                fairtrain_db::sql::values(backend, chunk.len(), cols, ""),
                R::KEY_COLS.join(", ")
            );
            let mut vals = Vec::with_capacity(chunk.len() * cols);
            for (key, row) in chunk {
                vals.extend(R::key_values(key));
                vals.extend(row.values());
            }
            bind_all(sqlx::query(sqlx::AssertSqlSafe(sql.clone())), vals)
                .execute(&mut **tx)
                .await?;
        }
        if !deletes.is_empty() {
            let cond = R::KEY_COLS
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c} = ${}", i + 1))
                .collect::<Vec<_>>()
                .join(" AND ");
            let sql = format!("DELETE FROM {} WHERE {cond}", R::TABLE);
            for key in deletes {
                bind_all(
                    sqlx::query(sqlx::AssertSqlSafe(sql.clone())),
                    R::key_values(&key),
                )
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }

    /// Forgets every cached row (after a flush, to bound memory).
    pub(crate) fn clear(&mut self) {
        debug_assert!(self.dirty.is_empty());
        self.rows.clear();
    }

    /// Number of cached rows.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }
}

/// Reads the key columns that follow the first `at` columns of `row`, each as the type of the
/// same column in `like`.
fn read_key(row: &AnyRow, at: usize, like: &[Val]) -> Result<Vec<Val>> {
    like.iter()
        .enumerate()
        .map(|(i, v)| {
            Ok(match v {
                Val::I(_) => Val::I(int(row, at + i)?),
                Val::T(_) => Val::T(text(row, at + i)?),
                Val::N(_) => Val::N(opt_text(row, at + i)?),
            })
        })
        .collect()
}

/// Reads column `i` as `i64`.
pub(crate) fn int(row: &AnyRow, i: usize) -> Result<i64> {
    Ok(row.try_get::<i64, _>(i)?)
}

/// Reads column `i` as text.
pub(crate) fn text(row: &AnyRow, i: usize) -> Result<String> {
    Ok(row.try_get::<String, _>(i)?)
}

/// Reads column `i` as nullable text.
pub(crate) fn opt_text(row: &AnyRow, i: usize) -> Result<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(i)?)
}

#[cfg(test)]
mod tests {
    use fairtrain_testkit::{Backend as TestBackend, TestDb};

    use super::*;

    /// A row keyed by two columns of two types, with a nullable column.
    #[derive(Clone, Debug, PartialEq)]
    struct Note {
        n: i64,
        text: Option<String>,
    }

    impl Row for Note {
        type Key = (String, i64);
        const TABLE: &'static str = "notes";
        const KEY_COLS: &'static [&'static str] = &["owner", "seq"];
        const COLS: &'static [&'static str] = &["n", "text"];
        fn key_values(key: &Self::Key) -> Vec<Val> {
            vec![Val::T(key.0.clone()), Val::I(key.1)]
        }
        fn values(&self) -> Vec<Val> {
            vec![Val::I(self.n), Val::N(self.text.clone())]
        }
        fn read(row: &AnyRow) -> Result<Self> {
            Ok(Self {
                n: int(row, 0)?,
                text: opt_text(row, 1)?,
            })
        }
    }

    /// Prefetching finds exactly what loading one key at a time finds (stored rows, absent
    /// keys, duplicates, more keys than one statement binds), on both backends.
    #[tokio::test]
    async fn prefetch_reads_what_load_reads() {
        for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
            let test_db = TestDb::new(backend);
            let db = fairtrain_db::Db::connect(&test_db.url, &fairtrain_db::Options::default())
                .await
                .unwrap();
            sqlx::query(
                "CREATE TABLE notes (owner TEXT NOT NULL, seq BIGINT NOT NULL, n BIGINT NOT NULL, \
                 text TEXT, PRIMARY KEY (owner, seq))",
            )
            .execute(&db.pool)
            .await
            .unwrap();
            let stored = |i: i64| i % 3 != 0;
            let key = |i: i64| (format!("0x{:040x}", i % 7), i);
            let mut tx = db.pool.begin().await.unwrap();
            let mut cache = Cache::<Note>::default();
            for i in (0..1_200).filter(|&i| stored(i)) {
                let text = (i % 2 == 0).then(|| format!("note {i}"));
                cache.put(key(i), Note { n: i * 10, text });
            }
            cache.flush(&mut tx).await.unwrap();
            tx.commit().await.unwrap();

            let mut tx = db.pool.begin().await.unwrap();
            let mut prefetched = Cache::<Note>::default();
            let keys: Vec<_> = (0..1_200).chain(0..10).map(key).collect();
            prefetched.prefetch(&mut tx, keys.clone()).await.unwrap();
            assert_eq!(prefetched.len(), 1_200, "{backend:?}");
            let mut loaded = Cache::<Note>::default();
            for k in &keys {
                loaded.load(&mut tx, k).await.unwrap();
                assert_eq!(prefetched.rows[k], loaded.rows[k], "{backend:?} {k:?}");
                assert_eq!(
                    prefetched.rows[k].is_some(),
                    stored(k.1),
                    "{backend:?} {k:?}"
                );
            }
            // Nothing prefetched is marked for writing.
            prefetched.flush(&mut tx).await.unwrap();
            tx.commit().await.unwrap();
        }
    }
}
