//! Option structs shared by the subcommands, flattened into [`crate::Cli`]. Doc comments are
//! the help text.

use std::path::PathBuf;

use alloy::signers::local::PrivateKeySigner;
use clap::Args;

use crate::error::{CliError, Result};

/// Where the chain is and which deployment to use.
#[derive(Clone, Debug, Args)]
pub struct RpcOpts {
    /// JSON-RPC endpoint of the chain (http or https).
    #[arg(
        long,
        env = "FAIRTRAIN_RPC_URL",
        default_value = "http://127.0.0.1:8545",
        global = true
    )]
    pub rpc_url: String,
    /// Deployment file with the contract addresses [default: deployments/<chainId>.json].
    #[arg(long, env = "FAIRTRAIN_DEPLOYMENT", global = true)]
    pub deployment: Option<PathBuf>,
}

impl RpcOpts {
    /// Options for `rpc_url` with an explicit deployment file.
    pub fn new(rpc_url: impl Into<String>, deployment: Option<PathBuf>) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            deployment,
        }
    }
}

/// The key that signs transactions and manifests.
#[derive(Clone, Debug, Default, Args)]
pub struct KeyOpts {
    /// Hex private key of the account acting (creator or payer).
    #[arg(
        long,
        env = "FAIRTRAIN_PRIVATE_KEY",
        hide_env_values = true,
        global = true,
        conflicts_with = "keystore"
    )]
    pub private_key: Option<String>,
    /// Encrypted JSON keystore of the account acting; its password is read from
    /// FAIRTRAIN_KEYSTORE_PASSWORD.
    #[arg(long, env = "FAIRTRAIN_KEYSTORE", global = true)]
    pub keystore: Option<PathBuf>,
    /// Password of --keystore.
    #[arg(
        long,
        env = "FAIRTRAIN_KEYSTORE_PASSWORD",
        hide_env_values = true,
        hide = true,
        global = true
    )]
    pub keystore_password: Option<String>,
}

impl KeyOpts {
    /// Options for a hex private key.
    pub fn private_key(key: impl Into<String>) -> Self {
        Self {
            private_key: Some(key.into()),
            ..Self::default()
        }
    }

    /// The signer, if a key was given.
    ///
    /// # Errors
    ///
    /// [`CliError::Key`] if the key is malformed or the keystore cannot be decrypted.
    pub fn signer(&self) -> Result<Option<PrivateKeySigner>> {
        if let Some(key) = &self.private_key {
            let signer = key.trim().parse::<PrivateKeySigner>().map_err(|e| {
                CliError::Key(format!("--private-key is not a hex private key ({e})"))
            })?;
            return Ok(Some(signer));
        }
        if let Some(path) = &self.keystore {
            let password = self.keystore_password.as_deref().ok_or_else(|| {
                CliError::Key("--keystore needs its password in FAIRTRAIN_KEYSTORE_PASSWORD".into())
            })?;
            let signer = PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| {
                CliError::Key(format!("cannot decrypt keystore {}: {e}", path.display()))
            })?;
            return Ok(Some(signer));
        }
        Ok(None)
    }

    /// The signer, required.
    ///
    /// # Errors
    ///
    /// [`CliError::NoKey`] if no key was given, or see [`Self::signer`].
    pub fn require(&self) -> Result<PrivateKeySigner> {
        self.signer()?.ok_or(CliError::NoKey)
    }
}

/// Options every command takes.
#[derive(Clone, Debug, Args)]
pub struct GlobalOpts {
    /// Chain and deployment.
    #[command(flatten)]
    pub rpc: RpcOpts,
    /// Signing key.
    #[command(flatten)]
    pub key: KeyOpts,
    /// Print JSON instead of text (for scripts); errors too, on stdout.
    #[arg(long, global = true)]
    pub json: bool,
}
