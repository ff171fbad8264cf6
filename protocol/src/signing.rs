//! Signing receipts, and recovering and verifying their signers, with the rules of
//! OpenZeppelin's `ECDSA.tryRecover` that the escrow applies.

use std::{fmt, str::FromStr};

use alloy::{
    hex,
    primitives::{Address, Bytes, Signature, B256, U256},
    signers::{local::PrivateKeySigner, SignerSync},
};

use crate::{
    domain::EscrowDomain,
    error::{Error, Result},
    receipt::Receipt,
};

/// Half the order of secp256k1: the largest `s` the escrow accepts.
pub const SECP256K1N_HALF: U256 =
    alloy::uint!(0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0_U256);

/// A 65-byte receipt signature `r ‖ s ‖ v`, in the form the escrow accepts: `v` is 27 or 28 and
/// `s` is in the lower half of the curve order.
///
/// Holding one does not mean it recovers to anyone in particular: see
/// [`ReceiptSignature::recover`] and [`EscrowDomain::verify`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptSignature([u8; 65]);

impl ReceiptSignature {
    /// Parses `r ‖ s ‖ v`, rejecting what the escrow rejects before recovery: a length other
    /// than 65, `v` other than 27 or 28, and high `s`.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let bytes: [u8; 65] = bytes
            .try_into()
            .map_err(|_| Error::SignatureLength { len: bytes.len() })?;
        let v = bytes[64];
        if v != 27 && v != 28 {
            return Err(Error::SignatureV { v });
        }
        if U256::from_be_slice(&bytes[32..64]) > SECP256K1N_HALF {
            return Err(Error::SignatureHighS);
        }
        Ok(Self(bytes))
    }

    /// The 65 bytes `r ‖ s ‖ v`.
    pub const fn as_bytes(&self) -> &[u8; 65] {
        &self.0
    }

    /// The 65 bytes as [`Bytes`], ready for a `bytes signature` argument.
    pub fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(&self.0)
    }

    /// `r`.
    pub fn r(&self) -> B256 {
        B256::from_slice(&self.0[..32])
    }

    /// `s` (always at most [`SECP256K1N_HALF`]).
    pub fn s(&self) -> B256 {
        B256::from_slice(&self.0[32..64])
    }

    /// `v`, 27 or 28.
    pub const fn v(&self) -> u8 {
        self.0[64]
    }

    /// The address whose key signed `digest`, as `ecrecover` would return it.
    ///
    /// # Errors
    ///
    /// [`Error::Recovery`] if no key can be recovered (e.g. `r` or `s` is zero or not below the
    /// curve order), which `ecrecover` reports as the zero address.
    pub fn recover(&self, digest: &B256) -> Result<Address> {
        let signature = Signature::from_bytes_and_parity(&self.0, self.v() == 28);
        signature
            .recover_address_from_prehash(digest)
            .map_err(Error::Recovery)
    }

    fn from_signature(signature: &Signature) -> Result<Self> {
        // k256 signs with low s; normalizing anyway keeps the invariant local.
        Self::from_slice(&signature.normalized_s().as_bytes())
    }
}

impl fmt::Debug for ReceiptSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReceiptSignature({self})")
    }
}

impl fmt::Display for ReceiptSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_prefixed(self.0))
    }
}

impl FromStr for ReceiptSignature {
    type Err = Error;

    /// Parses a hex string (with or without `0x`) with the rules of
    /// [`ReceiptSignature::from_slice`].
    fn from_str(s: &str) -> Result<Self> {
        let bytes = hex::decode(s).map_err(Error::SignatureHex)?;
        Self::from_slice(&bytes)
    }
}

impl TryFrom<&[u8]> for ReceiptSignature {
    type Error = Error;

    fn try_from(bytes: &[u8]) -> Result<Self> {
        Self::from_slice(bytes)
    }
}

impl From<ReceiptSignature> for Bytes {
    fn from(signature: ReceiptSignature) -> Self {
        signature.to_bytes()
    }
}

/// Signs an EIP-712 digest with `signer` (RFC 6979 deterministic nonces, low `s`, `v` 27/28).
pub fn sign_digest(signer: &PrivateKeySigner, digest: &B256) -> Result<ReceiptSignature> {
    let signature = signer.sign_hash_sync(digest).map_err(Error::Signing)?;
    ReceiptSignature::from_signature(&signature)
}

/// Recovers the signer of `digest` from a raw signature, applying the escrow's rules (see
/// [`ReceiptSignature::from_slice`] and [`ReceiptSignature::recover`]).
pub fn recover_digest(digest: &B256, signature: &[u8]) -> Result<Address> {
    ReceiptSignature::from_slice(signature)?.recover(digest)
}

impl EscrowDomain {
    /// Signs `receipt` under this domain with `signer`.
    pub fn sign(&self, signer: &PrivateKeySigner, receipt: &Receipt) -> Result<ReceiptSignature> {
        sign_digest(signer, &self.digest(receipt))
    }

    /// Recovers the key that signed `receipt` under this domain.
    pub fn recover(&self, receipt: &Receipt, signature: &[u8]) -> Result<Address> {
        recover_digest(&self.digest(receipt), signature)
    }

