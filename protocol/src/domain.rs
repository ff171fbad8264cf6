//! The EIP-712 domain of a `TrainingEscrow` deployment and the digests of receipts under it.

use std::borrow::Cow;

use alloy::{
    primitives::{keccak256, Address, B256, U256},
    sol_types::{Eip712Domain, SolStruct},
};

use crate::receipt::Receipt;

/// The EIP-712 domain name of the escrow (its `EIP712` constructor argument).
pub const DOMAIN_NAME: &str = "Fairtrain TrainingEscrow";

/// The EIP-712 domain version of the escrow.
pub const DOMAIN_VERSION: &str = "1";

/// The EIP-712 domain of one escrow deployment (name [`DOMAIN_NAME`], version
/// [`DOMAIN_VERSION`], chain id, verifying contract), with its domain separator computed once.
///
/// Receipts signed under one domain are worthless under another: a receipt for a test chain or
/// an older deployment cannot be replayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EscrowDomain {
    chain_id: u64,
    verifying_contract: Address,
    domain: Eip712Domain,
    separator: B256,
}

impl EscrowDomain {
    /// The domain of the escrow at `verifying_contract` on chain `chain_id`.
    pub fn new(chain_id: u64, verifying_contract: Address) -> Self {
        let domain = Eip712Domain::new(
            Some(Cow::Borrowed(DOMAIN_NAME)),
            Some(Cow::Borrowed(DOMAIN_VERSION)),
            Some(U256::from(chain_id)),
            Some(verifying_contract),
            None,
        );
        let separator = domain.separator();
        Self {
            chain_id,
            verifying_contract,
            domain,
            separator,
        }
    }

    /// The chain id.
    pub const fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The escrow's address.
    pub const fn verifying_contract(&self) -> Address {
        self.verifying_contract
    }

    /// The domain as an alloy [`Eip712Domain`].
    pub const fn eip712_domain(&self) -> &Eip712Domain {
        &self.domain
    }

    /// The domain separator (`hashStruct(EIP712Domain)`), as the escrow's
    /// `eip712Domain()`/`_domainSeparatorV4()` computes it.
    pub const fn separator(&self) -> B256 {
        self.separator
    }

    /// The EIP-712 digest of `receipt`: `keccak256(0x1901 ‖ separator ‖ hashStruct(receipt))`,
    /// what the payer's key signs and what `TrainingEscrow.receiptDigest` returns.
    pub fn digest(&self, receipt: &Receipt) -> B256 {
        let mut preimage = [0u8; 66];
        preimage[..2].copy_from_slice(&[0x19, 0x01]);
        preimage[2..34].copy_from_slice(self.separator.as_slice());
        preimage[34..].copy_from_slice(receipt.eip712_hash_struct().as_slice());
        keccak256(preimage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        primitives::{address, b256},
        sol_types::SolValue,
    };

    const ESCROW: Address = address!("0x00000000000000000000000000000000000e5c40");

    fn receipt() -> Receipt {
        Receipt {
            payer: address!("0x2222222222222222222222222222222222222222"),
            licenseId: U256::from(3),
            termsId: 2,
            runId: keccak256("run"),
            cumulativeSamples: 10,
            issuedAt: 1_750_000_000,
        }
    }

    #[test]
    fn separator_matches_eip712_definition() {
        let domain = EscrowDomain::new(31337, ESCROW);
        let type_hash = keccak256(
            "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
        );
        let expected = keccak256(
            (
                type_hash,
                keccak256(DOMAIN_NAME),
                keccak256(DOMAIN_VERSION),
                U256::from(31337),
                ESCROW,
            )
                .abi_encode(),
        );
        assert_eq!(domain.separator(), expected);
        assert_eq!(domain.eip712_domain().separator(), expected);
    }

    #[test]
    fn digest_matches_alloy_signing_hash() {
        let domain = EscrowDomain::new(31337, ESCROW);
        let r = receipt();
        assert_eq!(
            domain.digest(&r),
            r.eip712_signing_hash(domain.eip712_domain())
        );
    }

    #[test]
    fn digest_depends_on_chain_and_contract() {
        let r = receipt();
        let base = EscrowDomain::new(31337, ESCROW).digest(&r);
        assert_ne!(base, EscrowDomain::new(1, ESCROW).digest(&r));
        assert_ne!(base, EscrowDomain::new(31337, Address::ZERO).digest(&r));
    }

    #[test]
    fn accessors_return_inputs() {
        let domain = EscrowDomain::new(8453, ESCROW);
        assert_eq!(domain.chain_id(), 8453);
        assert_eq!(domain.verifying_contract(), ESCROW);
        assert_ne!(
            domain.separator(),
            b256!("0x0000000000000000000000000000000000000000000000000000000000000000")
        );
    }
}
