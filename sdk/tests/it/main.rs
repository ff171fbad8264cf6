//! Integration tests of the training-side meter: the journal on a real SQLite file, the meter
//! against an HTTP relayer that speaks the documented bulk API (`support::TestRelayer`, which
//! verifies signatures and cumulative counts like the real one), and the `fairtrain-meter`
//! binary killed with SIGKILL mid-run.
//!
//! The end-to-end tests with the real relayer, escrow and indexer live in `tests/` at the
//! repository root.

mod dataset;
mod journal;
mod meter;
mod process;
mod resume;
mod support;
