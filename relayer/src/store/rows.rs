//! Typed rows of the store's tables.

use alloy::primitives::{Address, B256};
use fairtrain_protocol::{
    api::relayer as api, batch::Reservation, wire::SignedReceipt, ReceiptSignature,
};
use sqlx::{any::AnyRow, Row};

use super::{
    state::{BatchState, ReceiptStatus},
    StoreError, StoreResult,
};

/// A receipt to insert (all values already encoded for the store).
#[derive(Clone, Debug)]
pub struct NewReceipt {
    /// EIP-712 digest, hex.
    pub digest: String,
    /// Usage key, hex.
    pub usage_key: String,
    /// Payer address, hex.
    pub payer: String,
    /// License id, decimal.
    pub license_id: String,
    /// Terms id, decimal.
    pub terms_id: String,
    /// Run id, hex.
    pub run_id: String,
    /// Cumulative samples, decimal.
    pub cumulative: String,
    /// Issue time, decimal.
    pub issued_at: String,
    /// 65-byte signature, hex.
    pub signature: String,
    /// Recovered signer, hex.
    pub signer: String,
    /// Payment token of the acceptance, hex.
    pub token: String,
    /// What the receipt adds over the previous one of its usage key, priced, decimal.
    pub amount: String,
    /// The acceptance's `chargeableFrom` (the earliest commit time).
    pub chargeable_from: i64,
    /// Unix time of acknowledgement.
    pub received_at: i64,
    /// Arrival order.
    pub seq: i64,
}

/// What the ingest pipeline reloads at start.
#[derive(Clone, Debug)]
pub struct IngestRow {
    /// Usage key, hex.
    pub usage_key: String,
    /// Cumulative samples, decimal.
    pub cumulative: String,
    /// Digest, hex.
    pub digest: String,
    /// Payer, hex.
    pub payer: String,
    /// Token, hex.
    pub token: String,
    /// Amount, decimal.
    pub amount: String,
    /// Status.
    pub status: ReceiptStatus,
}

/// A stored receipt.
#[derive(Clone, Debug)]
pub struct ReceiptRow {
    /// EIP-712 digest.
    pub digest: String,
    /// Usage key.
    pub usage_key: String,
    /// Payer.
    pub payer: String,
    /// License id.
    pub license_id: String,
    /// Terms id.
    pub terms_id: String,
    /// Run id.
    pub run_id: String,
    /// Cumulative samples.
    pub cumulative: String,
    /// Issue time.
    pub issued_at: String,
    /// Signature.
    pub signature: String,
    /// Recovered signer.
    pub signer: String,
    /// Payment token.
    pub token: String,
    /// Amount reserved for it.
    pub amount: String,
    /// Earliest commit time.
    pub chargeable_from: i64,
    /// Acknowledgement time.
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
    /// Hash of the claim transaction the relayer sent, if any.
    pub claim_tx: Option<String>,
}

impl ReceiptRow {
    /// Columns [`Self::from_row`] reads (by name).
    pub const COLUMNS: &'static str = "digest, usage_key, payer, license_id, terms_id, run_id, \
        cumulative, issued_at, signature, signer, token, amount, chargeable_from, received_at, \
        seq, status, batch_id, leaf_index, proof, claim_tx";

    /// Reads a row selected with [`Self::COLUMNS`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Db`] when a column has another type.
    pub fn from_row(r: &AnyRow) -> StoreResult<Self> {
        Ok(Self {
            digest: r.try_get("digest")?,
            usage_key: r.try_get("usage_key")?,
            payer: r.try_get("payer")?,
            license_id: r.try_get("license_id")?,
            terms_id: r.try_get("terms_id")?,
            run_id: r.try_get("run_id")?,
            cumulative: r.try_get("cumulative")?,
            issued_at: r.try_get("issued_at")?,
            signature: r.try_get("signature")?,
            signer: r.try_get("signer")?,
            token: r.try_get("token")?,
            amount: r.try_get("amount")?,
            chargeable_from: r.try_get("chargeable_from")?,
            received_at: r.try_get("received_at")?,
            seq: r.try_get("seq")?,
            status: parse("receipts.status", &r.try_get::<String, _>("status")?)?,
            batch_id: r.try_get("batch_id")?,
            leaf_index: r.try_get("leaf_index")?,
            proof: r.try_get("proof")?,
            claim_tx: r.try_get("claim_tx")?,
        })
    }
}

