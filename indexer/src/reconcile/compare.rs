//! The one comparison helper of a reconciliation: [`Checks`] queues comparisons of an indexed
//! value with a chain view, runs them together, and records each mismatch as a named
//! [`Difference`].

use std::future::Future;

use futures::{future::BoxFuture, stream, FutureExt, StreamExt};

use super::Difference;
use crate::{Error, Result};

/// The `eth_call` error of a failed view.
pub(super) fn rpc(e: impl std::fmt::Display) -> Error {
    Error::rpc("eth_call", e)
}

/// A chain view read at the reconciled block, as text.
pub(super) type View = BoxFuture<'static, Result<String>>;

/// Turns a chain read into a [`View`] (its value's `to_string`).
pub(super) fn view<T: ToString>(read: impl Future<Output = Result<T>> + Send + 'static) -> View {
    async move { Ok(read.await?.to_string()) }.boxed()
}

/// A chain value already read (in bulk, through [`fairtrain_chain::Views`]), as a chain read.
pub(super) fn ready<T: Send + 'static>(
    value: T,
) -> impl Future<Output = Result<T>> + Send + 'static {
    futures::future::ready(Ok(value))
}

/// One comparison: the indexed value of `what` against a chain view.
pub(super) struct Comparison {
    what: String,
    indexed: String,
    chain: View,
}

/// The comparison of `indexed` with the chain's `chain`, under the name `what`.
pub(super) fn comparison(
    what: impl Into<String>,
    indexed: impl ToString,
    chain: View,
) -> Comparison {
    Comparison {
        what: what.into(),
        indexed: indexed.to_string(),
        chain,
    }
}

impl Comparison {
    /// Reads the view; the difference, if the values differ.
    async fn run(self) -> Result<Option<Difference>> {
        let chain = self.chain.await?;
        Ok((self.indexed != chain).then_some(Difference {
            what: self.what,
            indexed: self.indexed,
            chain,
        }))
    }
}

type Queued = BoxFuture<'static, Result<Option<Difference>>>;

/// The comparisons of one reconciliation, each counted as one value compared.
#[derive(Default)]
pub(super) struct Checks {
    queued: Vec<Queued>,
}

impl Checks {
    /// Queues comparing `indexed` with what `chain` reads, recorded under `what` if they differ.
    pub(super) fn compare<T: ToString>(
        &mut self,
        what: impl Into<String>,
        indexed: impl ToString,
        chain: impl Future<Output = Result<T>> + Send + 'static,
    ) {
        self.queued
            .push(comparison(what, indexed, view(chain)).run().boxed());
    }

    /// Queues comparisons that count as one value: run in turn, the first difference recorded.
    pub(super) fn compare_in_turn(&mut self, steps: Vec<Comparison>) {
        self.queued.push(
            async move {
                for step in steps {
                    if let Some(d) = step.run().await? {
                        return Ok(Some(d));
                    }
                }
                Ok(None)
            }
            .boxed(),
        );
    }

    /// Records a difference between an indexed value and the value the index says it must
    /// equal (`expected`; no chain read), counted only if they differ.
    pub(super) fn mismatch_if(
        &mut self,
        what: impl Into<String>,
        indexed: impl ToString,
        expected: impl ToString,
    ) {
        let (indexed, expected) = (indexed.to_string(), expected.to_string());
        if indexed != expected {
            let d = Difference {
                what: what.into(),
                indexed,
                chain: expected,
            };
            self.queued
                .push(futures::future::ready(Ok(Some(d))).boxed());
        }
    }

    /// Runs the comparisons (16 at once): how many, and the differences sorted by name.
    pub(super) async fn run(self) -> Result<(u64, Vec<Difference>)> {
        let total = self.queued.len() as u64;
        let results: Vec<Result<Option<Difference>>> = stream::iter(self.queued)
            .buffer_unordered(16)
            .collect()
            .await;
        let mut differences = Vec::new();
        for r in results {
            if let Some(d) = r? {
                differences.push(d);
            }
        }
        differences.sort_by(|a, b| a.what.cmp(&b.what));
        Ok((total, differences))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_named_mismatches_and_counts_every_comparison() {
        let mut checks = Checks::default();
        checks.compare("same", 7, async { Ok(7u64) });
        checks.compare("b differs", "x", async { Ok("y") });
        checks.compare_in_turn(vec![
            comparison("first", 1, view(async { Ok(1) })),
            comparison("a second", 2, view(async { Ok(3) })),
            comparison("third", 4, view(async { Ok(5) })),
        ]);
        checks.mismatch_if("equal sums", 5, 5);
        checks.mismatch_if("sums", 5, 6);
        let (total, differences) = checks.run().await.unwrap();
        assert_eq!(total, 4, "an equal sum is not counted");
        let found: Vec<_> = differences
            .iter()
            .map(|d| (d.what.as_str(), d.indexed.as_str(), d.chain.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("a second", "2", "3"),
                ("b differs", "x", "y"),
                ("sums", "5", "6")
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_view_fails_the_run() {
        let mut checks = Checks::default();
        checks.compare("broken", 1, async { Err::<u64, _>(rpc("boom")) });
        assert!(checks.run().await.is_err());
    }
}
