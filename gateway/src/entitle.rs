//! Whether the chain entitles a payer to a dataset: the one decision of the gateway, read from
//! the contracts' views at one block (the latest, less the configured confirmations), so that
//! it is never staler than the node.
//!
//! A payer is entitled to the dataset of manifest `m` through license `L` and terms `T` when,
//! at that block:
//! 1. `L` exists and records `m`, and `L`'s creator is the manifest's creator (anyone can mint a
//!    license naming any hash; only the creator's licenses count);
//! 2. the payer accepted `T` of `L` (`TrainingEscrow.acceptance(payer, L, T)`);
//! 3. `T` has not expired (`expiresAt` is 0 or later than the block's time);
//! 4. neither `T` nor `L`'s current terms are exclusive to another payer;
//! 5. the request was signed by the payer itself or by a key the payer registered, valid at the
//!    block's time (registered, and not revoked or its revocation not yet effective);
//! 6. if `T` is priced per access, the acceptance is chargeable (its notice period is over).
//!
//! Under terms priced per sample or per inference, an acceptance still in its notice period
//! (`chargeableFrom` ahead) entitles the payer: docs/gateway.md §4 explains why, and why
//! per-access terms differ.

use std::sync::Arc;

use alloy::{
    eips::BlockId,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
};
use fairtrain_chain::{classify_contract, RpcErrorKind};
use fairtrain_protocol::{
    bindings::{LicenseNFT, TrainingEscrow},
    pricing::Unit,
};
use tokio::sync::Semaphore;

/// Why a payer is not entitled, or why it could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No such license.
    #[error("license {0} does not exist")]
    UnknownLicense(U256),
    /// The license covers another manifest.
    #[error("license {license} covers manifest {covers}, not {asked}")]
    OtherManifest {
        /// The license.
        license: U256,
        /// What it covers.
        covers: B256,
        /// What was asked.
        asked: B256,
    },
    /// The license was minted by someone other than the manifest's creator.
    #[error("license {license} was minted by {minter}, not by the manifest's creator {creator}")]
    NotTheCreators {
        /// The license.
        license: U256,
        /// Who minted it.
        minter: Address,
        /// Who signed the manifest.
        creator: Address,
    },
    /// No acceptance of those terms by the payer.
    #[error("{payer} has not accepted terms {terms} of license {license}")]
    NotAccepted {
        /// The payer.
        payer: Address,
        /// The license.
        license: U256,
        /// The terms version.
        terms: u64,
    },
    /// The terms have expired.
    #[error("terms {terms} expired at {expired_at}")]
    Expired {
        /// The terms version.
        terms: u64,
        /// When.
        expired_at: u64,
    },
    /// The license is exclusive to another payer.
    #[error("license {license} is exclusive to {licensee}")]
    Exclusive {
        /// The license.
        license: U256,
        /// Its exclusive licensee.
        licensee: Address,
    },
    /// The key that signed is not a valid key of the payer.
    #[error("{signer} is not a signing key of {payer} valid now")]
    Signer {
        /// The payer.
        payer: Address,
        /// The key.
        signer: Address,
    },
    /// The terms are priced per access and the acceptance is still in its notice period.
    #[error("terms {terms} are priced per access and the acceptance is chargeable only from {chargeable_from}: an access is paid when it is granted, so it waits until then")]
    NotChargeableYet {
        /// The terms version.
        terms: u64,
        /// When the acceptance becomes chargeable.
        chargeable_from: u64,
    },
    /// The chain could not be read.
    #[error("reading the chain: {0}")]
    Chain(String),
    /// As many requests as allowed are being checked already.
    #[error("{0} access requests are being checked already; retry in a moment")]
    Busy(usize),
}

impl Refusal {
    /// The machine-readable code of the refusal (docs/gateway.md §8).
    pub const fn code(&self) -> &'static str {
        match self {
            Self::UnknownLicense(_) => "unknown_license",
            Self::OtherManifest { .. } => "manifest_mismatch",
            Self::NotTheCreators { .. } => "not_creators_license",
            Self::NotAccepted { .. } => "terms_not_accepted",
            Self::Expired { .. } => "terms_expired",
            Self::Exclusive { .. } => "exclusive_to_another",
            Self::Signer { .. } => "signer_not_registered",
            Self::NotChargeableYet { .. } => "not_chargeable_yet",
            Self::Chain(_) => "chain_unavailable",
            Self::Busy(_) => "overloaded",
        }
    }
}

/// What is asked.
#[derive(Clone, Copy, Debug)]
pub struct Ask {
    /// The payer.
    pub payer: Address,
    /// The key that signed the request.
    pub signer: Address,
    /// The license.
    pub license: U256,
    /// The accepted terms version.
    pub terms: u64,
    /// The dataset.
    pub manifest: B256,
    /// The manifest's creator.
    pub creator: Address,
}

/// What the chain says of an entitled payer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entitled {
    /// From when usage under the acceptance is chargeable.
    pub chargeable_from: u64,
    /// The block's time.
    pub chain_time: u64,
    /// What the terms are priced per.
    pub unit: Unit,
}

