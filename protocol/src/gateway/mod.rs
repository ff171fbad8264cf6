//! The signed requests of a data gateway (docs/gateway.md): a payer (or one of its registered
//! signing keys) asks for a licensed dataset's files with an [`AccessRequest`], and a creator
//! publishes a dataset's files with a [`PublishRequest`]. Both are EIP-712 typed data under a
//! [`GatewayDomain`] (name [`DOMAIN_NAME`], version [`DOMAIN_VERSION`], the chain id and the
//! escrow's address), so that any wallet library can produce them and a request for one
//! deployment is worthless for another.
//!
//! Each request names the gateway it is for (`gateway`: the gateway's public URL as it states
//! it in `/v1/info`), expires (`expiresAt`, unix seconds) and carries a random `nonce`; a
//! gateway accepts each signed request once.
//!
//! `client` (feature `fetch`) is a gateway's client: publish, ask for access, download with
//! resume and verification.

#[cfg(feature = "fetch")]
pub mod client;

use std::borrow::Cow;

use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
    sol_types::{Eip712Domain, SolStruct},
};
use serde::{Deserialize, Serialize};

use crate::{
    error::Result,
    signing::{recover_digest, sign_digest, ReceiptSignature},
    wire::decimal,
};

/// The EIP-712 domain name of gateway requests.
pub const DOMAIN_NAME: &str = "Fairtrain Gateway";

/// The EIP-712 domain version of gateway requests.
pub const DOMAIN_VERSION: &str = "1";

/// The longest a signed request may be valid for, in seconds: gateways refuse requests whose
/// `expiresAt` lies further ahead (a leaked request is a bearer credential until it expires).
pub const MAX_REQUEST_LIFETIME: u64 = 600;

/// The Solidity shapes of the requests, whose EIP-712 type strings are
/// `AccessRequest(string gateway,address payer,uint256 licenseId,uint64 termsId,bytes32 manifestHash,uint64 expiresAt,bytes32 nonce)`
/// and `PublishRequest(string gateway,address creator,bytes32 manifestHash,uint64 expiresAt,bytes32 nonce)`.
pub mod typed {
    alloy::sol! {
        /// A payer's request for the files of the dataset a license covers.
        #[derive(Debug, PartialEq, Eq)]
        struct AccessRequest {
            string gateway;
            address payer;
            uint256 licenseId;
            uint64 termsId;
            bytes32 manifestHash;
            uint64 expiresAt;
            bytes32 nonce;
        }

        /// A creator's request to publish the files of a dataset it signed the manifest of.
        #[derive(Debug, PartialEq, Eq)]
        struct PublishRequest {
            string gateway;
            address creator;
            bytes32 manifestHash;
            uint64 expiresAt;
            bytes32 nonce;
        }
    }
}

/// The EIP-712 domain of gateway requests for one deployment: name [`DOMAIN_NAME`], version
/// [`DOMAIN_VERSION`], the chain id, and the escrow's address as verifying contract (the
/// acceptances and signing keys a gateway checks live there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayDomain {
    domain: Eip712Domain,
}

impl GatewayDomain {
    /// The domain of the deployment whose escrow is `escrow` on chain `chain_id`.
    pub fn new(chain_id: u64, escrow: Address) -> Self {
        Self {
            domain: Eip712Domain::new(
                Some(Cow::Borrowed(DOMAIN_NAME)),
                Some(Cow::Borrowed(DOMAIN_VERSION)),
                Some(U256::from(chain_id)),
                Some(escrow),
                None,
            ),
        }
    }

    /// The domain as an alloy [`Eip712Domain`].
    pub const fn eip712_domain(&self) -> &Eip712Domain {
        &self.domain
    }

    /// The EIP-712 digest of a typed request: `keccak256(0x1901 ‖ separator ‖ hashStruct)`.
    pub fn digest<T: SolStruct>(&self, request: &T) -> B256 {
        request.eip712_signing_hash(&self.domain)
    }
}

/// An access request in its JSON form (integers as decimal strings, bytes as hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessRequest {
    /// The gateway's public URL, exactly as its `/v1/info` states it.
    pub gateway: String,
    /// The payer whose acceptance entitles the access.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::AddressHex))]
    pub payer: Address,
    /// The license whose dataset is asked for.
    #[serde(with = "decimal::u256")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Uint256))]
    pub license_id: U256,
    /// The terms version the payer accepted.
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Uint64))]
    pub terms_id: u64,
    /// The manifest hash the payer expects the license to cover.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hash32))]
    pub manifest_hash: B256,
    /// Unix seconds after which the request is refused.
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Uint64))]
    pub expires_at: u64,
    /// 32 random bytes: each signed request is accepted once.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hash32))]
    pub nonce: B256,
}

