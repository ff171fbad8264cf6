//! Batch data: the document a relayer publishes for each committed batch (docs/protocol.md §8),
//! from which anyone can recompute the root and check every signature.
//!
//! The relayer [`BatchData::build`]s it, publishes [`BatchData::to_bytes`] and commits
//! [`data_hash`] of those bytes with the root; an auditor [`BatchData::parse`]s the published
//! bytes, compares their hash with the `BatchCommitted` event and calls [`BatchData::verify`].

use alloy::primitives::{keccak256, Address, B256, U256};
use serde::{Deserialize, Serialize};

use crate::{
    domain::EscrowDomain,
    error::Error,
    leaf::leaf,
    merkle::ReceiptTree,
    wire::{decimal, SignedReceipt},
};

/// The batch data format this crate writes and reads.
pub const BATCH_DATA_VERSION: u32 = 1;

/// The published record of one batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchData {
    /// Format version, [`BATCH_DATA_VERSION`].
    pub version: u32,
    /// Chain of the escrow (part of the EIP-712 domain).
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Decimal))]
    pub chain_id: u64,
    /// The escrow (the EIP-712 verifying contract).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::AddressHex))]
    pub escrow: Address,
    /// The committed Merkle root.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hash32))]
    pub root: B256,
    /// The batch's receipts in leaf order: leaf `i` is `leaf(digest(receipts[i]))`.
    pub receipts: Vec<SignedReceipt>,
    /// What the commit reserved, per payer and token.
    pub reservations: Vec<Reservation>,
}

/// One `ReservationRequest` of the commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reservation {
    /// The payer reserved from.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::AddressHex))]
    pub payer: Address,
    /// The payment token.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::AddressHex))]
    pub token: Address,
    /// Token base units moved from the payer's available balance into the batch.
    #[serde(with = "decimal::u256")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Decimal))]
    pub amount: U256,
}

/// What [`BatchData::verify`] found wrong, with the index of the receipt at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The bytes are not a batch data document.
    #[error("batch data is not valid JSON of the expected shape")]
    Json(#[source] serde_json::Error),
    /// The document has a version this crate does not read.
    #[error("batch data version {found} is not supported (expected {BATCH_DATA_VERSION})")]
    Version {
        /// The version found.
        found: u32,
    },
    /// The document names another chain or escrow than the one being audited.
    #[error("batch data is for chain {chain_id} escrow {escrow}, expected chain {expected_chain_id} escrow {expected_escrow}")]
    Domain {
        /// Chain in the document.
        chain_id: u64,
        /// Escrow in the document.
        escrow: Address,
        /// Chain expected.
        expected_chain_id: u64,
        /// Escrow expected.
        expected_escrow: Address,
    },
    /// A batch has no receipts.
    #[error("batch data has no receipts")]
    Empty,
    /// A receipt's signature recovers to no key.
    #[error("receipt {index}: {source}")]
    Signature {
        /// Position of the receipt.
        index: usize,
        /// Why recovery failed.
        #[source]
        source: Error,
    },
    /// The receipts do not hash to the published root.
    #[error("receipts hash to root {computed}, the document says {published}")]
    RootMismatch {
        /// Root recomputed from the receipts.
        computed: B256,
        /// Root in the document.
        published: B256,
    },
}

/// A batch whose signatures recover and whose receipts hash to its root.
#[derive(Clone)]
pub struct VerifiedBatch {
    /// The key that signed each receipt, in leaf order. Whether each key was registered for
    /// its payer at commit time is a question for the chain, not for the document.
    pub signers: Vec<Address>,
    /// The leaf of each receipt.
    pub leaves: Vec<B256>,
    /// The tree, for proofs.
    pub tree: ReceiptTree,
}

/// `keccak256(bytes)`: the `dataHash` committed with the root.
pub fn data_hash(bytes: &[u8]) -> B256 {
    keccak256(bytes)
}

/// The leaf of each receipt under `domain`, in order.
pub fn leaves(domain: &EscrowDomain, receipts: &[SignedReceipt]) -> Vec<B256> {
    receipts
        .iter()
        .map(|r| leaf(&domain.digest(&r.receipt())))
        .collect()
}

impl BatchData {
    /// Builds the batch of `receipts` (in leaf order) and its tree.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyTree`] if there are no receipts.
    pub fn build(
        domain: &EscrowDomain,
        receipts: Vec<SignedReceipt>,
        reservations: Vec<Reservation>,
    ) -> crate::Result<(Self, ReceiptTree)> {
        let tree = ReceiptTree::from_leaves(&leaves(domain, &receipts))?;
        let data = Self {
            version: BATCH_DATA_VERSION,
            chain_id: domain.chain_id(),
            escrow: domain.verifying_contract(),
            root: tree.root(),
            receipts,
            reservations,
        };
        Ok((data, tree))
    }