/// Reads entitlements from a deployment.
#[derive(Clone, Debug)]
pub struct Entitlements {
    provider: DynProvider,
    nft: Address,
    escrow: Address,
    confirmations: u64,
    /// Checks allowed at once: each costs several chain reads, and a request costs its sender
    /// only a signature (any number of fresh keys can sign), so their number is capped.
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
}

/// Checks in flight at once by default.
pub const MAX_IN_FLIGHT: usize = 32;

fn chain(e: impl std::fmt::Display) -> Refusal {
    Refusal::Chain(e.to_string())
}

impl Entitlements {
    /// Entitlements of the deployment of `nft` and `escrow`, read `confirmations` blocks below
    /// the head.
    /// At most [`MAX_IN_FLIGHT`] checks run at once (see [`Self::with_max_in_flight`]).
    pub fn new(provider: DynProvider, nft: Address, escrow: Address, confirmations: u64) -> Self {
        Self {
            provider,
            nft,
            escrow,
            confirmations,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            max_in_flight: MAX_IN_FLIGHT,
        }
    }

    /// The same, with at most `max` checks at once (more are refused with [`Refusal::Busy`]).
    #[must_use]
    pub fn with_max_in_flight(self, max: usize) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(max)),
            max_in_flight: max,
            ..self
        }
    }

    /// Decides `ask` (see the module's documentation).
    ///
    /// # Errors
    ///
    /// The [`Refusal`]: the first rule broken, [`Refusal::Chain`], or [`Refusal::Busy`] when as
    /// many checks as allowed are running.
    pub async fn check(&self, ask: &Ask) -> Result<Entitled, Refusal> {
        let _slot = self
            .in_flight
            .try_acquire()
            .map_err(|_| Refusal::Busy(self.max_in_flight))?;
        self.decide(ask).await
    }

    async fn decide(&self, ask: &Ask) -> Result<Entitled, Refusal> {
        let head = self.provider.get_block_number().await.map_err(chain)?;
        let number = head.saturating_sub(self.confirmations);
        let block = self
            .provider
            .get_block_by_number(number.into())
            .await
            .map_err(chain)?
            .ok_or_else(|| Refusal::Chain(format!("block {number} is missing")))?;
        let now = block.header.timestamp;
        let at = BlockId::number(number);
        let nft = LicenseNFT::new(self.nft, &self.provider);
        let escrow = TrainingEscrow::new(self.escrow, &self.provider);

        let record = match nft.license(ask.license).block(at).call().await {
            Ok(record) => record,
            Err(e) if classify_contract(&e) == RpcErrorKind::Reverted => {
                return Err(Refusal::UnknownLicense(ask.license))
            }
            Err(e) => return Err(chain(e)),
        };
        if record.manifestHash != ask.manifest {
            return Err(Refusal::OtherManifest {
                license: ask.license,
                covers: record.manifestHash,
                asked: ask.manifest,
            });
        }
        if record.creator != ask.creator {
            return Err(Refusal::NotTheCreators {
                license: ask.license,
                minter: record.creator,
                creator: ask.creator,
            });
        }
        let acceptance = escrow
            .acceptance(ask.payer, ask.license, ask.terms)
            .block(at)
            .call()
            .await
            .map_err(chain)?;
        if acceptance.acceptedAt == 0 {
            return Err(Refusal::NotAccepted {
                payer: ask.payer,
                license: ask.license,
                terms: ask.terms,
            });
        }
        let terms = nft.terms(ask.terms).block(at).call().await.map_err(chain)?;
        let unit = Unit::from_value(terms.unit).ok_or_else(|| {
            Refusal::Chain(format!("terms {} have unit {}", ask.terms, terms.unit))
        })?;
        let expires_at = terms.expiresAt.to::<u64>();
        if expires_at != 0 && now >= expires_at {
            return Err(Refusal::Expired {
                terms: ask.terms,
                expired_at: expires_at,
            });
        }
        let mut exclusive = terms.exclusiveLicensee;
        if record.termsId != ask.terms && exclusive == Address::ZERO {
            exclusive = nft
                .terms(record.termsId)
                .block(at)
                .call()
                .await
                .map_err(chain)?
                .exclusiveLicensee;
        }
        if exclusive != Address::ZERO && exclusive != ask.payer {
            return Err(Refusal::Exclusive {
                license: ask.license,
                licensee: exclusive,
            });
        }
        if ask.signer != ask.payer {
            let key = escrow
                .signerOf(ask.payer, ask.signer)
                .block(at)
                .call()
                .await
                .map_err(chain)?;
            let registered = key.registeredAt.to::<u64>();
            let revoked = key.revokedAt.to::<u64>();
            if registered == 0 || now < registered || (revoked != 0 && now >= revoked) {
                return Err(Refusal::Signer {
                    payer: ask.payer,
                    signer: ask.signer,
                });
            }
        }
        let chargeable_from = acceptance.chargeableFrom.to::<u64>();
        if unit == Unit::Access && now < chargeable_from {
            return Err(Refusal::NotChargeableYet {
                terms: ask.terms,
                chargeable_from,
            });
        }
        Ok(Entitled {
            chargeable_from,
            chain_time: now,
            unit,
        })
    }
}