impl AccessRequest {
    /// The typed form that is hashed and signed.
    pub fn typed(&self) -> typed::AccessRequest {
        typed::AccessRequest {
            gateway: self.gateway.clone(),
            payer: self.payer,
            licenseId: self.license_id,
            termsId: self.terms_id,
            manifestHash: self.manifest_hash,
            expiresAt: self.expires_at,
            nonce: self.nonce,
        }
    }
}

/// The body of `POST /v1/access`: a signed access request (its `request` and `signature`) and,
/// for terms priced per access, the receipt that pays for it (signed by a key of the payer under
/// the escrow's domain; its run id is [`crate::pricing::access_run_id`] of the request's digest
/// and it counts 1). Its own struct rather than [`Signed`] with a field added, so that an unknown
/// field is refused here too (serde does not refuse them through a flattened struct).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessCall {
    /// The request.
    pub request: AccessRequest,
    /// 65 bytes `r ‖ s ‖ v` over the request's EIP-712 digest (low `s`, `v` 27 or 28).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Signature65))]
    pub signature: ReceiptSignature,
    /// The receipt for this access (terms priced per access only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<crate::SignedReceipt>,
}

impl AccessCall {
    /// The call of `signed`, with `receipt` if the access is paid.
    pub fn new(signed: Signed<AccessRequest>, receipt: Option<crate::SignedReceipt>) -> Self {
        Self {
            request: signed.request,
            signature: signed.signature,
            receipt,
        }
    }

    /// The signed request and the receipt.
    pub fn into_parts(self) -> (Signed<AccessRequest>, Option<crate::SignedReceipt>) {
        (
            Signed {
                request: self.request,
                signature: self.signature,
            },
            self.receipt,
        )
    }
}

/// A publish request in its JSON form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishRequest {
    /// The gateway's public URL, exactly as its `/v1/info` states it.
    pub gateway: String,
    /// The manifest's creator (who signed it).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::AddressHex))]
    pub creator: Address,
    /// The manifest hash of the dataset published.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hash32))]
    pub manifest_hash: B256,
    /// Unix seconds after which the request is refused.
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Uint64))]
    pub expires_at: u64,
    /// 32 random bytes.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Hash32))]
    pub nonce: B256,
}

impl PublishRequest {
    /// The typed form that is hashed and signed.
    pub fn typed(&self) -> typed::PublishRequest {
        typed::PublishRequest {
            gateway: self.gateway.clone(),
            creator: self.creator,
            manifestHash: self.manifest_hash,
            expiresAt: self.expires_at,
            nonce: self.nonce,
        }
    }
}

/// A request with the signature of the key that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Signed<T> {
    /// The request.
    pub request: T,
    /// 65 bytes `r ‖ s ‖ v` over the request's EIP-712 digest (low `s`, `v` 27 or 28).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schema::Signature65))]
    pub signature: ReceiptSignature,
}

/// A request that has an EIP-712 typed form.
pub trait Typed {
    /// The typed struct.
    type Struct: SolStruct;
    /// The request as that struct.
    fn to_typed(&self) -> Self::Struct;
}

impl Typed for AccessRequest {
    type Struct = typed::AccessRequest;
    fn to_typed(&self) -> Self::Struct {
        self.typed()
    }
}

impl Typed for PublishRequest {
    type Struct = typed::PublishRequest;
    fn to_typed(&self) -> Self::Struct {
        self.typed()
    }
}

impl<T: Typed> Signed<T> {
    /// Signs `request` under `domain` with `key`.
    pub fn sign(domain: &GatewayDomain, key: &PrivateKeySigner, request: T) -> Result<Self> {
        let signature = sign_digest(key, &domain.digest(&request.to_typed()))?;
        Ok(Self { request, signature })
    }

    /// The request's digest under `domain`.
    pub fn digest(&self, domain: &GatewayDomain) -> B256 {
        domain.digest(&self.request.to_typed())
    }

