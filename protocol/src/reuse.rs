//! The reuse signals of licensed data, as the web's machine-readable conventions say them: the
//! data gateway sends them with every file, and the indexer puts them in the descriptions it
//! exports (docs/gateway.md §5, docs/indexer.md "Descriptions").

/// The IETF AI-preferences (draft-ietf-aipref-vocab, carried in the `Content-Usage` header of
/// draft-ietf-aipref-attach): no AI training without a license. A payer's accepted terms are
/// the agreement that overrides it.
pub const CONTENT_USAGE: &str = "train-ai=n";

/// The `Content-Usage` header's name.
pub const CONTENT_USAGE_HEADER: &str = "content-usage";

/// The W3C TDM Reservation Protocol's reservation: text and data mining rights reserved.
pub const TDM_RESERVATION: &str = "1";

/// The TDMRep header's name.
pub const TDM_RESERVATION_HEADER: &str = "tdm-reservation";
