//! Requests and responses of the relayer's HTTP API (`/v1/...`); see `docs/relayer.md`.
