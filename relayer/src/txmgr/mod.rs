//! The transaction manager: nonces kept in the store, EIP-1559 pricing with a ceiling, fee
//! bumps, rebroadcast of dropped transactions, and lookup of whichever signed attempt was mined.
//!
//! Every signed transaction is recorded (`txs`) in the same store transaction as the state
//! change that needs it, before it is broadcast; so after a crash the relayer rebroadcasts the
//! same bytes (or finds them mined) instead of signing a second transaction for the same work.
//! Every kind of work walks the same lifecycle ([`lifecycle`]: [`TxJob`] driven by
//! [`TxManager::advance`]).

pub mod lifecycle;

pub use lifecycle::{Policy, Signing, TxJob, TxPhase};

use alloy::{
    eips::{eip2718::Encodable2718, BlockNumberOrTag},
    network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder},
    primitives::{Address, Bytes},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
};
use sqlx::{Any, Transaction};
use tracing::{info, warn};

use fairtrain_chain::rpc::{classify, classify_contract, RpcErrorKind};

use crate::{
    config::TxConfig,
    store::{txs, Store, StoreError, TxRow},
    util::{hex0x, now_secs},
};

/// A transaction-level failure.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// The node failed (see [`RpcErrorKind`]).
    #[error("rpc ({kind:?}): {message}")]
    Rpc {
        /// Class of the failure.
        kind: RpcErrorKind,
        /// The node's message.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

impl From<sqlx::Error> for TxError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::Db(e))
    }
}

impl TxError {
    /// Wraps an RPC error with its class (read from its code and kind, not its text).
    pub fn rpc(e: alloy::transports::TransportError) -> Self {
        Self::Rpc {
            kind: classify(&e),
            message: e.to_string(),
        }
    }

    /// Wraps a failed contract call with its class.
    pub fn contract(e: alloy::contract::Error) -> Self {
        Self::Rpc {
            kind: classify_contract(&e),
            message: e.to_string(),
        }
    }

    /// Whether the node said the transaction would revert.
    pub fn is_revert(&self) -> bool {
        matches!(
            self,
            Self::Rpc {
                kind: RpcErrorKind::Reverted,
                ..
            }
        )
    }
}

/// Where the transactions of one piece of work stand on-chain.
#[derive(Debug)]
pub enum TxStatus {
    /// One attempt is mined, `depth` blocks deep (1 = in the head block).
    Mined {
        /// The mined attempt.
        receipt: Box<TransactionReceipt>,
        /// Confirmations.
        depth: u64,
    },
    /// Not mined, and the node still knows the latest attempt.
    Pending,
    /// Not mined and unknown to the node: rebroadcast.
    Dropped,
    /// The nonce was used by a transaction that is none of ours: sign again with a new nonce.
    NonceTaken,
}

/// Signs and follows the relayer's transactions.
#[derive(Clone)]
pub struct TxManager {
    provider: DynProvider,
    wallet: EthereumWallet,
    from: Address,
    chain_id: u64,
    config: TxConfig,
    store: Store,
}

impl TxManager {
    /// A manager sending from `signer`'s account.
    pub fn new(
        provider: DynProvider,
        signer: PrivateKeySigner,
        chain_id: u64,
        config: TxConfig,
        store: Store,
    ) -> Self {
        let from = signer.address();
        Self {
            provider,
            wallet: EthereumWallet::from(signer),
            from,
            chain_id,
            config,
            store,
        }
    }

    /// The sending account.
    pub const fn address(&self) -> Address {
        self.from
    }

    /// How transactions are priced, bumped and pipelined.
    pub const fn config(&self) -> &TxConfig {
        &self.config
    }

    /// The provider.
    pub const fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// Estimates gas for a call from the relayer (with a 25 % margin).
    ///
    /// # Errors
    ///
    /// [`TxError::Rpc`]; [`TxError::is_revert`] tells a call that would revert.
    pub async fn estimate_gas(&self, to: Address, input: &Bytes) -> Result<u64, TxError> {
        let request = TransactionRequest::default()
            .with_from(self.from)
            .with_to(to)
            .with_input(input.clone());
        let gas = self
            .provider
            .estimate_gas(request)
            .await
            .map_err(TxError::rpc)?;
        Ok(gas + gas / 4 + 10_000)
    }

