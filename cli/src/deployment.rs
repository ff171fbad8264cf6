//! `deployments/<chainId>.json`, written by `contracts/script/Deploy.s.sol`.

use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use serde::Deserialize;

use crate::error::{CliError, Result};

/// The addresses and parameters of one deployment of the suite.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The chain deployed to.
    pub chain_id: u64,
    /// The `LicenseNFT`.
    #[serde(rename = "licenseNFT")]
    pub license_nft: Address,
    /// The `TrainingEscrow`.
    pub training_escrow: Address,
    /// The `RoyaltyStreams` (absent from deployments made before streams existed).
    #[serde(default)]
    pub royalty_streams: Option<Address>,
    /// The `RevenuePoolFactory` (absent from deployments made before pools existed).
    #[serde(default)]
    pub revenue_pool_factory: Option<Address>,
    /// Tokens the escrow allowed at deployment.
    pub payment_tokens: Vec<Address>,
    /// The block of the deployment: where log queries start.
    pub start_block: u64,
    /// The escrow's notice period at deployment, in seconds.
    #[serde(default)]
    pub notice_period: u64,
    /// The platform fee at deployment, in basis points.
    #[serde(default)]
    pub fee_bps: u16,
}

impl Deployment {
    /// Where the deployment of `chain_id` is by default: `deployments/<chainId>.json` under the
    /// current folder.
    pub fn default_path(chain_id: u64) -> PathBuf {
        PathBuf::from(format!("deployments/{chain_id}.json"))
    }

    /// Reads a deployment file.
    ///
    /// # Errors
    ///
    /// [`CliError::Deployment`] if the file cannot be read or parsed.
    pub fn load(path: &Path) -> Result<Self> {
        let fail = |reason: String| CliError::Deployment {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        serde_json::from_slice(&text).map_err(|e| fail(e.to_string()))
    }

    /// Reads `path`, or the default path of `chain_id`, and checks it is for `chain_id`.
    ///
    /// # Errors
    ///
    /// [`CliError::Deployment`] if it cannot be read, or is for another chain.
    pub fn resolve(path: Option<&Path>, chain_id: u64) -> Result<Self> {
        let path = path.map_or_else(|| Self::default_path(chain_id), Path::to_owned);
        let deployment = Self::load(&path)?;
        if deployment.chain_id != chain_id {
            return Err(CliError::Deployment {
                path,
                reason: format!(
                    "it is for chain {}, but the RPC node is chain {chain_id}",
                    deployment.chain_id
                ),
            });
        }
        Ok(deployment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_devnet_deployment() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deployments/31337.json");
        let d = Deployment::resolve(Some(&path), 31337).unwrap();
        assert_eq!(d.payment_tokens.len(), 1);
        assert_ne!(d.license_nft, d.training_escrow);
        assert!(d.royalty_streams.is_some() && d.revenue_pool_factory.is_some());
        assert!(matches!(
            Deployment::resolve(Some(&path), 1),
            Err(CliError::Deployment { .. })
        ));
        assert!(matches!(
            Deployment::resolve(Some(Path::new("/nonexistent.json")), 1),
            Err(CliError::Deployment { .. })
        ));
    }
}
