//! Typed rows of the store's tables: each derives `sqlx::FromRow`, its chain values decoded
//! from their text columns through [`Hex`] and [`Decimal`] (a value that does not parse is a
//! decode error naming its column).

use alloy::primitives::{Address, Bytes, B256, U256};
use fairtrain_db::{Decimal, Hex};
use fairtrain_protocol::{
    api::relayer as api, batch::Reservation, wire::SignedReceipt, ReceiptSignature,
};

use super::{
    state::{BatchState, ReceiptStatus},
    StoreError, StoreResult,
};

/// A receipt to insert.
#[derive(Clone, Debug)]
pub struct NewReceipt {
    /// EIP-712 digest.
    pub digest: B256,
    /// Usage key.
    pub usage_key: B256,
    /// Payer.
    pub payer: Address,
    /// License id.
    pub license_id: U256,
    /// Terms id.
    pub terms_id: u64,
    /// Run id.
    pub run_id: B256,
    /// Cumulative samples.
    pub cumulative: u64,
    /// Issue time.
    pub issued_at: u64,
    /// 65-byte signature.
    pub signature: Bytes,
    /// Recovered signer.
    pub signer: Address,
    /// Payment token of the acceptance.
    pub token: Address,
    /// What the receipt adds over the previous one of its usage key, priced.
    pub amount: U256,
    /// The acceptance's `chargeableFrom` (the earliest commit time).
    pub chargeable_from: i64,
    /// Unix time of acknowledgement.
    pub received_at: i64,
    /// Arrival order.
    pub seq: i64,
}

/// What the ingest pipeline reloads at start.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct IngestRow {
    /// Usage key.
    #[sqlx(try_from = "Hex<B256>")]
    pub usage_key: B256,
    /// Cumulative samples.
    #[sqlx(try_from = "Decimal<u64>")]
    pub cumulative: u64,
    /// Digest.
    #[sqlx(try_from = "Hex<B256>")]
    pub digest: B256,
    /// Payer.
    #[sqlx(try_from = "Hex<Address>")]
    pub payer: Address,
    /// Token.
    #[sqlx(try_from = "Hex<Address>")]
    pub token: Address,
    /// Amount.
    #[sqlx(try_from = "Decimal<U256>")]
    pub amount: U256,
    /// Status.
    pub status: ReceiptStatus,
}

/// A stored receipt.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ReceiptRow {
    /// EIP-712 digest.
    #[sqlx(try_from = "Hex<B256>")]
    pub digest: B256,
    /// Usage key.
    #[sqlx(try_from = "Hex<B256>")]
    pub usage_key: B256,
    /// Payer.
    #[sqlx(try_from = "Hex<Address>")]
    pub payer: Address,
    /// License id.
    #[sqlx(try_from = "Decimal<U256>")]
    pub license_id: U256,
    /// Terms id.
    #[sqlx(try_from = "Decimal<u64>")]
    pub terms_id: u64,
    /// Run id.
    #[sqlx(try_from = "Hex<B256>")]
    pub run_id: B256,
    /// Cumulative samples.
    #[sqlx(try_from = "Decimal<u64>")]
    pub cumulative: u64,
    /// Issue time.
    #[sqlx(try_from = "Decimal<u64>")]
    pub issued_at: u64,
    /// 65-byte signature.
    #[sqlx(try_from = "Hex<Bytes>")]
    pub signature: Bytes,
    /// Recovered signer.
    #[sqlx(try_from = "Hex<Address>")]
    pub signer: Address,
    /// Payment token.
    #[sqlx(try_from = "Hex<Address>")]
    pub token: Address,
    /// Priced amount.
    #[sqlx(try_from = "Decimal<U256>")]
    pub amount: U256,
    /// The acceptance's `chargeableFrom`.
    pub chargeable_from: i64,
    /// Unix time of acknowledgement.
    pub received_at: i64,
    /// Arrival order.
    pub seq: i64,
    /// Pending, batched or committed.
    pub status: ReceiptStatus,
    /// Batch id once batched.
    pub batch_id: Option<i64>,
    /// Index of its leaf in the batch.
    pub leaf_index: Option<i64>,
    /// Merkle proof, comma-separated hex.
    pub proof: Option<String>,
    /// Hash of the claim transaction the relayer sent, if any (`claim:<job>` while in flight).
    pub claim_tx: Option<String>,
}

impl ReceiptRow {
    /// Columns a row is selected with.
    pub const COLUMNS: &'static str = "digest, usage_key, payer, license_id, terms_id, run_id, \
        cumulative, issued_at, signature, signer, token, amount, chargeable_from, received_at, \
        seq, status, batch_id, leaf_index, proof, claim_tx";
}

impl ReceiptRow {
    /// The wire form of the stored receipt.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if a column does not parse.
    pub fn signed_receipt(&self) -> StoreResult<SignedReceipt> {
        Ok(SignedReceipt {
            payer: self.payer,
            license_id: self.license_id,
            terms_id: self.terms_id,
            run_id: self.run_id,
            cumulative_samples: self.cumulative,
            issued_at: self.issued_at,
            signature: ReceiptSignature::from_slice(&self.signature)
                .map_err(|e| StoreError::Corrupt(format!("signature: {e}")))?,
        })
    }

