//! The `fairtrain-gateway` binary on a devnet: a SQLite database and a blob folder (or a bucket
//! of an S3 server) in the devnet's folder, a free port, waited for until ready.

use std::path::PathBuf;

use crate::{
    bin, free_port,
    process::Proc,
    s3::{S3Server, BUCKET},
    wait_ready, Devnet,
};

/// A running gateway, killed on drop.
pub struct GatewayProcess {
    /// Its URL (also its public URL).
    pub url: String,
    /// Its blob folder (content-addressed files: `<first two hex digits>/<hash hex>`), unused
    /// when its blobs are in a bucket.
    pub blobs: PathBuf,
    _process: Proc,
}

impl GatewayProcess {
    /// Publishes the dataset in `data` with its signed `manifest` through the real CLI
    /// (`fairtrain dataset publish`) with `account`'s key; returns what the CLI printed.
    ///
    /// # Panics
    ///
    /// If the CLI fails.
    pub fn publish(
        &self,
        devnet: &Devnet,
        account: usize,
        data: &std::path::Path,
        manifest: &std::path::Path,
    ) -> String {
        let (data, manifest) = (data.display().to_string(), manifest.display().to_string());
        devnet.cli(
            account,
            &[
                "dataset",
                "publish",
                &data,
                "--manifest",
                &manifest,
                "--gateway",
                &self.url,
            ],
        )
    }

    /// Starts a gateway for `devnet`'s deployment, its blobs in a folder, and waits until it is
    /// ready.
    ///
    /// # Panics
    ///
    /// If it does not start or get ready within 30 s.
    pub async fn start(devnet: &Devnet) -> Self {
        Self::start_on(devnet, None).await
    }

    /// [`start`](Self::start), with the blobs in the bucket of `s3` (under the prefix
    /// `gateway/`) when given.
    ///
    /// # Panics
    ///
    /// If it does not start or get ready within 30 s.
    pub async fn start_on(devnet: &Devnet, s3: Option<&S3Server>) -> Self {
        Self::start_with(devnet, s3, None).await
    }

    /// [`start_on`](Self::start_on), forwarding the receipts of datasets priced per access to
    /// the relayer at `relayer` (`--relayer`), when given.
    ///
    /// # Panics
    ///
    /// If it does not start or get ready within 30 s.
    pub async fn start_with(devnet: &Devnet, s3: Option<&S3Server>, relayer: Option<&str>) -> Self {
        let url = format!("http://127.0.0.1:{}", free_port());
        let dir = devnet.dir.path();
        let blobs = dir.join("gateway-blobs");
        let mut command = devnet.command(bin("fairtrain-gateway"), None);
        match s3 {
            Some(s3) => {
                command
                    .envs(s3.env())
                    .env("STORAGE", format!("s3://{BUCKET}/gateway"));
            }
            None => {
                command.env("STORAGE", &blobs);
            }
        }
        if let Some(relayer) = relayer {
            command.env("RELAYER_URL", relayer);
        }
        let process = Proc(
            command
                .env("RPC_URL", &devnet.url)
                .env("DEPLOYMENT", devnet.deployment_file())
                .env("LISTEN", url.trim_start_matches("http://"))
                .env(
                    "DATABASE_URL",
                    format!("sqlite://{}", dir.join("gateway.db").display()),
                )
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("the gateway starts"),
        );
        assert!(wait_ready(&url, 30).await, "the gateway is ready at {url}");
        Self {
            url,
            blobs,
            _process: process,
        }
    }
}
