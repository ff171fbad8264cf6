//! The Fairtrain test kit, shared by the Rust test suites of the relayer, the indexer, the CLI
//! and the end-to-end tests (a dev-dependency only, never published):
//!
//! - [`keys`]: anvil's well-known development keys and their addresses, defined once.
//! - [`devnet`]: a fresh anvil per test with the suite deployed (`contracts/script/Deploy.s.sol`,
//!   run once per test process, its state loaded into each node), the typed
//!   [`fairtrain_protocol::Deployment`] and the deployment file; time travel and restarts.
//! - [`db`]: a fresh database per test, a SQLite file or a new PostgreSQL database.
//! - [`process`]: the project's binaries as child processes, free ports, polling helpers.
//! - [`relayer`]: the `fairtrain-relayer` binary with a configuration written for a devnet.
//! - [`gateway`]: the `fairtrain-gateway` binary on a devnet.
//! - [`s3`]: a real S3-compatible server (s3s-fs) for the gateway's object storage.
//! - [`scenario`]: the licensed, funded payer the end-to-end suites start from.
//! - [`proxy`]: RPC proxies in front of a node (a range-limiting one, a slow one).
//! - [`golden`]: generated files committed to the repository, checked against the code.
//! - [`mined!`]: send a contract call and wait for its receipt.

pub mod db;
pub mod devnet;
pub mod gateway;
pub mod golden;
pub mod keys;
pub mod process;
pub mod proxy;
pub mod relayer;
pub mod s3;
pub mod scenario;

use std::path::{Path, PathBuf};

pub use db::{Backend, TestDb};
pub use devnet::Devnet;
pub use keys::{address, key, KEYS};
pub use process::{bin, eventually, free_port, poll, wait_ready, Proc};

/// Sends a contract call and waits until it is mined, panicking if either fails:
/// `mined!(escrow.deposit(token, amount).from(payer))`.
///
/// The gas limit is the node's estimate plus a quarter, as the relayer sends. The node estimates
/// at the head's state and time, to within a small tolerance; a call whose gas depends on the
/// block's time (`commitBatch` writes `reservedUntil` only when it grows) can need a little more
/// in the block that includes it, and with the bare estimate it would, now and then, run out of
/// gas there.
#[macro_export]
macro_rules! mined {
    // `match` keeps the call's temporaries (the contract instance it borrows) alive throughout.
    ($call:expr) => {
        match $call {
            call => {
                let gas = call
                    .estimate_gas()
                    .await
                    .expect("the transaction's gas is estimated");
                call.gas(gas + gas / 4)
                    .send()
                    .await
                    .expect("the transaction is sent")
                    .get_receipt()
                    .await
                    .expect("the transaction is mined")
            }
        }
    };
}

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the test kit lives in the repository")
        .to_path_buf()
}

/// A tool installed by `./scripts/setup` in `node_modules/.bin` (`anvil`, `forge`, `cast`).
pub fn tool(name: &str) -> PathBuf {
    root().join("node_modules/.bin").join(name)
}

/// Runs `fut` to completion on a runtime of its own, on a thread of its own: for work a test
/// needs from synchronous code (set-up shared by a test process, `Drop`), whether or not the
/// caller runs inside a Tokio runtime.
pub(crate) fn block_on<T: Send + 'static>(
    fut: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a Tokio runtime")
            .block_on(fut)
    })
    .join()
    .expect("the helper thread finishes")
}
