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

use crate::Result;

/// Each `(payer, licenseId, termsId)`'s acceptance.
pub(crate) async fn acceptances(
    views: &Views,
    escrow: Address,
    keys: impl IntoIterator<Item = (Address, U256, u64)>,
) -> Result<HashMap<(Address, U256, u64), Acceptance>> {
    views
        .read_each(escrow, keys, |&(payer, license_id, terms_id)| {
            acceptanceCall {
                payer,
                licenseId: license_id,
                termsId: terms_id,
            }
        })
        .await
        .map_err(Into::into)
}

/// Each `(payer, signer)`'s signing-key window.
pub(crate) async fn signers(
    views: &Views,
    escrow: Address,
    keys: impl IntoIterator<Item = (Address, Address)>,
) -> Result<HashMap<(Address, Address), Signer>> {
    views
        .read_each(escrow, keys, |&(payer, signer)| signerOfCall {
            payer,
            signer,
        })
        .await
        .map_err(Into::into)
}

/// Each usage key's settled count.
pub(crate) async fn settled(
    views: &Views,
    escrow: Address,
    keys: impl IntoIterator<Item = B256>,
) -> Result<HashMap<B256, u64>> {
    views
        .read_each(escrow, keys, |&key| settledSamplesCall { key })
        .await
        .map_err(Into::into)
}
