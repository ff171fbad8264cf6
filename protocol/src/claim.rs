//! Claims: a signed receipt with its Merkle proof, in the form `TrainingEscrow.claim(root,
//! claims)` takes (`Escrow.Claim`), and the checks the escrow makes that need no chain state
//! (the signature recovers, the proof leads to the root). The relayer's sponsored claims and the
//! CLI's `fairtrain claim` build their claims here.

use alloy::primitives::B256;

use crate::{bindings::Escrow, leaf, merkle, EscrowDomain, SignedReceipt};

/// Why a claim would revert whatever the chain's state.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// The signature does not recover a signer.
    #[error("its signature does not recover ({0})")]
    Signature(#[source] crate::Error),
    /// The proof does not lead from the receipt's leaf to the root.
    #[error("its proof does not lead to the root {root}")]
    NotInTree {
        /// The root the claim names.
        root: B256,
    },
}

/// The `Escrow.Claim` of `signed` with its `proof`.
pub fn build(signed: &SignedReceipt, proof: Vec<B256>) -> Escrow::Claim {
    Escrow::Claim {
        receipt: signed.receipt().into(),
        signature: signed.signature.to_bytes(),
        proof,
    }
}

/// Checks what the escrow checks of a claim under `root` before it reads any state: the
/// signature recovers a signer, and `proof` leads from the receipt's leaf to `root`. Returns the
/// receipt's digest. (Whether the signer is a registered key of the payer, and the batch,
/// acceptance and line, are chain state: see `TrainingEscrow.claim`.)
///
/// # Errors
///
/// [`ClaimError`] naming the check that fails.
pub fn check(
    domain: &EscrowDomain,
    root: B256,
    signed: &SignedReceipt,
    proof: &[B256],
) -> Result<B256, ClaimError> {
    signed.recover(domain).map_err(ClaimError::Signature)?;
    let digest = domain.digest(&signed.receipt());
    if !merkle::verify(proof, root, leaf(&digest)) {
        return Err(ClaimError::NotInTree { root });
    }
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use alloy::{
        primitives::{address, keccak256, U256},
        signers::local::PrivateKeySigner,
        sol_types::SolCall,
    };

    use super::*;
    use crate::{bindings::TrainingEscrow, Receipt, ReceiptTree};

    fn signed(samples: u64) -> (EscrowDomain, SignedReceipt) {
        let domain = EscrowDomain::new(
            31337,
            address!("0x00000000000000000000000000000000000e5c40"),
        );
        let key = PrivateKeySigner::from_bytes(&keccak256("claim key")).unwrap();
        let receipt = Receipt {
            payer: key.address(),
            licenseId: U256::from(7),
            termsId: 1,
            runId: keccak256("run"),
            cumulativeSamples: samples,
            issuedAt: 1_750_000_000,
        };
        let signed = SignedReceipt::sign(&domain, &key, &receipt).unwrap();
        (domain, signed)
    }

    #[test]
    fn builds_and_checks_a_claim_of_a_tree() {
        let (domain, a) = signed(10);
        let (_, b) = signed(20);
        let leaves = crate::batch::leaves(&domain, &[a.clone(), b.clone()]);
        let tree = ReceiptTree::from_leaves(&leaves).unwrap();
        let proof = tree.proof(1).unwrap();
        let digest = check(&domain, tree.root(), &b, &proof).unwrap();
        assert_eq!(digest, domain.digest(&b.receipt()));

        let claim = build(&b, proof.clone());
        assert_eq!(claim.receipt.cumulativeSamples, 20);
        assert_eq!(claim.signature, b.signature.to_bytes());
        // It encodes as the escrow's claim calldata and decodes back.
        let call = TrainingEscrow::claimCall {
            root: tree.root(),
            claims: vec![claim],
        };
        let back = TrainingEscrow::claimCall::abi_decode(&call.abi_encode()).unwrap();
        assert_eq!(back.claims[0].proof, proof);

        // The other receipt's proof does not prove this one.
        let wrong = tree.proof(0).unwrap();
        let err = check(&domain, tree.root(), &b, &wrong).unwrap_err();
        assert!(matches!(err, ClaimError::NotInTree { .. }), "{err}");
        // Nor does a proof under another root.
        assert!(check(&domain, B256::repeat_byte(1), &a, &tree.proof(0).unwrap()).is_err());
    }
}
