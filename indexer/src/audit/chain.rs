//! Reading the chain state at a batch's commit that its receipts are judged by ([`AtCommit`]):
//! once per key, payer and acceptance, and per usage key the settled count (and, while the
//! relayer's line was locked, the count of its earlier audited batches). The audit reads these
//! from the chain, not from the indexer's own derived state, so that it checks the relayer
//! against the contract rather than against what the indexer concluded.

use std::collections::{HashMap, HashSet};

use alloy::{eips::BlockId, primitives::Address, providers::DynProvider};
use fairtrain_protocol::{batch::BatchData, bindings::TrainingEscrow};
use futures::{stream, StreamExt, TryStreamExt};

use super::{
    checks::{AtCommit, Committed, KeyWindow, LineAtCommit},
    store,
};
use crate::{Db, Error, Result};

fn rpc(e: impl std::fmt::Display) -> Error {
    Error::rpc("eth_call", e)
}

/// View calls in flight at once: the reads of a batch of thousands of receipts overlap instead
/// of waiting for each other (one round trip each), without flooding the node.
const PARALLEL_CALLS: usize = 16;

/// Reads `read(key)` for every key, [`PARALLEL_CALLS`] at a time.
async fn read_all<K, V, F, Fut>(keys: Vec<K>, read: F) -> Result<HashMap<K, V>>
where
    K: Eq + std::hash::Hash + Clone,
    F: Fn(K) -> Fut,
    Fut: std::future::Future<Output = Result<V>>,
{
    stream::iter(keys)
        .map(|key| {
            let call = read(key.clone());
            async move { Ok::<_, Error>((key, call.await?)) }
        })
        .buffer_unordered(PARALLEL_CALLS)
        .try_collect()
        .await
}

/// The chain state at `batch`'s commit for the receipts of `doc` (which recover to `signers`),
/// given the relayer's `lines` at the commit: each signing key's window, each acceptance and
/// each usage key's settled count, read once per key with calls at the commit's block.
pub(crate) async fn at_commit(
    db: &Db,
    provider: &DynProvider,
    escrow: Address,
    batch: &Committed,
    doc: &BatchData,
    signers: &[Option<Address>],
    lines: &HashMap<(String, String), LineAtCommit>,
) -> Result<AtCommit> {
    let at = BlockId::number(batch.block_number);
    let escrow = TrainingEscrow::new(escrow, provider.clone());
    // Signing keys, and each usage key with the acceptance it is charged under (a usage key
    // hashes the payer, license and terms, so it names one acceptance).
    let (mut key_set, mut usage_set) = (HashSet::new(), HashMap::new());
    for (sr, signer) in doc.receipts.iter().zip(signers) {
        let r = sr.receipt();
        if let Some(s) = *signer {
            key_set.insert((r.payer, s));
        }
        usage_set
            .entry(r.usage_key())
            .or_insert((r.payer, r.licenseId, r.termsId));
    }
    let escrow = &escrow;
    let keys = read_all(
        key_set.into_iter().collect(),
        |(payer, signer)| async move {
            let k = escrow
                .signerOf(payer, signer)
                .block(at)
                .call()
                .await
                .map_err(rpc)?;
            Ok(KeyWindow {
                registered_at: k.registeredAt.to::<u64>(),
                revoked_at: k.revokedAt.to::<u64>(),
            })
        },
    )
    .await?;
    let acceptance_set: HashSet<_> = usage_set.values().copied().collect();
    let acceptances = read_all(
        acceptance_set.into_iter().collect(),
        |(payer, license, terms)| async move {
            escrow
                .acceptance(payer, license, terms)
                .block(at)
                .call()
                .await
                .map_err(rpc)
        },
    )
    .await?;
    let settled = read_all(usage_set.keys().copied().collect(), |key| async move {
        escrow
            .settledSamples(key)
            .block(at)
            .call()
            .await
            .map_err(rpc)
    })
    .await?;
    let mut earlier = HashMap::new();
    for (key, acceptance_key) in &usage_set {
        let token = acceptances[acceptance_key].token;
        let line = lines.get(&(format!("{:#x}", acceptance_key.0), format!("{token:#x}")));
        if let Some(l) = line.filter(|l| l.locked) {
            let count = store::prior_count(
                db,
                &format!("{key:#x}"),
                &batch.relayer,
                l.since_block,
                batch.block_number,
            )
            .await?;
            earlier.insert(*key, count);
        }
    }
    Ok(AtCommit {
        keys,
        acceptances,
        settled,
        earlier,
    })
}
