//! Reading the chain state at a batch's commit that its receipts are judged by ([`AtCommit`]):
//! once per key, payer and acceptance, and per usage key the settled count (and, while the
//! relayer's line was locked, the count of its earlier audited batches). The audit reads these
//! from the chain, not from the indexer's own derived state, so that it checks the relayer
//! against the contract rather than against what the indexer concluded.

use std::collections::{HashMap, HashSet};

use alloy::{eips::BlockId, primitives::Address, providers::DynProvider};
use fairtrain_chain::Views;
use fairtrain_protocol::batch::BatchData;

use super::{
    checks::{AtCommit, Committed, KeyWindow, LineAtCommit},
    store,
};
use crate::{reads, Db, Result};

/// The chain state at `batch`'s commit for the receipts of `doc` (which recover to `signers`),
/// given the relayer's `lines` at the commit: each signing key's window, each acceptance and
/// each usage key's settled count, read once per key at the commit's block ([`Views`]: through
/// Multicall3 where the chain has it).
pub(crate) async fn at_commit(
    db: &Db,
    provider: &DynProvider,
    escrow: Address,
    batch: &Committed,
    doc: &BatchData,
    signers: &[Option<Address>],
    lines: &HashMap<(String, String), LineAtCommit>,
) -> Result<AtCommit> {
    let views = Views::at(provider, BlockId::number(batch.block_number)).await?;
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
    let keys = reads::signers(&views, escrow, key_set)
        .await?
        .into_iter()
        .map(|(key, k)| {
            let window = KeyWindow {
                registered_at: k.registeredAt.to::<u64>(),
                revoked_at: k.revokedAt.to::<u64>(),
            };
            (key, window)
        })
        .collect();
    let acceptance_set: HashSet<_> = usage_set.values().copied().collect();
    let acceptances = reads::acceptances(&views, escrow, acceptance_set).await?;
    let settled = reads::settled(&views, escrow, usage_set.keys().copied()).await?;
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
