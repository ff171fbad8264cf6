//! Fail points for crash tests: `FAIRTRAIN_FAILPOINT=<name>` makes the process stop dead (it
//! prints `failpoint <name> reached` to stderr and sleeps forever, waiting for the test to
//! `SIGKILL` it) the first time it reaches the named step. The steps: `ingest_before_commit`;
//! the batch's `batch_built`, `batch_signed`, `batch_broadcast`, `batch_sent`,
//! `batch_confirmed` (the batcher); the claim's `claim_signed`, `claim_broadcast`,
//! `claim_sent`, `claim_mined`, `claim_confirmed` (the claims module). It depends on nothing
//! else in the crate.

use std::sync::OnceLock;

fn configured() -> Option<&'static str> {
    static NAME: OnceLock<Option<String>> = OnceLock::new();
    NAME.get_or_init(|| std::env::var("FAIRTRAIN_FAILPOINT").ok())
        .as_deref()
}

/// Stops here forever if the fail point `name` is configured.
pub async fn hit(name: &str) {
    if configured() == Some(name) {
        eprintln!("failpoint {name} reached");
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    }
}
