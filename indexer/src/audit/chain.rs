//! Reading the chain state at a batch's commit that its receipts are judged by ([`AtCommit`]):
//! once per key, payer and acceptance, and per usage key the settled count (and, while the
//! relayer's line was locked, the count of its earlier audited batches).

use std::collections::{hash_map::Entry, HashMap};

use alloy::{eips::BlockId, primitives::Address, providers::DynProvider};
use fairtrain_protocol::{batch::BatchData, bindings::TrainingEscrow};

use super::{
    checks::{AtCommit, Committed, KeyWindow, LineAtCommit},
    store,
};
use crate::{Db, Error, Result};

fn rpc(e: impl std::fmt::Display) -> Error {
    Error::rpc("eth_call", e)
}

/// The chain state at `batch`'s commit for the receipts of `doc` (which recover to `signers`),
/// given the relayer's `lines` at the commit.
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
    let mut state = AtCommit::default();
    for (sr, signer) in doc.receipts.iter().zip(signers) {
        let r = sr.receipt();
        if let Some(s) = *signer {
            if let Entry::Vacant(slot) = state.keys.entry((r.payer, s)) {
                let k = escrow
                    .signerOf(r.payer, s)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                let window = KeyWindow {
                    registered_at: k.registeredAt.to::<u64>(),
                    revoked_at: k.revokedAt.to::<u64>(),
                };
                slot.insert(window);
            }
        }
        let acceptance_key = (r.payer, r.licenseId, r.termsId);
        if let Entry::Vacant(slot) = state.acceptances.entry(acceptance_key) {
            let acc = escrow
                .acceptance(r.payer, r.licenseId, r.termsId)
                .block(at)
                .call()
                .await
                .map_err(rpc)?;
            slot.insert(acc);
        }
        let key = r.usage_key();
        if state.settled.contains_key(&key) {
            continue;
        }
        let settled = escrow
            .settledSamples(key)
            .block(at)
            .call()
            .await
            .map_err(rpc)?;
        state.settled.insert(key, settled);
        let token = state.acceptances[&acceptance_key].token;
        let line = lines.get(&(format!("{:#x}", r.payer), format!("{token:#x}")));
        if let Some(l) = line.filter(|l| l.locked) {
            let earlier = store::prior_count(
                db,
                &format!("{key:#x}"),
                &batch.relayer,
                l.since_block,
                batch.block_number,
            )
            .await?;
            state.earlier.insert(key, earlier);
        }
    }
    Ok(state)
}
