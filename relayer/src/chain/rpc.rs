//! Classifying RPC failures: what to retry, what means the transaction is already known, and
//! what is final.

/// How an RPC error should be handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RpcErrorKind {
    /// The node is down, slow or overloaded: retry later with backoff.
    Transient,
    /// The node already has this transaction (or one with its nonce was mined): not an error.
    AlreadyKnown,
    /// The nonce has been used: look for the mined transaction.
    NonceTooLow,
    /// A replacement was refused because its fees are too low: bump more.
    Underpriced,
    /// The transaction would revert: do not retry as is.
    Reverted,
    /// Anything else: retry later, and report it.
    Other,
}

/// Classifies an error message from a node or transport.
pub fn classify(message: &str) -> RpcErrorKind {
    let m = message.to_ascii_lowercase();
    if m.contains("already known")
        || m.contains("already imported")
        || m.contains("known transaction")
    {
        RpcErrorKind::AlreadyKnown
    } else if m.contains("nonce too low") || m.contains("nonce has already been used") {
        RpcErrorKind::NonceTooLow
    } else if m.contains("underpriced")
        || m.contains("fee too low")
        || m.contains("less than block base fee")
        || m.contains("fee cap less than")
    {
        RpcErrorKind::Underpriced
    } else if m.contains("revert") || m.contains("execution reverted") {
        RpcErrorKind::Reverted
    } else if m.contains("connection")
        || m.contains("timed out")
        || m.contains("timeout")
        || m.contains("error sending request")
        || m.contains("502")
        || m.contains("503")
        || m.contains("429")
        || m.contains("rate limit")
        || m.contains("eof")
        || m.contains("broken pipe")
    {
        RpcErrorKind::Transient
    } else {
        RpcErrorKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_common_node_messages() {
        assert_eq!(classify("already known"), RpcErrorKind::AlreadyKnown);
        assert_eq!(
            classify("nonce too low: next nonce 5, tx nonce 4"),
            RpcErrorKind::NonceTooLow
        );
        assert_eq!(
            classify("replacement transaction underpriced"),
            RpcErrorKind::Underpriced
        );
        assert_eq!(
            classify("execution reverted: 0x1234"),
            RpcErrorKind::Reverted
        );
        assert_eq!(
            classify("error sending request for url (http://127.0.0.1:1/)"),
            RpcErrorKind::Transient
        );
        assert_eq!(classify("something odd"), RpcErrorKind::Other);
    }
}