    /// Current EIP-1559 fees `(maxFeePerGas, maxPriorityFeePerGas)`, within the ceiling.
    ///
    /// # Errors
    ///
    /// [`TxError::Rpc`].
    pub async fn fees(&self) -> Result<(u128, u128), TxError> {
        let est = self
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(TxError::rpc)?;
        let max = est.max_fee_per_gas.min(self.config.max_fee_per_gas);
        Ok((max, est.max_priority_fee_per_gas.min(max)))
    }

    /// Takes the next nonce of the account inside `tx`: the stored counter, or the chain's
    /// pending count when the counter is behind it (first use, or the key was used elsewhere).
    ///
    /// # Errors
    ///
    /// [`TxError`].
    pub async fn take_nonce(&self, tx: &mut Transaction<'_, Any>) -> Result<u64, TxError> {
        let chain = self
            .provider
            .get_transaction_count(self.from)
            .block_id(BlockNumberOrTag::Pending.into())
            .await
            .map_err(TxError::rpc)?;
        Ok(txs::take_nonce(tx, &hex0x(self.from), chain).await?)
    }

    /// Signs a transaction to `to` with `input` and records it under `(kind, ref_id)` inside
    /// `tx`. The caller commits `tx` before broadcasting.
    ///
    /// # Errors
    ///
    /// [`TxError`].
    #[allow(clippy::too_many_arguments)]
    pub async fn sign_and_record(
        &self,
        tx: &mut Transaction<'_, Any>,
        kind: &str,
        ref_id: i64,
        attempt: i64,
        nonce: u64,
        to: Address,
        input: Bytes,
        gas: u64,
        fees: (u128, u128),
    ) -> Result<TxRow, TxError> {
        let request = TransactionRequest::default()
            .with_from(self.from)
            .with_to(to)
            .with_input(input)
            .with_nonce(nonce)
            .with_chain_id(self.chain_id)
            .with_gas_limit(gas)
            .with_max_fee_per_gas(fees.0)
            .with_max_priority_fee_per_gas(fees.1);
        let envelope = request
            .build(&self.wallet)
            .await
            .map_err(|e| TxError::Sign(e.to_string()))?;
        let row = TxRow {
            hash: *envelope.tx_hash(),
            kind: kind.to_owned(),
            ref_id,
            attempt,
            nonce: nonce as i64,
            raw: envelope.encoded_2718().into(),
            max_fee: fees.0,
            priority_fee: fees.1,
            created_at: now_secs(),
        };
        txs::insert(tx, &row).await?;
        Ok(row)
    }

    /// Takes the account's next nonce and signs and records the first transaction — or, after
    /// a nonce was lost, the next attempt — of `(kind, ref_id)` inside `tx`. The caller updates
    /// its own state in `tx` and commits it before broadcasting.
    ///
    /// # Errors
    ///
    /// [`TxError`].
    #[allow(clippy::too_many_arguments)]
    pub async fn sign_next(
        &self,
        tx: &mut Transaction<'_, Any>,
        kind: &str,
        ref_id: i64,
        to: Address,
        input: Bytes,
        gas: u64,
        fees: (u128, u128),
    ) -> Result<TxRow, TxError> {
        let nonce = self.take_nonce(tx).await?;
        let attempt = txs::attempts(tx, kind, ref_id).await?;
        self.sign_and_record(tx, kind, ref_id, attempt, nonce, to, input, gas, fees)
            .await
    }

    /// The fees of a replacement for `last`: `bump_percent` more on both caps (and at least
    /// the current market), within the ceiling. `None` when the ceiling is reached.
    pub async fn bumped_fees(&self, last: &TxRow) -> Result<Option<(u128, u128)>, TxError> {
        let (old_max, old_tip) = (last.max_fee, last.priority_fee);
        let pct = u128::from(self.config.bump_percent);
        let (market_max, market_tip) = self.fees().await?;
        let max = (old_max + old_max * pct / 100 + 1).max(market_max);
        let tip = (old_tip + old_tip * pct / 100 + 1).max(market_tip);
        if old_max >= self.config.max_fee_per_gas {
            return Ok(None);
        }
        let max = max.min(self.config.max_fee_per_gas);
        Ok(Some((max, tip.min(max))))
    }

    /// Whether `last` has waited `bump_after_secs` without being mined, so that it is due for
    /// a replacement.
    pub fn bump_due(&self, last: &TxRow) -> bool {
        now_secs() - last.created_at >= self.config.bump_after_secs as i64
    }

