//! The deployment to follow, as written by `contracts/script/Deploy.s.sol`.

use std::path::Path;

use alloy::primitives::Address;
use serde::Deserialize;

use crate::{Error, Result};

/// Addresses and start block of one Fairtrain deployment (`deployments/<chainId>.json`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Chain id.
    pub chain_id: u64,
    /// Block of the deployment: nothing before it is of interest.
    pub start_block: u64,
    /// `LicenseNFT` address.
    #[serde(rename = "licenseNFT")]
    pub license_nft: Address,
    /// `TrainingEscrow` address.
    pub training_escrow: Address,
    /// Payment tokens allowed at deployment.
    #[serde(default)]
    pub payment_tokens: Vec<Address>,
}

impl Deployment {
    /// Reads a deployment file.
    pub fn load(path: &Path) -> Result<Self> {
        let err = |message: String| Error::Deployment {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| err(e.to_string()))
    }

    /// The followed contracts.
    pub fn addresses(&self) -> [Address; 2] {
        [self.license_nft, self.training_escrow]
    }
}
