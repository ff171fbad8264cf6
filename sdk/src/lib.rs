//! The training side of Fairtrain: a meter that training infrastructure embeds to pay for what
//! it samples.
//!
//! As a training job draws samples from licensed datasets it calls [`Meter::record`], which adds
//! them durably to a [`journal`] (SQLite) under their usage key (payer, license, terms version,
//! run). [`Meter::flush`] (or a background [`Meter::spawn_flusher`]) turns each key with
//! unreported samples into one *cumulative* EIP-712 receipt signed by the payer's registered
//! training key, and submits them in bulk to a relayer ([`relayer`]), which batches them on-chain.
//!
//! Cumulative receipts make the protocol forgiving: a lost or repeated receipt is harmless
//! because the next one covers everything before it, and the escrow pays only increments. The
//! meter adds the two guarantees the protocol cannot give: recorded usage is never lost across
//! crashes, and each count is signed once (a restart resends the same receipt).
//!
//! Before a run, [`verify_dataset`] checks the creator's signed manifest, the local files and the
//! license on-chain.
//!
//! ```no_run
//! # async fn example() -> fairtrain_sdk::Result<()> {
//! use alloy::{primitives::{address, keccak256, U256}, signers::local::PrivateKeySigner};
//! use fairtrain_protocol::EscrowDomain;
//! use fairtrain_sdk::{Meter, MeterConfig, Usage};
//!
//! let domain = EscrowDomain::new(31337, address!("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"));
//! let key: PrivateKeySigner = std::env::var("FAIRTRAIN_SIGNER_KEY").unwrap().parse().unwrap();
//! let payer = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
//! let meter = Meter::open(MeterConfig::new("usage.db", "http://127.0.0.1:8080", domain, payer, key)).await?;
//!
//! let usage = Usage { license_id: U256::from(1), terms_id: 1, run_id: keccak256("run-42") };
//! meter.record(usage, 512).await?; // after each minibatch
//! let report = meter.flush().await?;  // or Arc::new(meter).spawn_flusher(..)
//! assert!(report.refused.is_empty());
//! # Ok(()) }
//! ```

pub mod clock;
pub mod dataset;
pub mod error;
pub mod journal;
pub mod meter;
pub mod relayer;
pub mod tally;

pub use clock::{Clock, ManualClock, SystemClock};
pub use dataset::{open_dataset, verify_dataset, DatasetCheck, LicenseSource, OpenOptions, Opened};
pub use error::{Error, Result};
pub use journal::{Entry, Journal, Refusal, Usage};
pub use meter::{FlushReport, Meter, MeterConfig};
pub use relayer::{Outcome, RelayerClient, RetryPolicy};
pub use tally::{Position, Restart, Resumed, Tally};
