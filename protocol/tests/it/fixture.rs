//! The interop fixture format shared with `tests/interop/make-fixture.mjs` and
//! `contracts/test/unit/Interop.t.sol`: every number a decimal string except `chainId`, every
//! hash and signature lowercase `0x` hex, addresses checksummed.

use std::path::PathBuf;

use alloy::{
    hex,
    primitives::{Address, B256, U256},
};
use fairtrain_protocol::Receipt;
use serde::{Deserialize, Serialize};

/// A batch of signed receipts with their digests, leaves, tree root and proofs.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Fixture {
    pub(crate) generator: String,
    pub(crate) chain_id: u64,
    pub(crate) verifying_contract: String,
    pub(crate) licenses: Vec<LicenseJson>,
    pub(crate) receipts: Vec<ReceiptJson>,
    pub(crate) signers: Vec<String>,
    pub(crate) signatures: Vec<String>,
    pub(crate) digests: Vec<String>,
    pub(crate) leaves: Vec<String>,
    pub(crate) root: String,
    pub(crate) proofs: Vec<Vec<String>>,
}

/// A license the Forge test mints (in order) before claiming.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LicenseJson {
    pub(crate) license_id: String,
    pub(crate) terms_id: String,
    pub(crate) price_per_sample: String,
}

/// A receipt, field by field.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ReceiptJson {
    pub(crate) payer: String,
    pub(crate) license_id: String,
    pub(crate) terms_id: String,
    pub(crate) run_id: String,
    pub(crate) cumulative_samples: String,
    pub(crate) issued_at: String,
}

impl ReceiptJson {
    pub(crate) fn from_receipt(r: &Receipt) -> Self {
        Self {
            payer: address_text(r.payer),
            license_id: r.licenseId.to_string(),
            terms_id: r.termsId.to_string(),
            run_id: hash_text(r.runId),
            cumulative_samples: r.cumulativeSamples.to_string(),
            issued_at: r.issuedAt.to_string(),
        }
    }

    pub(crate) fn to_receipt(&self) -> Receipt {
        Receipt {
            payer: parse_address(&self.payer),
            licenseId: self.license_id.parse::<U256>().expect("licenseId"),
            termsId: self.terms_id.parse().expect("termsId"),
            runId: parse_hash(&self.run_id),
            cumulativeSamples: self.cumulative_samples.parse().expect("cumulativeSamples"),
            issuedAt: self.issued_at.parse().expect("issuedAt"),
        }
    }
}

impl Fixture {
    pub(crate) fn path(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../contracts/test/fixtures")
            .join(name)
    }

    pub(crate) fn load(name: &str) -> (Self, String) {
        let path = Self::path(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let fixture = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()));
        (fixture, text)
    }

    /// The fixture as `JSON.stringify(fixture, null, 2) + "\n"` writes it.
    pub(crate) fn to_text(&self) -> String {
        serde_json::to_string_pretty(self).expect("serializable") + "\n"
    }
}

/// A checksummed address, as viem writes it.
pub(crate) fn address_text(address: Address) -> String {
    address.to_checksum(None)
}

/// Lowercase `0x` hex.
pub(crate) fn hash_text(hash: impl AsRef<[u8]>) -> String {
    hex::encode_prefixed(hash)
}

pub(crate) fn parse_address(text: &str) -> Address {
    text.parse()
        .unwrap_or_else(|e| panic!("bad address {text}: {e}"))
}

pub(crate) fn parse_hash(text: &str) -> B256 {
    text.parse()
        .unwrap_or_else(|e| panic!("bad bytes32 {text}: {e}"))
}

pub(crate) fn parse_bytes(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap_or_else(|e| panic!("bad hex {text}: {e}"))
}
