//! Integration tests of `fairtrain`: the creator and payer flows against a real anvil with the
//! suite deployed, through the library functions and through the built binary.

mod binary;
mod claim;
mod credit;
mod failures;
mod flow;
mod royalties;
mod support;
