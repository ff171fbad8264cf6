//! The usage receipt that payers sign, mirroring the Solidity `Escrow.Receipt`.

use alloy::{
    primitives::{b256, keccak256, B256},
    sol,
    sol_types::SolValue,
};

sol! {
    /// A cumulative usage receipt, signed (EIP-712) by a key the payer registered with the
    /// escrow. The field names and types are those of `Escrow.Receipt` in
    /// `contracts/src/types/EscrowTypes.sol`; they define the EIP-712 type string
    /// [`RECEIPT_TYPE`].
    ///
    /// A later receipt for the same [usage key](Receipt::usage_key) supersedes earlier ones:
    /// settlement pays only the samples beyond what was already settled for that key.
    #[derive(Debug, PartialEq, Eq, Hash)]
    struct Receipt {
        /// The account whose budget pays.
        address payer;
        /// The license NFT used.
        uint256 licenseId;
        /// The terms version the payer accepted (binds the price).
        uint64 termsId;
        /// The training run, chosen by the payer (e.g. a hash of the run's name).
        bytes32 runId;
        /// Samples drawn from the license in this run so far.
        uint64 cumulativeSamples;
        /// Unix time the receipt was signed.
        uint64 issuedAt;
    }
}

/// The EIP-712 type string of [`Receipt`] (`ReceiptLib.RECEIPT_TYPEHASH` hashes it).
pub const RECEIPT_TYPE: &str = "Receipt(address payer,uint256 licenseId,uint64 termsId,bytes32 runId,uint64 cumulativeSamples,uint64 issuedAt)";

/// `keccak256(RECEIPT_TYPE)`, the EIP-712 type hash of [`Receipt`].
pub const RECEIPT_TYPEHASH: B256 =
    b256!("0xdd1d6970c00530a1c720ab37335f5e6590bd6d4e0de8b9db4ff49bb3697c45d1");

impl Receipt {
    /// The key under which the escrow settles cumulative usage, one per (payer, license, terms
    /// version, run): `keccak256(abi.encode(payer, licenseId, termsId, runId))`, as
    /// `ReceiptLib.usageKey`.
    pub fn usage_key(&self) -> B256 {
        keccak256((self.payer, self.licenseId, self.termsId, self.runId).abi_encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        primitives::{address, U256},
        sol_types::SolStruct,
    };

    fn sample() -> Receipt {
        Receipt {
            payer: address!("0x1111111111111111111111111111111111111111"),
            licenseId: U256::from(42),
            termsId: 7,
            runId: keccak256("run-1"),
            cumulativeSamples: 1_000,
            issuedAt: 1_750_000_000,
        }
    }

    #[test]
    fn type_string_matches_solidity() {
        assert_eq!(Receipt::eip712_encode_type(), RECEIPT_TYPE);
        assert_eq!(keccak256(RECEIPT_TYPE), RECEIPT_TYPEHASH);
        assert_eq!(sample().eip712_type_hash(), RECEIPT_TYPEHASH);
    }

    #[test]
    fn struct_hash_is_typehash_and_abi_encoded_fields() {
        let r = sample();
        let expected = keccak256(
            (
                RECEIPT_TYPEHASH,
                r.payer,
                r.licenseId,
                r.termsId,
                r.runId,
                r.cumulativeSamples,
                r.issuedAt,
            )
                .abi_encode(),
        );
        assert_eq!(r.eip712_hash_struct(), expected);
    }

    #[test]
    fn usage_key_is_abi_encoded_words() {
        let r = sample();
        let mut encoded = Vec::with_capacity(128);
        encoded.extend_from_slice(r.payer.into_word().as_slice());
        encoded.extend_from_slice(&r.licenseId.to_be_bytes::<32>());
        encoded.extend_from_slice(U256::from(r.termsId).to_be_bytes::<32>().as_slice());
        encoded.extend_from_slice(r.runId.as_slice());
        assert_eq!(r.usage_key(), keccak256(&encoded));
    }

    #[test]
    fn usage_key_ignores_count_and_time() {
        let r = sample();
        let later = Receipt {
            cumulativeSamples: 5_000,
            issuedAt: r.issuedAt + 60,
            ..r.clone()
        };
        assert_eq!(r.usage_key(), later.usage_key());
        let other_run = Receipt {
            runId: keccak256("run-2"),
            ..r.clone()
        };
        assert_ne!(r.usage_key(), other_run.usage_key());
        let other_terms = Receipt {
            termsId: 8,
            ..r.clone()
        };
        assert_ne!(r.usage_key(), other_terms.usage_key());
    }
}
