//! End-to-end tests of Fairtrain across its services. Everything lives in `tests/it/`: the
//! tests start a real anvil with the suite deployed by `contracts/script/Deploy.s.sol`, the real
//! `fairtrain-relayer`, `fairtrain` and `fairtrain-meter` binaries (built by
//! `cargo build --workspace` or `cargo test --workspace`), and the SDK's `Meter`, on SQLite and on
//! PostgreSQL. See tests/README.md for what each test proves.
