//! The deployment file, `deployments/<chainId>.json`, written by `contracts/script/Deploy.s.sol`:
//! the addresses and parameters of one deployment of the suite. Every client (relayer, indexer,
//! CLI, SDK, tests) reads it with [`Deployment::load`] or [`Deployment::resolve`].

use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

use crate::EscrowDomain;

/// The addresses and parameters of one deployment of the suite.
///
/// Fields added to the suite after its first deployments (streams, pools, the escrow's
/// parameters) are optional or default to zero, so older files still read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The chain deployed to.
    pub chain_id: u64,
    /// The block of the deployment: where log queries start.
    pub start_block: u64,
    /// The `LicenseNFT`.
    #[serde(rename = "licenseNFT")]
    pub license_nft: Address,
    /// The `TrainingEscrow`.
    pub training_escrow: Address,
    /// The `RoyaltyStreams` (absent from deployments made before streams existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub royalty_streams: Option<Address>,
    /// The `RevenuePoolFactory` (absent from deployments made before pools existed); the pools
    /// it creates are found from its `PoolCreated` events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue_pool_factory: Option<Address>,
    /// Tokens the escrow allowed at deployment.
    #[serde(default)]
    pub payment_tokens: Vec<Address>,
    /// The escrow's owner at deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Address>,
    /// The escrow's notice period at deployment, in seconds.
    #[serde(default)]
    pub notice_period: u64,
    /// The escrow's claim window at deployment, in seconds.
    #[serde(default)]
    pub claim_window: u64,
    /// The platform fee at deployment, in basis points.
    #[serde(default)]
    pub fee_bps: u16,
}

/// A deployment file that cannot be used, with the path and the reason.
#[derive(Debug, thiserror::Error)]
#[error("deployment file {}: {reason}", path.display())]
pub struct DeploymentError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
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
    /// [`DeploymentError`] if the file cannot be read or is not a deployment.
    pub fn load(path: &Path) -> Result<Self, DeploymentError> {
        let fail = |reason: String| DeploymentError {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        serde_json::from_slice(&text).map_err(|e| fail(e.to_string()))
    }

    /// Reads `path`, or the default path of `chain_id`, and checks it is for `chain_id` (the
    /// chain the caller's RPC node serves).
    ///
    /// # Errors
    ///
    /// [`DeploymentError`] if it cannot be read, or is for another chain.
    pub fn resolve(path: Option<&Path>, chain_id: u64) -> Result<Self, DeploymentError> {
        let path = path.map_or_else(|| Self::default_path(chain_id), Path::to_owned);
        let deployment = Self::load(&path)?;
        if deployment.chain_id != chain_id {
            return Err(DeploymentError {
                path,
                reason: format!(
                    "it is for chain {}, but the RPC node is chain {chain_id}",
                    deployment.chain_id
                ),
            });
        }
        Ok(deployment)
    }

    /// The EIP-712 domain receipts of this deployment are signed under.
    pub fn domain(&self) -> EscrowDomain {
        EscrowDomain::new(self.chain_id, self.training_escrow)
    }

    /// The contracts of fixed address, in a stable order (license, escrow, then streams and the
    /// pool factory where deployed); pools are created later and found from events.
    pub fn addresses(&self) -> Vec<Address> {
        let mut addresses = vec![self.license_nft, self.training_escrow];
        addresses.extend(self.royalty_streams);
        addresses.extend(self.revenue_pool_factory);
        addresses
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devnet() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deployments/31337.json")
    }

    #[test]
    fn reads_the_devnet_deployment_and_checks_its_chain() {
        let d = Deployment::resolve(Some(&devnet()), 31337).unwrap();
        assert_eq!(d.payment_tokens.len(), 1);
        assert_ne!(d.license_nft, d.training_escrow);
        assert!(d.royalty_streams.is_some() && d.revenue_pool_factory.is_some());
        assert_eq!(d.addresses().len(), 4);
        assert_eq!(d.domain().verifying_contract(), d.training_escrow);
        let other = Deployment::resolve(Some(&devnet()), 1).unwrap_err();
        assert!(other.reason.contains("chain 31337"), "{other}");
        let missing = Deployment::resolve(Some(Path::new("/nonexistent.json")), 1).unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent.json"),
            "{missing}"
        );
    }

    #[test]
    fn reads_a_file_written_before_streams_pools_and_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1.json");
        std::fs::write(
            &path,
            r#"{"chainId":1,"startBlock":7,"licenseNFT":"0x5FbDB2315678afecb367f032d93F642f64180aa3","trainingEscrow":"0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512","paymentTokens":[]}"#,
        )
        .unwrap();
        let d = Deployment::load(&path).unwrap();
        assert_eq!((d.start_block, d.notice_period, d.fee_bps), (7, 0, 0));
        assert_eq!(d.addresses().len(), 2);
        std::fs::write(&path, r#"{"chainId":1}"#).unwrap();
        let err = Deployment::load(&path).unwrap_err();
        assert!(err.reason.contains("missing field"), "{err}");
    }
}
