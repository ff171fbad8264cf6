//! Requests and responses of the relayer's HTTP API (`/v1/...`); see `docs/relayer.md`.
//!
//! Every name is camelCase; integers that may pass 2^53 are decimal strings; addresses are
//! written EIP-55 checksummed ([`eip55`]), hashes as 0x-prefixed hex. Errors answer in
//! [`super::ErrorBody`].

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
#[allow(unused_imports)]
use crate::schema::{AddressHex, Decimal, Hash32};
use crate::{batch::Reservation, wire::decimal, SignedReceipt};

/// Serde adapters that write addresses EIP-55 checksummed (alloy writes lowercase) and read
/// them in any case.
pub mod eip55 {
    use alloy::primitives::Address;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `address` checksummed.
    pub fn serialize<S: Serializer>(address: &Address, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&address.to_checksum(None))
    }

    /// Reads an address in any case.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Address, D::Error> {
        Address::deserialize(deserializer)
    }

    /// The same for a list of addresses.
    pub mod vec {
        use super::*;
        use serde::ser::SerializeSeq;

        /// Writes every address checksummed.
        pub fn serialize<S: Serializer>(
            addresses: &[Address],
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            let mut seq = serializer.serialize_seq(Some(addresses.len()))?;
            for a in addresses {
                seq.serialize_element(&a.to_checksum(None))?;
            }
            seq.end()
        }

        /// Reads addresses in any case.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Vec<Address>, D::Error> {
            Vec::<Address>::deserialize(deserializer)
        }
    }
}

/// What the relayer did with one submitted receipt (`POST /v1/receipts`, and each item of
/// `POST /v1/receipts/bulk`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Outcome {
    /// Stored durably for the first time.
    Accepted {
        /// The receipt's EIP-712 digest.
        #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
        digest: B256,
        /// What it adds over the previous receipt of its usage key, priced, in token base
        /// units.
        #[serde(with = "decimal::u256")]
        #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
        amount: U256,
    },
    /// Already stored: an idempotent resubmission.
    Duplicate {
        /// The receipt's EIP-712 digest.
        #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
        digest: B256,
    },
    /// Refused.
    Rejected {
        /// Stable machine-readable code (docs/relayer.md lists them): `malformed`,
        /// `invalid_signature`, `signer_not_registered`, `signer_revoked`,
        /// `terms_not_accepted`, `receipt_after_expiry`, `no_credit_line`,
        /// `cumulative_not_increasing`, `insufficient_budget`, `rate_limited`.
        code: String,
        /// Human-readable detail.
        message: String,
    },
}

/// The answer to `POST /v1/receipts/bulk`: one outcome per item, in order, and their counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkResponse {
    /// Items stored for the first time.
    pub accepted: usize,
    /// Items already stored.
    pub duplicates: usize,
    /// Items refused.
    pub rejected: usize,
    /// One outcome per item, in the order submitted.
    pub results: Vec<Outcome>,
}

/// The answer to `GET /v1/info`: who the relayer is and what receipts it takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Info {
    /// The relayer's address (its credit lines are drawn by its commits).
    #[serde(with = "eip55")]
    #[cfg_attr(feature = "openapi", schema(value_type = AddressHex))]
    pub relayer: Address,
    /// The EIP-712 domain receipts must be signed under.
    pub domain: DomainInfo,
    /// The last block the chain follower applied.
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub followed_block: u64,
    /// The timestamp of that block.
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub chain_time: u64,
    /// Input limits.
    pub limits: InfoLimits,
}

/// The EIP-712 domain of [`Info`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DomainInfo {
    /// Domain name.
    pub name: String,
    /// Domain version.
    pub version: String,
    /// Chain id.
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub chain_id: u64,
    /// The escrow.
    #[serde(with = "eip55")]
    #[cfg_attr(feature = "openapi", schema(value_type = AddressHex))]
    pub verifying_contract: Address,
}

/// The input limits of [`Info`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InfoLimits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most receipts in one bulk submission.
    pub max_bulk: usize,
    /// Most receipts in one page of proofs (also the default page size).
    pub max_proofs_page: usize,
}

/// The answer to `GET /v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Status {
    /// Receipts by status (`pending`, `batched`, `committed`).
    pub receipts: BTreeMap<String, i64>,
    /// Claim jobs by state (`requested`, `signed`, `sent`, `confirmed`, `failed`), and
    /// `claimedReceipts`: receipts whose claim transaction is confirmed.
    pub claims: BTreeMap<String, i64>,
    /// Credit line release jobs by state.
    pub releases: BTreeMap<String, i64>,
    /// The newest batch, if any.
    pub latest_batch: Option<Batch>,
    /// The last block the chain follower applied.
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub followed_block: u64,
}

/// The answer to `GET /ready` (status 200 when both hold, 503 otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ready {
    /// The store answers.
    pub store: bool,
    /// The chain follower has caught up with the head.
    pub chain_followed: bool,
}

