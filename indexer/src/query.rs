//! The questions the API, CLI and dashboard ask.
