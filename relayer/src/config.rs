//! Relayer configuration: a TOML file, then `FAIRTRAIN_*` environment variables on top.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use alloy::{
    primitives::{Address, U256},
    signers::local::PrivateKeySigner,
};
use serde::Deserialize;

use crate::key::{self, KeyError, Password};

/// Everything the relayer needs to run. See `relayer/README.md` for each field.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP API listens on.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// `sqlite://path` (WAL, created if missing) or `postgres://...`.
    pub database_url: String,
    /// JSON-RPC endpoint of the chain.
    pub rpc_url: String,
    /// Chain id (checked against the RPC at start).
    pub chain_id: u64,
    /// The `TrainingEscrow` address.
    pub escrow: Address,
    /// The `LicenseNFT` address (license holders are followed from its `Transfer` events).
    pub license_nft: Address,
    /// First block to follow events from (the deployment block).
    #[serde(default)]
    pub start_block: u64,
    /// Hex private key of the relayer account (better given as `FAIRTRAIN_PRIVATE_KEY`, or as
    /// a keystore).
    #[serde(default)]
    pub private_key: Option<String>,
    /// Encrypted JSON keystore (foundry's or geth's format) holding the relayer's key, which
    /// the relayer decrypts itself (see [`crate::key`]); instead of `private_key`.
    #[serde(default)]
    pub keystore: Option<PathBuf>,
    /// File holding the keystore's password (else `FAIRTRAIN_KEYSTORE_PASSWORD`, else a prompt
    /// on a terminal).
    #[serde(default)]
    pub keystore_password_file: Option<PathBuf>,
    /// Bearer token of the operator endpoints (better given as `FAIRTRAIN_OPERATOR_TOKEN`).
    #[serde(default)]
    pub operator_token: Option<String>,
    /// Base URL under which the batch data is published (`{public_url}/v1/data/{hash}`).
    #[serde(default = "defaults::public_url")]
    pub public_url: String,
    /// Blocks a commit must be buried under before it counts as confirmed, and how far behind
    /// the head the chain follower stays.
    #[serde(default = "defaults::confirmations")]
    pub confirmations: u64,
    /// Blocks of hashes (and of logs) the chain follower keeps to follow a reorganisation:
    /// the deepest one it unwinds. Deeper ones stop it (see docs/relayer.md).
    #[serde(default = "defaults::reorg_window")]
    pub reorg_window: u64,
    /// How often the follower and the batcher poll the chain, in milliseconds.
    #[serde(default = "defaults::poll_ms")]
    pub poll_interval_ms: u64,
    /// Batching thresholds.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Transaction management.
    #[serde(default)]
    pub tx: TxConfig,
    /// Input limits.
    #[serde(default)]
    pub limits: Limits,
}

/// When to cut a batch: whichever threshold is reached first.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Most receipts in one batch; a batch is cut as soon as this many are pending.
    pub max_receipts: usize,
    /// Pending value (token base units, all tokens summed) that cuts a batch.
    pub max_value: U256,
    /// Age of the oldest pending receipt that cuts a batch, in seconds.
    pub max_age_secs: u64,
    /// How far ahead (seconds) a signer revocation must be for the relayer to rely on the key, and
    /// within which a credit line that becomes releasable is priced over settled counts alone:
    /// at least the time a receipt may wait for a commit.
    pub horizon_secs: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_receipts: 10_000,
            max_value: U256::from(1_000_000_000_000u64),
            max_age_secs: 60,
            horizon_secs: 600,
        }
    }
}

/// How transactions are priced, bumped and followed. Fields left out of the `[tx]` table keep
/// their defaults.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TxConfig {
    /// Seconds without inclusion after which a transaction is replaced with higher fees.
    pub bump_after_secs: u64,
    /// Percent added to both fee caps at each bump (at least 10, the replacement rule).
    pub bump_percent: u64,
    /// Ceiling of `maxFeePerGas`, in wei; bumps stop there.
    pub max_fee_per_gas: u128,
    /// Receipts per claim transaction when claiming for payees.
    pub claims_per_tx: usize,
    /// Claim transactions signed and not yet confirmed at any one time (consecutive nonces).
    /// Keep it within the node's per-account mempool limit (16 on geth's defaults).
    pub max_claims_in_flight: usize,
}

