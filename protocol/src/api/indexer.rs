//! Responses of the indexer's HTTP API (`/api/...`); see `indexer/README.md`.