    /// The address whose key signed the request under `domain`.
    pub fn signer(&self, domain: &GatewayDomain) -> Result<Address> {
        recover_digest(&self.digest(domain), &self.signature.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{address, b256, keccak256};

    use super::*;

    fn request() -> AccessRequest {
        AccessRequest {
            gateway: "https://data.example.org".into(),
            payer: address!("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
            license_id: U256::from(7),
            terms_id: 2,
            manifest_hash: b256!(
                "0x1111111111111111111111111111111111111111111111111111111111111111"
            ),
            expires_at: 1_750_000_600,
            nonce: keccak256("nonce"),
        }
    }

    /// The type string and struct hash are EIP-712's encoding of the documented type, computed
    /// by hand.
    #[test]
    fn digest_is_the_documented_encoding() {
        use alloy::sol_types::SolValue;
        let r = request();
        let typehash = keccak256(
            "AccessRequest(string gateway,address payer,uint256 licenseId,uint64 termsId,\
             bytes32 manifestHash,uint64 expiresAt,bytes32 nonce)",
        );
        let struct_hash = keccak256(
            (
                typehash,
                keccak256(r.gateway.as_bytes()),
                r.payer,
                r.license_id,
                U256::from(r.terms_id),
                r.manifest_hash,
                U256::from(r.expires_at),
                r.nonce,
            )
                .abi_encode(),
        );
        let chain_id = 31337u64;
        let escrow = address!("0x00000000000000000000000000000000000e5c40");
        let separator = keccak256(
            (
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
                ),
                keccak256(DOMAIN_NAME),
                keccak256(DOMAIN_VERSION),
                U256::from(chain_id),
                escrow,
            )
                .abi_encode(),
        );
        let mut preimage = vec![0x19, 0x01];
        preimage.extend_from_slice(separator.as_slice());
        preimage.extend_from_slice(struct_hash.as_slice());
        let domain = GatewayDomain::new(chain_id, escrow);
        assert_eq!(domain.digest(&r.typed()), keccak256(preimage));
    }

    #[test]
    fn signed_requests_recover_and_bind_every_field() {
        let key = PrivateKeySigner::from_bytes(&keccak256("payer key")).unwrap();
        let domain = GatewayDomain::new(31337, Address::repeat_byte(0xe5));
        let signed = Signed::sign(&domain, &key, request()).unwrap();
        assert_eq!(signed.signer(&domain).unwrap(), key.address());

        let json = serde_json::to_string(&signed).unwrap();
        assert!(json.contains(r#""licenseId":"7""#), "{json}");
        let back: Signed<AccessRequest> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, signed);

        let mut other_gateway = signed.clone();
        other_gateway.request.gateway = "https://elsewhere.example".into();
        assert_ne!(other_gateway.signer(&domain).unwrap(), key.address());
        let other_chain = GatewayDomain::new(1, Address::repeat_byte(0xe5));
        assert_ne!(signed.signer(&other_chain).unwrap(), key.address());
    }

    /// `POST /v1/access`'s body: the signed request's fields at the top level, the receipt
    /// beside them (absent when there is none), and nothing else.
    #[test]
    fn an_access_call_is_the_signed_request_and_its_receipt_only() {
        let key = PrivateKeySigner::from_bytes(&keccak256("payer key")).unwrap();
        let domain = GatewayDomain::new(31337, Address::repeat_byte(0xe5));
        let signed = Signed::sign(&domain, &key, request()).unwrap();
        let bare = AccessCall::new(signed.clone(), None);
        let json = serde_json::to_value(&bare).unwrap();
        assert_eq!(
            json,
            serde_json::to_value(&signed).unwrap(),
            "no receipt field"
        );
        let back: AccessCall = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, bare);

        let receipt = crate::SignedReceipt::sign(
            &crate::EscrowDomain::new(31337, Address::repeat_byte(0xe5)),
            &key,
            &crate::Receipt {
                payer: key.address(),
                licenseId: U256::from(7),
                termsId: 2,
                runId: crate::pricing::access_run_id(signed.digest(&domain)),
                cumulativeSamples: 1,
                issuedAt: 1_750_000_000,
            },
        )
        .unwrap();
        let paid = AccessCall::new(signed, Some(receipt));
        let json = serde_json::to_value(&paid).unwrap();
        assert_eq!(json["receipt"]["cumulativeSamples"], "1");
        assert_eq!(
            serde_json::from_value::<AccessCall>(json.clone()).unwrap(),
            paid
        );

        let mut extra = json;
        extra["unexpected"] = 1.into();
        assert!(serde_json::from_value::<AccessCall>(extra).is_err());
    }
}
