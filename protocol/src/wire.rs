//! The JSON form of signed receipts, shared by the relayer's HTTP API, published batch data
//! (docs/protocol.md §8) and training-side clients.
//!
//! Integers are decimal strings (JSON numbers lose precision past 2^53), bytes are 0x-prefixed
//! hex, addresses are hex in any case (written EIP-55 checksummed):
//!
//! ```json
//! { "payer": "0x…", "licenseId": "1", "termsId": "1", "runId": "0x…",
//!   "cumulativeSamples": "1000", "issuedAt": "1750000000", "signature": "0x…(65 bytes)" }
//! ```

use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

use crate::{domain::EscrowDomain, error::Result, receipt::Receipt, signing::ReceiptSignature};

/// A receipt with the signature of a key of its payer: the unit that training infrastructure
/// submits and that batches publish.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedReceipt {
    /// [`Receipt::payer`].
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::AddressHex))]
    pub payer: Address,
    /// [`Receipt::licenseId`].
    #[serde(with = "decimal::u256")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Uint256))]
    pub license_id: U256,
    /// [`Receipt::termsId`].
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Uint64))]
    pub terms_id: u64,
    /// [`Receipt::runId`].
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hash32))]
    pub run_id: B256,
    /// [`Receipt::cumulativeSamples`].
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Uint64))]
    pub cumulative_samples: u64,
    /// [`Receipt::issuedAt`].
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Uint64))]
    pub issued_at: u64,
    /// 65 bytes `r ‖ s ‖ v`, parsed with the escrow's rules (low `s`, `v` 27 or 28).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Signature65))]
    pub signature: ReceiptSignature,
}

impl SignedReceipt {
    /// Pairs `receipt` with `signature`.
    pub fn new(receipt: &Receipt, signature: ReceiptSignature) -> Self {
        Self {
            payer: receipt.payer,
            license_id: receipt.licenseId,
            terms_id: receipt.termsId,
            run_id: receipt.runId,
            cumulative_samples: receipt.cumulativeSamples,
            issued_at: receipt.issuedAt,
            signature,
        }
    }

    /// Signs `receipt` under `domain` with `signer`.
    pub fn sign(
        domain: &EscrowDomain,
        signer: &alloy::signers::local::PrivateKeySigner,
        receipt: &Receipt,
    ) -> Result<Self> {
        Ok(Self::new(receipt, domain.sign(signer, receipt)?))
    }

    /// The receipt without its signature.
    pub fn receipt(&self) -> Receipt {
        Receipt {
            payer: self.payer,
            licenseId: self.license_id,
            termsId: self.terms_id,
            runId: self.run_id,
            cumulativeSamples: self.cumulative_samples,
            issuedAt: self.issued_at,
        }
    }

    /// The address whose key signed the receipt under `domain`.
    pub fn recover(&self, domain: &EscrowDomain) -> Result<Address> {
        self.signature.recover(&domain.digest(&self.receipt()))
    }
}

impl serde::Serialize for ReceiptSignature {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ReceiptSignature {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde adapters for integers written as decimal strings: digits only, no sign, no spaces.
pub mod decimal {
    use alloy::primitives::U256;
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};
    use std::borrow::Cow;

    /// Whether `text` is a decimal string: one or more ASCII digits, nothing else.
    pub fn is_digits(text: &str) -> bool {
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
    }

    /// A decimal string (see [`is_digits`]) that fits in 256 bits, as a `U256`.
    pub fn parse_u256(text: &str) -> Option<U256> {
        is_digits(text)
            .then(|| U256::from_str_radix(text, 10).ok())
            .flatten()
    }

    fn digits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Cow<'de, str>, D::Error> {
        let text = <Cow<'de, str>>::deserialize(deserializer)?;
        if !is_digits(&text) {
            return Err(D::Error::custom(format!(
                "expected a decimal string of digits, got {text:?}"
            )));
        }
        Ok(text)
    }

    /// `u64` as a decimal string.
    pub mod u64 {
        use super::*;

        /// Writes the decimal string.
        pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_str(value)
        }

        /// Reads a decimal string that fits in 64 bits.
        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
            let text = digits(deserializer)?;
            text.parse()
                .map_err(|_| D::Error::custom(format!("{text} does not fit in 64 bits")))
        }
    }

    /// `U256` as a decimal string.
    pub mod u256 {
        use super::*;

        /// Writes the decimal string.
        pub fn serialize<S: Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_str(value)
        }

        /// Reads a decimal string that fits in 256 bits.
        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<U256, D::Error> {
            let text = digits(deserializer)?;
            parse_u256(&text)
                .ok_or_else(|| D::Error::custom(format!("{text} does not fit in 256 bits")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        primitives::{address, keccak256},
        signers::local::PrivateKeySigner,
    };

    fn signed() -> (EscrowDomain, PrivateKeySigner, SignedReceipt) {
        let domain = EscrowDomain::new(
            31337,
            address!("0x00000000000000000000000000000000000e5c40"),
        );
        let key = PrivateKeySigner::from_bytes(&keccak256("wire")).unwrap();
        let receipt = Receipt {
            payer: key.address(),
            licenseId: U256::MAX,
            termsId: u64::MAX,
            runId: keccak256("run"),
            cumulativeSamples: 1_000,
            issuedAt: 1_750_000_000,
        };
        let signed = SignedReceipt::sign(&domain, &key, &receipt).unwrap();
        (domain, key, signed)
    }

    #[test]
    fn json_round_trip_keeps_every_field_and_the_signer() {
        let (domain, key, signed) = signed();
        let json = serde_json::to_string(&signed).unwrap();
        assert!(json.contains(&format!("\"licenseId\":\"{}\"", U256::MAX)));
        assert!(json.contains("\"termsId\":\"18446744073709551615\""));
        let back: SignedReceipt = serde_json::from_str(&json).unwrap();
        assert_eq!(back, signed);
        assert_eq!(back.recover(&domain).unwrap(), key.address());
    }

    #[test]
    fn rejects_numbers_signs_overflow_unknown_fields_and_bad_signatures() {
        let (_, _, signed) = signed();
        let good = serde_json::to_value(&signed).unwrap();
        let with = |field: &str, value: serde_json::Value| {
            let mut v = good.clone();
            v[field] = value;
            serde_json::from_value::<SignedReceipt>(v)
                .unwrap_err()
                .to_string()
        };
        assert!(with("termsId", 1.into()).contains("invalid type"));
        assert!(with("termsId", "-1".into()).contains("decimal string"));
        assert!(with("termsId", "".into()).contains("decimal string"));
        assert!(with("termsId", "18446744073709551616".into()).contains("64 bits"));
        assert!(with("licenseId", format!("{}0", U256::MAX).into()).contains("256 bits"));
        assert!(with("signature", "0x1234".into()).contains("65 bytes"));
        assert!(with("extra", "1".into()).contains("unknown field"));
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove("runId");
        assert!(serde_json::from_value::<SignedReceipt>(missing)
            .unwrap_err()
            .to_string()
            .contains("missing field"));
    }
}
