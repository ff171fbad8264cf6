//! The real `fairtrain-relayer serve` for a [`Devnet`]: a configuration file written for the
//! devnet and a database, and the process with its stderr in a log file, a fail point armed if
//! asked, restarted and killed at will.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::{keys::KEYS, process::Proc, Devnet, TestDb};

/// The operator token every test relayer accepts.
pub const OPERATOR_TOKEN: &str = "operator-token-for-tests";

/// A relayer configuration file's settings (the chain's come from the [`Devnet`]).
#[derive(Clone, Debug)]
pub struct RelayerConfig {
    /// The port it serves on (127.0.0.1).
    pub port: u16,
    /// Its store.
    pub database_url: String,
    /// The URL it publishes batch data under (default: its own).
    pub public_url: Option<String>,
    /// Blocks deep a commit or a claim must be to count.
    pub confirmations: u64,
    /// Receipts per batch at most (batches are also cut one second after their oldest receipt).
    pub max_receipts: usize,
    /// Value per batch at most, in token units (a decimal string).
    pub max_value: String,
    /// TOML appended as is (e.g. a `[tx]` or `[limits]` table).
    pub extra: String,
}

impl RelayerConfig {
    /// Defaults for `db` on `port`: one confirmation, 1,000 receipts per batch.
    pub fn new(port: u16, db: &TestDb) -> Self {
        Self {
            port,
            database_url: db.url.clone(),
            public_url: None,
            confirmations: 1,
            max_receipts: 1_000,
            max_value: "1000000000000".to_owned(),
            extra: String::new(),
        }
    }

    /// Writes the file for `devnet` to `path`.
    ///
    /// # Panics
    ///
    /// If the file cannot be written.
    pub fn write(&self, devnet: &Devnet, path: &Path) {
        let port = self.port;
        let text = format!(
            r#"listen = "127.0.0.1:{port}"
database_url = "{db}"
rpc_url = "{rpc}"
chain_id = {chain_id}
escrow = "{escrow}"
license_nft = "{nft}"
start_block = {start}
public_url = "{public}"
confirmations = {confirmations}
poll_interval_ms = 100

[batch]
max_receipts = {max_receipts}
max_value = "{max_value}"
max_age_secs = 1
horizon_secs = 600
{extra}
"#,
            db = self.database_url,
            rpc = devnet.url,
            chain_id = crate::devnet::CHAIN_ID,
            escrow = devnet.deployment.training_escrow,
            nft = devnet.deployment.license_nft,
            start = devnet.deployment.start_block,
            public = self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://127.0.0.1:{port}")),
            confirmations = self.confirmations,
            max_receipts = self.max_receipts,
            max_value = self.max_value,
            extra = self.extra,
        );
        std::fs::write(path, text).expect("the relayer's configuration");
    }
}

/// Where the relayer process gets its signing key.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// anvil's account `i`, as `FAIRTRAIN_PRIVATE_KEY`.
    Anvil(usize),
    /// An encrypted keystore and a file holding its password.
    Keystore {
        /// The keystore.
        file: PathBuf,
        /// The password file.
        password_file: PathBuf,
    },
}