    /// Signs a replacement of `last` (same kind, reference and nonce, fees from
    /// [`TxManager::bumped_fees`]), records it in its own store transaction, and broadcasts it.
    /// The path every transaction kind (commits, claims) takes when stuck or refused below
    /// the base fee. `None` when the fee ceiling is reached (nothing is signed).
    ///
    /// # Errors
    ///
    /// [`TxError`]; a broadcast refused as underpriced or for a used nonce is not an error (the
    /// follow-up status check decides).
    pub async fn replace(
        &self,
        last: &TxRow,
        to: Address,
        input: Bytes,
    ) -> Result<Option<TxRow>, TxError> {
        let Some(fees) = self.bumped_fees(last).await? else {
            return Ok(None);
        };
        let gas = self.estimate_gas(to, &input).await.unwrap_or(5_000_000);
        // Deferred: signing reads the chain's nonce, and an immediate transaction would hold
        // SQLite's write lock across that call. A conflict fails the step, which the loop retries.
        let mut tx = self.store.pool().begin().await?;
        let row = self
            .sign_and_record(
                &mut tx,
                &last.kind,
                last.ref_id,
                last.attempt + 1,
                last.nonce as u64,
                to,
                input,
                gas,
                fees,
            )
            .await?;
        tx.commit().await?;
        info!(kind = %row.kind, id = row.ref_id, attempt = row.attempt, max_fee = %row.max_fee, "fee bump");
        metrics::counter!("relayer_tx_bumps_total").increment(1);
        match self.broadcast(&row).await {
            Ok(())
            | Err(TxError::Rpc {
                kind: RpcErrorKind::Underpriced | RpcErrorKind::NonceTooLow,
                ..
            }) => Ok(Some(row)),
            Err(e) => Err(e),
        }
    }

    /// Broadcasts signed bytes. "Already known" counts as success.
    ///
    /// # Errors
    ///
    /// [`TxError::Rpc`] with its class (e.g. `NonceTooLow` when the nonce is used).
    pub async fn broadcast(&self, row: &TxRow) -> Result<(), TxError> {
        match self.provider.send_raw_transaction(&row.raw).await {
            Ok(_) => {
                info!(hash = %row.hash, nonce = row.nonce, attempt = row.attempt, "broadcast");
                metrics::counter!("relayer_tx_broadcasts_total").increment(1);
                Ok(())
            }
            Err(e) => {
                let err = TxError::rpc(e);
                match &err {
                    TxError::Rpc {
                        kind: RpcErrorKind::AlreadyKnown,
                        ..
                    } => Ok(()),
                    _ => Err(err),
                }
            }
        }
    }

    /// Where the attempts `txs` (all with one nonce) stand.
    ///
    /// # Errors
    ///
    /// [`TxError::Rpc`] when the node cannot be asked.
    pub async fn status(&self, txs: &[TxRow]) -> Result<TxStatus, TxError> {
        let head = self
            .provider
            .get_block_number()
            .await
            .map_err(TxError::rpc)?;
        for row in txs.iter().rev() {
            let hash = row.hash;
            if let Some(receipt) = self
                .provider
                .get_transaction_receipt(hash)
                .await
                .map_err(TxError::rpc)?
            {
                let block = receipt.block_number.unwrap_or(head);
                return Ok(TxStatus::Mined {
                    depth: head.saturating_sub(block) + 1,
                    receipt: Box::new(receipt),
                });
            }
        }
        let Some(last) = txs.last() else {
            return Ok(TxStatus::Dropped);
        };
        let latest = self
            .provider
            .get_transaction_count(self.from)
            .block_id(BlockNumberOrTag::Latest.into())
            .await
            .map_err(TxError::rpc)?;
        if latest > last.nonce as u64 {
            // The nonce is used but none of our attempts has a receipt: someone else's, or a
            // receipt the node has not indexed yet; the caller waits a poll before re-signing.
            warn!(
                nonce = last.nonce,
                "nonce used by a transaction that is none of ours"
            );
            return Ok(TxStatus::NonceTaken);
        }
        let hash = last.hash;
        let known = self
            .provider
            .get_transaction_by_hash(hash)
            .await
            .map_err(TxError::rpc)?;
        Ok(if known.is_some() {
            TxStatus::Pending
        } else {
            TxStatus::Dropped
        })
    }

    /// The store.
    pub const fn store(&self) -> &Store {
        &self.store
    }
}