    /// The Merkle proof stored with a batched receipt (empty before it is batched).
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if it does not parse.
    pub fn proof(&self) -> StoreResult<Vec<B256>> {
        match self.proof.as_deref() {
            None | Some("") => Ok(Vec::new()),
            Some(p) => p.split(',').map(|h| parse("proof", h)).collect(),
        }
    }
}

/// A stored batch.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct BatchRow {
    /// Sequential id.
    pub id: i64,
    /// Built, signed, sent, confirmed or failed.
    pub state: BatchState,
    /// Merkle root.
    #[sqlx(try_from = "Hex<B256>")]
    pub root: B256,
    /// Number of leaves.
    pub receipt_count: i64,
    /// keccak256 of the batch data.
    #[sqlx(try_from = "Hex<B256>")]
    pub data_hash: B256,
    /// Where the batch data is published.
    pub data_uri: String,
    /// JSON array of `{payer, token, amount}`.
    pub reservations: String,
    /// Creation time.
    pub created_at: i64,
    /// Last state change.
    pub updated_at: i64,
    /// The mined commit transaction.
    pub commit_tx: Option<Hex<B256>>,
    /// Its block.
    pub commit_block: Option<i64>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

impl BatchRow {
    /// Columns a row is selected with.
    pub const COLUMNS: &'static str = "id, state, root, receipt_count, data_hash, data_uri, \
        reservations, created_at, updated_at, commit_tx, commit_block, error";
}

impl BatchRow {
    /// The reservations of the commit (stored as JSON).
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] when the stored JSON does not parse.
    pub fn reservations(&self) -> StoreResult<Vec<Reservation>> {
        serde_json::from_str(&self.reservations)
            .map_err(|e| StoreError::Corrupt(format!("batch {} reservations: {e}", self.id)))
    }

    /// The batch as the API answers it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] when the stored reservations do not parse.
    pub fn to_api(&self) -> StoreResult<api::Batch> {
        Ok(api::Batch {
            id: self.id,
            state: self.state.as_str().to_owned(),
            root: self.root,
            receipt_count: self.receipt_count,
            data_hash: self.data_hash,
            data_uri: self.data_uri.clone(),
            reservations: self.reservations()?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            commit_tx: self.commit_tx.map(|h| h.0),
            commit_block: self.commit_block,
            error: self.error.clone(),
        })
    }
}

/// A signed transaction.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TxRow {
    /// Transaction hash.
    #[sqlx(try_from = "Hex<B256>")]
    pub hash: B256,
    /// `commit` or `claim`.
    pub kind: String,
    /// Batch or claim id.
    pub ref_id: i64,
    /// 0 for the first signing, then one per fee bump.
    pub attempt: i64,
    /// Nonce.
    pub nonce: i64,
    /// Signed EIP-2718 bytes.
    #[sqlx(try_from = "Hex<Bytes>")]
    pub raw: Bytes,
    /// `maxFeePerGas`.
    #[sqlx(try_from = "Decimal<u128>")]
    pub max_fee: u128,
    /// `maxPriorityFeePerGas`.
    #[sqlx(try_from = "Decimal<u128>")]
    pub priority_fee: u128,
    /// Signing time.
    pub created_at: i64,
}

impl TxRow {
    /// Columns a row is selected with.
    pub const COLUMNS: &'static str =
        "hash, kind, ref_id, attempt, nonce, raw, max_fee, priority_fee, created_at";
}

impl TxRow {
    /// The transaction as the API answers it.
    pub fn to_api(&self) -> api::Transaction {
        api::Transaction {
            hash: self.hash,
            nonce: self.nonce,
            attempt: self.attempt,
            max_fee_per_gas: U256::from(self.max_fee),
        }
    }
}

/// A receipt of a confirmed batch, as pricing needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CommittedReceipt {
    /// EIP-712 digest.
    #[sqlx(try_from = "Hex<B256>")]
    pub digest: B256,
    /// Usage key.
    #[sqlx(try_from = "Hex<B256>")]
    pub usage_key: B256,
    /// Payer.
    #[sqlx(try_from = "Hex<Address>")]
    pub payer: Address,
    /// Payment token of the acceptance.
    #[sqlx(try_from = "Hex<Address>")]
    pub token: Address,
    /// Cumulative samples.
    #[sqlx(try_from = "Decimal<u64>")]
    pub cumulative: u64,
    /// Root of its batch.
    #[sqlx(try_from = "Hex<B256>")]
    pub root: B256,
}

impl CommittedReceipt {
    /// Columns selected from `receipts r JOIN batches b`.
    pub const COLUMNS: &'static str =
        "r.digest, r.usage_key, r.payer, r.token, r.cumulative, b.root";
}

/// Parses a stored value, naming the column on failure.
///
/// # Errors
///
/// [`StoreError::Corrupt`].
fn parse<T: std::str::FromStr>(column: &str, value: &str) -> StoreResult<T> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("{column}: {value:?}")))
}
