//! `deployments/<chainId>.json`: the one reader is [`fairtrain_protocol::Deployment`].

pub use fairtrain_protocol::{Deployment, DeploymentError};

impl From<DeploymentError> for crate::error::CliError {
    fn from(e: DeploymentError) -> Self {
        Self::Deployment {
            path: e.path,
            reason: e.reason,
        }
    }
}
