//! The escrow's per-key views, read in bulk at one block through [`Views`] (Multicall3 where the
//! chain has it): acceptances, signing keys and settled counts. The audit reads them at a batch's
//! commit, the reconciliation at the checkpoint.

use std::collections::HashMap;

use alloy::primitives::{Address, B256, U256};
use fairtrain_chain::Views;
use fairtrain_protocol::bindings::{
    Escrow::{Acceptance, Signer},
    TrainingEscrow::{acceptanceCall, settledSamplesCall, signerOfCall},
};

use crate::{Error, Result};

fn rpc(e: impl std::fmt::Display) -> Error {
    Error::rpc("eth_call", e)
}

/// Each `(payer, licenseId, termsId)`'s acceptance.
pub(crate) async fn acceptances(
    views: &Views,
    escrow: Address,
    keys: impl IntoIterator<Item = (Address, U256, u64)>,
) -> Result<HashMap<(Address, U256, u64), Acceptance>> {
    let calls = keys
        .into_iter()
        .map(|(payer, license_id, terms_id)| {
            let call = acceptanceCall {
                payer,
                licenseId: license_id,
                termsId: terms_id,
            };
            ((payer, license_id, terms_id), escrow, call)
        })
        .collect();
    views.read_all(calls).await.map_err(rpc)
}

/// Each `(payer, signer)`'s signing-key window.
pub(crate) async fn signers(
    views: &Views,
    escrow: Address,
    keys: impl IntoIterator<Item = (Address, Address)>,
) -> Result<HashMap<(Address, Address), Signer>> {
    let calls = keys
        .into_iter()
        .map(|(payer, signer)| ((payer, signer), escrow, signerOfCall { payer, signer }))
        .collect();
    views.read_all(calls).await.map_err(rpc)
}

/// Each usage key's settled count.
pub(crate) async fn settled(
    views: &Views,
    escrow: Address,
    keys: impl IntoIterator<Item = B256>,
) -> Result<HashMap<B256, u64>> {
    let calls = keys
        .into_iter()
        .map(|key| (key, escrow, settledSamplesCall { key }))
        .collect();
    views.read_all(calls).await.map_err(rpc)
}