impl Default for TxConfig {
    fn default() -> Self {
        Self {
            bump_after_secs: 30,
            bump_percent: 25,
            max_fee_per_gas: 500_000_000_000,
            claims_per_tx: 100,
            max_claims_in_flight: defaults::max_claims_in_flight(),
        }
    }
}

/// Limits on what clients may send and on what one answer holds. Fields left out of the
/// `[limits]` table keep their defaults.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most receipts in one bulk submission.
    pub max_bulk: usize,
    /// Receipts per second a signer may submit (sustained).
    pub signer_rate: u32,
    /// Receipts a signer may submit in a burst.
    pub signer_burst: u32,
    /// Most receipts in one page of a proofs answer (`?limit=` is clamped to it).
    pub max_proofs_page: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 << 20,
            max_bulk: 10_000,
            signer_rate: 50_000,
            signer_burst: 100_000,
            max_proofs_page: 1_000,
        }
    }
}

mod defaults {
    use std::net::SocketAddr;

    pub(super) fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    }
    pub(super) fn public_url() -> String {
        "http://127.0.0.1:8080".to_owned()
    }
    pub(super) const fn confirmations() -> u64 {
        1
    }
    pub(super) const fn poll_ms() -> u64 {
        500
    }
    pub(super) const fn reorg_window() -> u64 {
        256
    }
    pub(super) const fn max_claims_in_flight() -> usize {
        16
    }
}

/// A configuration that cannot be loaded or is inconsistent.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`Config`].
    #[error("invalid config: {0}")]
    Parse(#[from] toml::de::Error),
    /// An environment variable has an invalid value.
    #[error("invalid environment variable {name}: {reason}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid config: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads `path` (if given) and applies the environment (`FAIRTRAIN_DATABASE_URL`,
    /// `FAIRTRAIN_RPC_URL`, `FAIRTRAIN_LISTEN`, `FAIRTRAIN_PRIVATE_KEY`,
    /// `FAIRTRAIN_OPERATOR_TOKEN`, `FAIRTRAIN_PUBLIC_URL`, `FAIRTRAIN_ESCROW`,
    /// `FAIRTRAIN_LICENSE_NFT`, `FAIRTRAIN_KEYSTORE`, `FAIRTRAIN_KEYSTORE_PASSWORD_FILE`,
    /// `FAIRTRAIN_CHAIN_ID`, `FAIRTRAIN_START_BLOCK`), then validates.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the file cannot be read or parsed or a value is invalid.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?,
            None => String::new(),
        };
        let mut table: toml::Table = toml::from_str(&text)?;
        for (var, key) in [
            ("FAIRTRAIN_DATABASE_URL", "database_url"),
            ("FAIRTRAIN_RPC_URL", "rpc_url"),
            ("FAIRTRAIN_LISTEN", "listen"),
            ("FAIRTRAIN_PRIVATE_KEY", "private_key"),
            ("FAIRTRAIN_OPERATOR_TOKEN", "operator_token"),
            ("FAIRTRAIN_PUBLIC_URL", "public_url"),
            ("FAIRTRAIN_ESCROW", "escrow"),
            ("FAIRTRAIN_LICENSE_NFT", "license_nft"),
            ("FAIRTRAIN_KEYSTORE", "keystore"),
            ("FAIRTRAIN_KEYSTORE_PASSWORD_FILE", "keystore_password_file"),
        ] {
            if let Ok(value) = std::env::var(var) {
                table.insert(key.to_owned(), toml::Value::String(value));
            }
        }
        for (var, key) in [
            ("FAIRTRAIN_CHAIN_ID", "chain_id"),
            ("FAIRTRAIN_START_BLOCK", "start_block"),
        ] {
            if let Ok(value) = std::env::var(var) {
                let n: i64 = value.parse().map_err(|_| ConfigError::Env {
                    name: var,
                    reason: format!("not an integer: {value}"),
                })?;
                table.insert(key.to_owned(), toml::Value::Integer(n));
            }
        }
        let config: Self = table.try_into()?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but make no sense.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the first bad value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |s: &str| Err(ConfigError::Invalid(s.to_owned()));
        if !(self.database_url.starts_with("sqlite:") || self.database_url.starts_with("postgres"))
        {
            return bad("database_url must start with sqlite: or postgres:");
        }
        if self.batch.max_receipts == 0 || self.batch.max_receipts > u32::MAX as usize {
            return bad("batch.max_receipts must be between 1 and 2^32-1");
        }
        if self.tx.bump_percent < 10 {
            return bad("tx.bump_percent must be at least 10 (nodes refuse smaller replacements)");
        }
        if self.limits.max_bulk == 0
            || self.limits.max_proofs_page == 0
            || self.tx.claims_per_tx == 0
            || self.tx.max_claims_in_flight == 0
        {
            return bad(
                "limits.max_bulk, limits.max_proofs_page, tx.claims_per_tx and \
                 tx.max_claims_in_flight must be positive",
            );
        }
        if self.reorg_window == 0 {
            return bad("reorg_window must be at least 1");
        }
        if self.limits.signer_rate == 0 || self.limits.signer_burst == 0 {
            return bad("limits.signer_rate and limits.signer_burst must be positive");
        }
        if self.private_key.is_some() && self.keystore.is_some() {
            return Err(ConfigError::Invalid(KeyError::Both.to_string()));
        }
        if let Some(key) = &self.private_key {
            key.parse::<PrivateKeySigner>()
                .map_err(|_| ConfigError::Invalid(KeyError::InvalidKey.to_string()))?;
        }
        if self.operator_token.as_deref().is_some_and(|t| t.len() < 16) {
            return bad("operator_token must be at least 16 characters");
        }
        Ok(())
    }

    /// The relayer's signing key, if configured: the hex `private_key`, or the `keystore`
    /// decrypted with its password (from `keystore_password_file`, `FAIRTRAIN_KEYSTORE_PASSWORD`
    /// or a prompt on a terminal).
    ///
    /// # Errors
    ///
    /// [`KeyError`] when the key is invalid or the keystore cannot be opened (a wrong password
    /// is [`KeyError::WrongPassword`]).
    pub fn signer(&self) -> Result<Option<PrivateKeySigner>, KeyError> {
        match (&self.private_key, &self.keystore) {
            (Some(_), Some(_)) => Err(KeyError::Both),
            (Some(hex), None) => hex.parse().map(Some).map_err(|_| KeyError::InvalidKey),
            (None, Some(path)) => {
                let password = Password::from_env(self.keystore_password_file.as_deref());
                key::decrypt(path, &password).map(Some)
            }
            (None, None) => Ok(None),
        }
    }

    /// The poll interval as a [`Duration`].
    pub const fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