    /// Checks that `signature` is `expected`'s signature of `receipt` under this domain.
    ///
    /// # Errors
    ///
    /// A malformed or unrecoverable signature (see [`Error::is_invalid_signature`]), or
    /// [`Error::SignerMismatch`] if another key signed.
    pub fn verify(&self, receipt: &Receipt, signature: &[u8], expected: Address) -> Result<()> {
        let recovered = self.recover(receipt, signature)?;
        if recovered != expected {
            return Err(Error::SignerMismatch {
                expected,
                recovered,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{address, keccak256};

    const SECP256K1N: U256 =
        alloy::uint!(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141_U256);

    fn key(n: u8) -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&keccak256([n])).unwrap()
    }

    fn domain() -> EscrowDomain {
        EscrowDomain::new(
            31337,
            address!("0x00000000000000000000000000000000000e5c40"),
        )
    }

    fn receipt(payer: Address, cumulative: u64) -> Receipt {
        Receipt {
            payer,
            licenseId: U256::from(1),
            termsId: 1,
            runId: keccak256("run"),
            cumulativeSamples: cumulative,
            issuedAt: 1_750_000_000,
        }
    }

    #[test]
    fn half_order_constant_is_half_of_the_curve_order() {
        assert_eq!(SECP256K1N_HALF, SECP256K1N >> 1);
    }

    #[test]
    fn sign_then_recover_and_verify() {
        let signer = key(1);
        let r = receipt(signer.address(), 100);
        let signature = domain().sign(&signer, &r).unwrap();
        assert!(matches!(signature.v(), 27 | 28));
        assert!(U256::from_be_bytes(signature.s().0) <= SECP256K1N_HALF);
        assert_eq!(
            domain().recover(&r, signature.as_bytes()).unwrap(),
            signer.address()
        );
        domain()
            .verify(&r, signature.as_bytes(), signer.address())
            .unwrap();
    }

    #[test]
    fn signing_is_deterministic() {
        let signer = key(2);
        let r = receipt(signer.address(), 7);
        assert_eq!(
            domain().sign(&signer, &r).unwrap(),
            domain().sign(&signer, &r).unwrap()
        );
    }

    #[test]
    fn verify_rejects_other_signer_and_other_receipt() {
        let (alice, bob) = (key(3), key(4));
        let r = receipt(alice.address(), 100);
        let signature = domain().sign(&alice, &r).unwrap();
        let err = domain()
            .verify(&r, signature.as_bytes(), bob.address())
            .unwrap_err();
        assert!(matches!(
            err,
            Error::SignerMismatch { expected, recovered }
                if expected == bob.address() && recovered == alice.address()
        ));
        assert!(err.is_invalid_signature());

        // The same signature on a different receipt recovers some unrelated address.
        let altered = receipt(alice.address(), 101);
        assert!(domain()
            .verify(&altered, signature.as_bytes(), alice.address())
            .is_err());
        // And under a different domain too.
        let other = EscrowDomain::new(1, domain().verifying_contract());
        assert!(other
            .verify(&r, signature.as_bytes(), alice.address())
            .is_err());
    }

    #[test]
    fn rejects_high_s_twin() {
        let signer = key(5);
        let r = receipt(signer.address(), 9);
        let signature = domain().sign(&signer, &r).unwrap();
        // (r, n - s, flipped v) is also a valid ECDSA signature by the same key.
        let mut twin = *signature.as_bytes();
        let s = U256::from_be_bytes(signature.s().0);
        twin[32..64].copy_from_slice(&(SECP256K1N - s).to_be_bytes::<32>());
        twin[64] = if signature.v() == 27 { 28 } else { 27 };
        let as_alloy = Signature::from_raw(&twin).unwrap();
        assert_eq!(
            as_alloy
                .recover_address_from_prehash(&domain().digest(&r))
                .unwrap(),
            signer.address(),
            "the twin is a valid signature for alloy",
        );
        assert!(matches!(
            domain().recover(&r, &twin),
            Err(Error::SignatureHighS)
        ));
    }

    #[test]
    fn rejects_bad_v_and_length() {
        let signer = key(6);
        let r = receipt(signer.address(), 1);
        let signature = domain().sign(&signer, &r).unwrap();
        let mut raw = *signature.as_bytes();
        raw[64] -= 27; // 0/1 "y parity" form: ecrecover would return 0
        assert!(matches!(
            ReceiptSignature::from_slice(&raw),
            Err(Error::SignatureV { v }) if v == raw[64]
        ));
        assert!(matches!(
            ReceiptSignature::from_slice(&raw[..64]),
            Err(Error::SignatureLength { len: 64 })
        ));
    }

    #[test]
    fn rejects_zero_r() {
        let mut raw = [0u8; 65];
        raw[63] = 1;
        raw[64] = 27;
        let signature = ReceiptSignature::from_slice(&raw).unwrap();
        assert!(matches!(
            signature.recover(&B256::ZERO),
            Err(Error::Recovery(_))
        ));
    }

    #[test]
    fn hex_round_trip() {
        let signer = key(7);
        let signature = domain()
            .sign(&signer, &receipt(signer.address(), 3))
            .unwrap();
        let text = signature.to_string();
        assert_eq!(text.len(), 2 + 130);
        assert_eq!(text.parse::<ReceiptSignature>().unwrap(), signature);
        assert_eq!(Bytes::from(signature).as_ref(), signature.as_bytes());
    }
}
