//! The gateway against real components: SQLite, the blob folder, an S3-compatible server (s3s-fs), anvil with the suite deployed
//! (entitlements), and the protocol's gateway client. `harness` starts a gateway in-process.

mod access;
mod harness;
mod pay;
mod publish;
mod storage;