database_url = "sqlite://relayer.db"
rpc_url = "http://127.0.0.1:8545"
chain_id = 31337
escrow = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
license_nft = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.listen.port(), 8080);
        assert_eq!(c.batch.max_receipts, 10_000);
        assert_eq!(c.tx.bump_percent, 25);
        assert!(c.signer().unwrap().is_none());
    }

    #[test]
    fn file_loads_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relayer.toml");
        std::fs::write(&path, MINIMAL).unwrap();
        assert_eq!(Config::load(Some(&path)).unwrap().chain_id, 31337);
        assert!(matches!(
            Config::load(Some(&dir.path().join("missing.toml"))),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            ("database_url = \"mysql://x\"", "database_url"),
            ("[tx]\nbump_after_secs = 1\nbump_percent = 5\nmax_fee_per_gas = 1\nclaims_per_tx = 1", "bump_percent"),
            ("operator_token = \"short\"", "operator_token"),
            ("private_key = \"0x1234\"", "private_key"),
            ("[batch]\nmax_receipts = 0\nmax_value = \"1\"\nmax_age_secs = 1\nhorizon_secs = 1", "max_receipts"),
        ];
        for (extra, what) in cases {
            let text = if extra.starts_with("database_url") {
                MINIMAL.replace("database_url = \"sqlite://relayer.db\"", extra)
            } else if extra.starts_with('[') {
                format!("{MINIMAL}\n{extra}\n")
            } else {
                format!("{extra}\n{MINIMAL}")
            };
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(what), "{what}: {err}");
        }
        assert!(matches!(
            parse("chain_id = \"x\""),
            Err(ConfigError::Parse(_))
        ));
        assert!(parse(&format!("{MINIMAL}\nunknown_key = 1")).is_err());
    }
}
