//! The deployment to follow: the one reader is [`fairtrain_protocol::Deployment`].

pub use fairtrain_protocol::{Deployment, DeploymentError};

impl From<DeploymentError> for crate::Error {
    fn from(e: DeploymentError) -> Self {
        Self::Deployment {
            path: e.path.display().to_string(),
            message: e.reason,
        }
    }
}
