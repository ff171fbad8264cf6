//! Download grants: the short-lived token in a file URL's `grant` parameter.
//!
//! A token is `<access id>.<expires at>.<tag>`: the access id (the signed request's digest,
//! 0x-hex), the unix second the grant ends, and
//! `tag = keccak256(key ‖ "fairtrain-grant-v1" ‖ manifestHash ‖ accessId ‖ expiresAt as 8 bytes)`
//! under the gateway's 32-byte secret key. keccak256 has no length-extension weakness, so a
//! keyed prefix is a MAC. A token opens only its own dataset's files, and only until it
//! expires; changing any part of it breaks the tag. Only the gateway can make or check one.

use alloy::primitives::{keccak256, B256};

/// What a token is tagged with.
const LABEL: &[u8] = b"fairtrain-grant-v1";

/// Why a token opens nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// Not `<hex>.<digits>.<hex>`.
    #[error("the grant is not a gateway grant token")]
    Malformed,
    /// The tag does not match (a token altered, made for another dataset, or by another key).
    #[error("the grant's signature does not match: it was altered or is for another dataset")]
    Forged,
    /// The grant has ended.
    #[error("the grant expired at {0}: ask for access again")]
    Expired(u64),
}

/// The gateway's grant key.
#[derive(Clone)]
pub struct GrantKey([u8; 32]);

impl std::fmt::Debug for GrantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GrantKey(..)")
    }
}

impl GrantKey {
    /// A key from 32 secret bytes.
    pub const fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A random key from the system's random source (grants then end with the process).
    pub fn random() -> Self {
        Self(
            alloy::signers::local::PrivateKeySigner::random()
                .to_bytes()
                .0,
        )
    }

    fn tag(&self, manifest: B256, access: B256, expires_at: u64) -> B256 {
        let mut preimage = Vec::with_capacity(32 + LABEL.len() + 72);
        preimage.extend_from_slice(&self.0);
        preimage.extend_from_slice(LABEL);
        preimage.extend_from_slice(manifest.as_slice());
        preimage.extend_from_slice(access.as_slice());
        preimage.extend_from_slice(&expires_at.to_be_bytes());
        keccak256(preimage)
    }

    /// The token of access `access` to dataset `manifest` until `expires_at`.
    pub fn issue(&self, manifest: B256, access: B256, expires_at: u64) -> String {
        let tag = self.tag(manifest, access, expires_at);
        format!("{access}.{expires_at}.{tag}")
    }

    /// The access id a token grants for dataset `manifest` at time `now`.
    ///
    /// # Errors
    ///
    /// [`GrantError`].
    pub fn check(&self, token: &str, manifest: B256, now: u64) -> Result<B256, GrantError> {
        let mut parts = token.splitn(3, '.');
        let (Some(access), Some(expires), Some(tag)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(GrantError::Malformed);
        };
        if !expires.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GrantError::Malformed);
        }
        let access: B256 = access.parse().map_err(|_| GrantError::Malformed)?;
        let expires_at: u64 = expires.parse().map_err(|_| GrantError::Malformed)?;
        let tag: B256 = tag.parse().map_err(|_| GrantError::Malformed)?;
        if !constant_time_eq(&tag, &self.tag(manifest, access, expires_at)) {
            return Err(GrantError::Forged);
        }
        if now >= expires_at {
            return Err(GrantError::Expired(expires_at));
        }
        Ok(access)
    }
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &B256, b: &B256) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_its_dataset_until_it_expires_and_nothing_else() {
        let key = GrantKey::new([7; 32]);
        let (manifest, access) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let token = key.issue(manifest, access, 1_000);
        assert_eq!(key.check(&token, manifest, 999), Ok(access));
        assert_eq!(
            key.check(&token, manifest, 1_000),
            Err(GrantError::Expired(1_000))
        );
        assert_eq!(
            key.check(&token, B256::repeat_byte(3), 999),
            Err(GrantError::Forged)
        );
        assert_eq!(
            GrantKey::new([8; 32]).check(&token, manifest, 999),
            Err(GrantError::Forged)
        );
        let later = token.replace(".1000.", ".9000.");
        assert_eq!(key.check(&later, manifest, 999), Err(GrantError::Forged));
        for bad in [
            "",
            "a.b.c",
            "0x12.10.0x34",
            &token.replace(".1000.", ".+1000."),
        ] {
            assert_eq!(
                key.check(bad, manifest, 0),
                Err(GrantError::Malformed),
                "{bad}"
            );
        }
    }
}