    /// The bytes to publish (compact JSON); their [`data_hash`] is committed on-chain.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("batch data serializes: every field is plain data")
    }

    /// Reads published bytes, checking the version.
    pub fn parse(bytes: &[u8]) -> Result<Self, BatchError> {
        let data: Self = serde_json::from_slice(bytes).map_err(BatchError::Json)?;
        if data.version != BATCH_DATA_VERSION {
            return Err(BatchError::Version {
                found: data.version,
            });
        }
        Ok(data)
    }

    /// Checks what the document alone can prove: it belongs to `domain`, every signature
    /// recovers, and the receipts hash to `root`.
    pub fn verify(&self, domain: &EscrowDomain) -> Result<VerifiedBatch, BatchError> {
        if self.chain_id != domain.chain_id() || self.escrow != domain.verifying_contract() {
            return Err(BatchError::Domain {
                chain_id: self.chain_id,
                escrow: self.escrow,
                expected_chain_id: domain.chain_id(),
                expected_escrow: domain.verifying_contract(),
            });
        }
        if self.receipts.is_empty() {
            return Err(BatchError::Empty);
        }
        let mut signers = Vec::with_capacity(self.receipts.len());
        let mut leaves = Vec::with_capacity(self.receipts.len());
        for (index, receipt) in self.receipts.iter().enumerate() {
            let digest = domain.digest(&receipt.receipt());
            let signer = receipt
                .signature
                .recover(&digest)
                .map_err(|source| BatchError::Signature { index, source })?;
            signers.push(signer);
            leaves.push(leaf(&digest));
        }
        let tree = ReceiptTree::from_leaves(&leaves).map_err(|_| BatchError::Empty)?;
        if tree.root() != self.root {
            return Err(BatchError::RootMismatch {
                computed: tree.root(),
                published: self.root,
            });
        }
        Ok(VerifiedBatch {
            signers,
            leaves,
            tree,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{merkle, Receipt};
    use alloy::{primitives::address, signers::local::PrivateKeySigner};

    fn domain() -> EscrowDomain {
        EscrowDomain::new(
            31337,
            address!("0x00000000000000000000000000000000000e5c40"),
        )
    }

    fn batch(n: u64) -> (BatchData, ReceiptTree, PrivateKeySigner) {
        let key = PrivateKeySigner::from_bytes(&keccak256("batch")).unwrap();
        let receipts = (1..=n)
            .map(|i| {
                let receipt = Receipt {
                    payer: key.address(),
                    licenseId: U256::from(i),
                    termsId: 1,
                    runId: keccak256("run"),
                    cumulativeSamples: 100 * i,
                    issuedAt: 1_750_000_000,
                };
                SignedReceipt::sign(&domain(), &key, &receipt).unwrap()
            })
            .collect();
        let reservations = vec![Reservation {
            payer: key.address(),
            token: Address::repeat_byte(7),
            amount: U256::from(12_345),
        }];
        let (data, tree) = BatchData::build(&domain(), receipts, reservations).unwrap();
        (data, tree, key)
    }

    #[test]
    fn published_bytes_parse_and_verify_to_the_same_root_and_signers() {
        let (data, tree, key) = batch(5);
        let bytes = data.to_bytes();
        let parsed = BatchData::parse(&bytes).unwrap();
        assert_eq!(parsed, data);
        assert_eq!(data_hash(&bytes), keccak256(&bytes));
        let verified = parsed.verify(&domain()).unwrap();
        assert_eq!(verified.tree.root(), tree.root());
        assert!(verified.signers.iter().all(|s| *s == key.address()));
        for (i, leaf) in verified.leaves.iter().enumerate() {
            assert!(merkle::verify(&tree.proof(i).unwrap(), data.root, *leaf));
        }
    }

    #[test]
    fn a_changed_receipt_or_root_or_domain_fails_verification() {
        let (data, _, _) = batch(4);
        let mut changed = data.clone();
        changed.receipts[2].cumulative_samples += 1;
        assert!(matches!(
            changed.verify(&domain()),
            Err(BatchError::RootMismatch { .. })
        ));
        let mut reordered = data.clone();
        reordered.receipts.swap(0, 3);
        assert!(matches!(
            reordered.verify(&domain()),
            Err(BatchError::RootMismatch { .. })
        ));
        let other = EscrowDomain::new(1, data.escrow);
        assert!(matches!(
            data.verify(&other),
            Err(BatchError::Domain { .. })
        ));
        let mut empty = data.clone();
        empty.receipts.clear();
        assert!(matches!(empty.verify(&domain()), Err(BatchError::Empty)));
    }

    #[test]
    fn parse_rejects_other_versions_and_malformed_documents() {
        let (data, _, _) = batch(1);
        let mut v2 = data.clone();
        v2.version = 2;
        assert!(matches!(
            BatchData::parse(&v2.to_bytes()),
            Err(BatchError::Version { found: 2 })
        ));
        assert!(matches!(
            BatchData::parse(b"{\"version\":1}"),
            Err(BatchError::Json(_))
        ));
        assert!(matches!(
            BatchData::parse(b"\xff"),
            Err(BatchError::Json(_))
        ));
    }
}