/// A batch of receipts the relayer built and commits on-chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Batch {
    /// Sequential id.
    pub id: i64,
    /// `built`, `signed`, `sent`, `confirmed` or `failed`.
    pub state: String,
    /// Merkle root.
    #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
    pub root: B256,
    /// Number of receipts (leaves).
    pub receipt_count: i64,
    /// keccak256 of the published batch data (`GET /v1/data/{dataHash}`).
    #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
    pub data_hash: B256,
    /// Where the batch data is published.
    pub data_uri: String,
    /// What the commit reserves, per payer and token.
    pub reservations: Vec<Reservation>,
    /// Creation time (unix seconds).
    pub created_at: i64,
    /// Last state change (unix seconds).
    pub updated_at: i64,
    /// The mined commit transaction.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Hash32>))]
    pub commit_tx: Option<B256>,
    /// Its block.
    pub commit_block: Option<i64>,
    /// Why the batch failed, if it did.
    pub error: Option<String>,
}

/// The answer to `GET /v1/batches`: batches, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchList {
    /// Batches, newest first.
    pub batches: Vec<Batch>,
}

/// The answer to `GET /v1/batches/{id}`: the batch and the commit transactions signed for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchDetail {
    /// The batch.
    pub batch: Batch,
    /// Its commit transactions, one per signing (fee bumps sign again).
    pub transactions: Vec<Transaction>,
}

/// A transaction the relayer signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transaction {
    /// Transaction hash.
    #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
    pub hash: B256,
    /// Nonce.
    pub nonce: i64,
    /// 0 for the first signing, then one per fee bump.
    pub attempt: i64,
    /// `maxFeePerGas` in wei.
    #[serde(with = "decimal::u256")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub max_fee_per_gas: U256,
}

/// A stored receipt with what a payee needs to claim it (`GET /v1/receipts/{digest}` and the
/// proofs pages).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Claimable {
    /// The receipt's EIP-712 digest.
    #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
    pub digest: B256,
    /// `pending`, `batched` or `committed` (in a confirmed batch).
    pub status: String,
    /// Its batch, once batched.
    pub batch_id: Option<i64>,
    /// The root of its batch, once batched.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Hash32>))]
    pub root: Option<B256>,
    /// The signed receipt.
    pub receipt: SignedReceipt,
    /// Its Merkle proof in the batch (empty until batched).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Hash32>))]
    pub proof: Vec<B256>,
    /// What it adds over the previous receipt of its usage key, priced, in base units of
    /// `token`.
    #[serde(with = "decimal::u256")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub amount: U256,
    /// The payment token.
    #[serde(with = "eip55")]
    #[cfg_attr(feature = "openapi", schema(value_type = AddressHex))]
    pub token: Address,
    /// The relayer's claim of it: the transaction hash once confirmed, `claim:<job>` while
    /// in flight.
    pub claim_tx: Option<String>,
}

/// One page of claimable receipts; follow `next` until it is null.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProofsPage {
    /// Claimable receipts, in (license, batch, leaf) order.
    pub claims: Vec<Claimable>,
    /// The cursor of the next page (pass it as `after`); null on the last page. A page may
    /// hold fewer than `limit` receipts, even none, and still have a next page.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[0-9]{1,77}-[0-9]{1,18}-[0-9]{1,18}$")
    )]
    pub next: Option<String>,
}

/// The answer to `GET /v1/licenses/{licenseId}/proofs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenseProofs {
    /// The license.
    #[serde(with = "decimal::u256")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub license_id: U256,
    /// The page.
    #[serde(flatten)]
    pub page: ProofsPage,
}

/// The answer to `GET /v1/payees/{address}/proofs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PayeeProofs {
    /// The payee.
    #[serde(with = "eip55")]
    #[cfg_attr(feature = "openapi", schema(value_type = AddressHex))]
    pub payee: Address,
    /// The licenses it holds, in increasing id order (decimal).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Decimal>))]
    pub licenses: Vec<String>,
    /// The page.
    #[serde(flatten)]
    pub page: ProofsPage,
}

/// The body of `POST /v1/claims` (operator); an empty body claims every confirmed batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimRequest {
    /// Only the unclaimed receipts of this batch.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub batch_id: Option<i64>,
}

/// The answer to `POST /v1/claims`: the claim jobs queued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimResponse {
    /// Ids of the queued claim jobs.
    pub claim_jobs: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;

    #[test]
    fn addresses_are_written_checksummed_and_read_in_any_case() {
        let ready = ClaimResponse {
            claim_jobs: vec![1],
        };
        assert_eq!(
            serde_json::to_string(&ready).unwrap(),
            r#"{"claimJobs":[1]}"#
        );
        let a = address!("0x52908400098527886e0f7030069857d2e4169ee7");
        let domain = DomainInfo {
            name: "n".into(),
            version: "1".into(),
            chain_id: 1,
            verifying_contract: a,
        };
        let json = serde_json::to_string(&domain).unwrap();
        assert!(
            json.contains("0x52908400098527886E0F7030069857D2E4169EE7"),
            "{json}"
        );
        let lower = json.replace(
            "0x52908400098527886E0F7030069857D2E4169EE7",
            &a.to_string().to_lowercase(),
        );
        assert_eq!(serde_json::from_str::<DomainInfo>(&lower).unwrap(), domain);
    }

    #[test]
    fn outcomes_are_tagged_by_status() {
        let o: Outcome =
            serde_json::from_str(r#"{"status":"rejected","code":"malformed","message":"m"}"#)
                .unwrap();
        assert_eq!(
            o,
            Outcome::Rejected {
                code: "malformed".into(),
                message: "m".into()
            }
        );
        let o = Outcome::Accepted {
            digest: B256::ZERO,
            amount: U256::from(7),
        };
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["status"], "accepted");
        assert_eq!(json["amount"], "7");
    }
}
