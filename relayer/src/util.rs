//! Small helpers shared by the modules.

use alloy::primitives::hex;

/// Unix time in seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `0x`-prefixed lowercase hex of `bytes`.
pub fn hex0x(bytes: impl AsRef<[u8]>) -> String {
    hex::encode_prefixed(bytes)
}
