//! Integration tests of `fairtrain-protocol` (one test binary for the crate).

mod fixture;
mod interop;
mod manifest_interop;