impl ReceiptRow {
    /// The wire form of the stored receipt.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if a column does not parse.
    pub fn signed_receipt(&self) -> StoreResult<SignedReceipt> {
        let signature: alloy::primitives::Bytes = parse("signature", &self.signature)?;
        Ok(SignedReceipt {
            payer: parse("payer", &self.payer)?,
            license_id: parse("license_id", &self.license_id)?,
            terms_id: parse("terms_id", &self.terms_id)?,
            run_id: parse("run_id", &self.run_id)?,
            cumulative_samples: parse("cumulative", &self.cumulative)?,
            issued_at: parse("issued_at", &self.issued_at)?,
            signature: ReceiptSignature::from_slice(&signature)
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
#[derive(Clone, Debug)]
pub struct BatchRow {
    /// Sequential id.
    pub id: i64,
    /// Built, signed, sent, confirmed or failed.
    pub state: BatchState,
    /// Merkle root.
    pub root: String,
    /// Number of leaves.
    pub receipt_count: i64,
    /// keccak256 of the batch data.
    pub data_hash: String,
    /// Where the batch data is published.
    pub data_uri: String,
    /// JSON array of `{payer, token, amount}`.
    pub reservations: String,
    /// Creation time.
    pub created_at: i64,
    /// Last state change.
    pub updated_at: i64,
    /// The mined commit transaction.
    pub commit_tx: Option<String>,
    /// Its block.
    pub commit_block: Option<i64>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

impl BatchRow {
    /// Columns [`Self::from_row`] reads (by name).
    pub const COLUMNS: &'static str = "id, state, root, receipt_count, data_hash, data_uri, \
        reservations, created_at, updated_at, commit_tx, commit_block, error";

    /// Reads a row selected with [`Self::COLUMNS`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Db`] when a column has another type.
    pub fn from_row(r: &AnyRow) -> StoreResult<Self> {
        let id: i64 = r.try_get("id")?;
        Ok(Self {
            id,
            state: parse(
                &format!("batch {id} state"),
                &r.try_get::<String, _>("state")?,
            )?,
            root: r.try_get("root")?,
            receipt_count: r.try_get("receipt_count")?,
            data_hash: r.try_get("data_hash")?,
            data_uri: r.try_get("data_uri")?,
            reservations: r.try_get("reservations")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
            commit_tx: r.try_get("commit_tx")?,
            commit_block: r.try_get("commit_block")?,
            error: r.try_get("error")?,
        })
    }
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
    /// [`StoreError::Corrupt`] when a column does not parse.
    pub fn to_api(&self) -> StoreResult<api::Batch> {
        Ok(api::Batch {
            id: self.id,
            state: self.state.as_str().to_owned(),
            root: parse("root", &self.root)?,
            receipt_count: self.receipt_count,
            data_hash: parse("data_hash", &self.data_hash)?,
            data_uri: self.data_uri.clone(),
            reservations: self.reservations()?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            commit_tx: self
                .commit_tx
                .as_deref()
                .map(|h| parse("commit_tx", h))
                .transpose()?,
            commit_block: self.commit_block,
            error: self.error.clone(),
        })
    }
}

/// A signed transaction.
#[derive(Clone, Debug)]
pub struct TxRow {
    /// Transaction hash.
    pub hash: String,
    /// `commit` or `claim`.
    pub kind: String,
    /// Batch or claim id.
    pub ref_id: i64,
    /// 0 for the first signing, then one per fee bump.
    pub attempt: i64,
    /// Nonce.
    pub nonce: i64,
    /// Signed EIP-2718 bytes, hex.
    pub raw: String,
    /// `maxFeePerGas`, decimal.
    pub max_fee: String,
    /// `maxPriorityFeePerGas`, decimal.
    pub priority_fee: String,
    /// Signing time.
    pub created_at: i64,
}

impl TxRow {
    /// Columns [`Self::from_row`] reads (by name).
    pub const COLUMNS: &'static str =
        "hash, kind, ref_id, attempt, nonce, raw, max_fee, priority_fee, created_at";

    /// Reads a row selected with [`Self::COLUMNS`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Db`] when a column has another type.
    pub fn from_row(r: &AnyRow) -> StoreResult<Self> {
        Ok(Self {
            hash: r.try_get("hash")?,
            kind: r.try_get("kind")?,
            ref_id: r.try_get("ref_id")?,
            attempt: r.try_get("attempt")?,
            nonce: r.try_get("nonce")?,
            raw: r.try_get("raw")?,
            max_fee: r.try_get("max_fee")?,
            priority_fee: r.try_get("priority_fee")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

impl TxRow {
    /// The transaction as the API answers it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] when a column does not parse.
    pub fn to_api(&self) -> StoreResult<api::Transaction> {
        Ok(api::Transaction {
            hash: parse("hash", &self.hash)?,
            nonce: self.nonce,
            attempt: self.attempt,
            max_fee_per_gas: parse("max_fee", &self.max_fee)?,
        })
    }
}

/// A receipt of a confirmed batch, as pricing needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommittedReceipt {
    /// EIP-712 digest.
    pub digest: B256,
    /// Usage key.
    pub usage_key: B256,
    /// Payer.
    pub payer: Address,
    /// Payment token of the acceptance.
    pub token: Address,
    /// Cumulative samples.
    pub cumulative: u64,
    /// Root of its batch.
    pub root: B256,
}

impl CommittedReceipt {
    /// Columns selected from `receipts r JOIN batches b`.
    pub const COLUMNS: &'static str =
        "r.digest, r.usage_key, r.payer, r.token, r.cumulative, b.root";

    /// Reads a row selected with [`Self::COLUMNS`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when a column has another type or does not parse.
    pub fn from_row(r: &AnyRow) -> StoreResult<Self> {
        let text = |name: &str| -> StoreResult<String> { Ok(r.try_get::<String, _>(name)?) };
        Ok(Self {
            digest: parse("digest", &text("digest")?)?,
            usage_key: parse("usage_key", &text("usage_key")?)?,
            payer: parse("payer", &text("payer")?)?,
            token: parse("token", &text("token")?)?,
            cumulative: parse("cumulative", &text("cumulative")?)?,
            root: parse("root", &text("root")?)?,
        })
    }
}

/// Parses a stored value, naming the column on failure.
///
/// # Errors
///
/// [`StoreError::Corrupt`].
pub fn parse<T: std::str::FromStr>(column: &str, value: &str) -> StoreResult<T> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("{column}: {value:?}")))
}