/// The `fairtrain-relayer serve` process; SIGKILLed on drop.
#[derive(Debug)]
pub struct RelayerProcess {
    exe: PathBuf,
    proc: Option<Proc>,
    key: KeySource,
    /// Its configuration file.
    pub config: PathBuf,
    log: PathBuf,
    /// Length of the log when the process was last started.
    log_start: usize,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl RelayerProcess {
    /// Starts `exe serve` with `config` (see [`RelayerConfig::write`]) serving on `port`, the
    /// key from `key`, stderr appended to `log`, and the fail point `failpoint` armed if any (the
    /// process stops dead there, for the test to [`Self::kill_at`] it). Does not wait for it:
    /// see [`Self::wait_ready`].
    pub fn start(
        exe: PathBuf,
        config: PathBuf,
        port: u16,
        key: KeySource,
        log: PathBuf,
        failpoint: Option<&str>,
    ) -> Self {
        let mut relayer = Self {
            exe,
            proc: None,
            key,
            config,
            log,
            log_start: 0,
            url: format!("http://127.0.0.1:{port}"),
        };
        relayer.spawn(failpoint);
        relayer
    }

    /// The scenario's relayer for `devnet`: `fairtrain-relayer serve` with the defaults of
    /// [`RelayerConfig::new`] over `db` on a free port, signing as anvil's account
    /// [`crate::scenario::RELAYER`] (the account the scenario's payer funds a credit line for),
    /// its configuration and log in the devnet's folder; waits until it is ready.
    ///
    /// # Panics
    ///
    /// If it is not ready within 60 s.
    pub async fn start_ready(devnet: &Devnet, db: &TestDb) -> Self {
        let port = crate::free_port();
        let config = devnet.dir.path().join("relayer.toml");
        RelayerConfig::new(port, db).write(devnet, &config);
        let relayer = Self::start(
            crate::bin("fairtrain-relayer"),
            config.clone(),
            port,
            KeySource::Anvil(crate::scenario::RELAYER),
            config.with_extension("log"),
            None,
        );
        relayer.wait_ready(60).await;
        relayer
    }

    /// Starts the process (again; the previous one must be stopped) with `failpoint` armed, if
    /// any.
    ///
    /// # Panics
    ///
    /// If the process cannot be started.
    pub fn spawn(&mut self, failpoint: Option<&str>) {
        self.log_start = self.log().len();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("the relayer's log");
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env("FAIRTRAIN_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env("RUST_LOG", "info")
            .env_remove("FAIRTRAIN_DATABASE_URL")
            .env_remove("FAIRTRAIN_RPC_URL")
            .env_remove("FAIRTRAIN_FAILPOINT")
            .env_remove("FAIRTRAIN_PRIVATE_KEY")
            .env_remove("FAIRTRAIN_KEYSTORE")
            .env_remove("FAIRTRAIN_KEYSTORE_PASSWORD")
            .env_remove("FAIRTRAIN_KEYSTORE_PASSWORD_FILE")
            .envs(failpoint.map(|f| ("FAIRTRAIN_FAILPOINT", f)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        match &self.key {
            KeySource::Anvil(i) => {
                cmd.env("FAIRTRAIN_PRIVATE_KEY", KEYS[*i]);
            }
            KeySource::Keystore {
                file,
                password_file,
            } => {
                cmd.arg("--keystore")
                    .arg(file)
                    .arg("--keystore-password-file")
                    .arg(password_file);
            }
        }
        self.proc = Some(Proc(cmd.spawn().expect("fairtrain-relayer starts")));
    }

    /// Waits up to `secs` seconds until it answers `/ready`.
    ///
    /// # Panics
    ///
    /// If it does not, with its log.
    pub async fn wait_ready(&self, secs: u64) {
        assert!(
            crate::wait_ready(&self.url, secs).await,
            "relayer not ready; log:\n{}",
            self.log()
        );
    }

    /// Its `/v1/status`.
    ///
    /// # Panics
    ///
    /// If it does not answer one.
    pub async fn status(&self) -> fairtrain_protocol::api::relayer::Status {
        status_at(&self.url).await
    }

    /// Waits (at most 30 s) until its chain follower has applied block `block`: until then it
    /// does not know of what happened there (an acceptance, a key), and refuses receipts that
    /// depend on it.
    ///
    /// # Panics
    ///
    /// If it does not get there, with its log.
    pub async fn wait_followed(&self, block: u64) {
        let url = &self.url;
        crate::poll(30, || async move {
            (status_at(url).await.followed_block >= block).then_some(())
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "the relayer never followed block {block}; log:\n{}",
                self.log()
            )
        });
    }

    /// Its log (stderr of every start).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most `secs`) until the log of the current start contains `text`.
    ///
    /// # Panics
    ///
    /// If it does not, with the log.
    pub async fn wait_log(&self, text: &str, secs: u64) {
        let found = crate::poll(secs, || async {
            self.log()
                .get(self.log_start..)
                .is_some_and(|l| l.contains(text))
                .then_some(())
        })
        .await;
        assert!(
            found.is_some(),
            "{text:?} not logged in {secs}s:\n{}",
            self.log()
        );
    }

    /// Waits until the process stopped at `failpoint`, then SIGKILLs it (no cleanup of any
    /// kind).
    pub async fn kill_at(&mut self, failpoint: &str) {
        self.wait_log(&format!("failpoint {failpoint} reached"), 60)
            .await;
        self.kill();
    }

    /// SIGKILL (no cleanup of any kind).
    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    /// A command running the operator CLI (`exe --config … <args>`) on this relayer's store and
    /// configuration, with its key.
    pub fn operator(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("FAIRTRAIN_DATABASE_URL");
        if let KeySource::Anvil(i) = self.key {
            cmd.env("FAIRTRAIN_PRIVATE_KEY", KEYS[i]);
        }
        cmd
    }
}

/// The `/v1/status` of the relayer at `url`.
///
/// # Panics
///
/// If it does not answer one.
pub async fn status_at(url: &str) -> fairtrain_protocol::api::relayer::Status {
    reqwest::get(format!("{url}/v1/status"))
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("the relayer answers /v1/status")
        .json()
        .await
        .expect("a relayer status")
}
