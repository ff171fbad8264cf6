//! The `Range` of a download served from object storage, read as tower-http's `ServeFile`
//! reads it for the local disk (the same parser), so both stores answer alike.

use std::ops::RangeInclusive;

use axum::http::{header, HeaderMap};

/// What a request asks of a blob of a known size.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Asked {
    /// The whole blob (no `Range`).
    Whole,
    /// One range of it, inclusive.
    Part(RangeInclusive<u64>),
    /// A range that cannot be served: malformed, outside the blob, or several ranges (no
    /// multipart answers).
    Unsatisfiable,
}

/// What `headers` ask of a blob of `size` bytes.
pub(super) fn asked(headers: &HeaderMap, size: u64) -> Asked {
    let Some(value) = headers.get(header::RANGE) else {
        return Asked::Whole;
    };
    let Ok(value) = value.to_str() else {
        return Asked::Unsatisfiable;
    };
    if size == 0 {
        // No byte of an empty blob can be asked for (the parser would offer byte 0).
        return Asked::Unsatisfiable;
    }
    match http_range_header::parse_range_header(value).and_then(|r| r.validate(size)) {
        Ok(ranges) if ranges.len() == 1 => Asked::Part(ranges[0].clone()),
        _ => Asked::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ask(range: &str, size: u64) -> Asked {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(range).unwrap());
        asked(&headers, size)
    }

    #[test]
    fn reads_one_range_and_refuses_the_rest() {
        assert_eq!(asked(&HeaderMap::new(), 10), Asked::Whole);
        assert_eq!(ask("bytes=3-", 10), Asked::Part(3..=9));
        assert_eq!(ask("bytes=0-0", 10), Asked::Part(0..=0));
        assert_eq!(ask("bytes=-4", 10), Asked::Part(6..=9));
        assert_eq!(ask("bytes=2-99", 10), Asked::Part(2..=9));
        assert_eq!(ask("bytes=10-", 10), Asked::Unsatisfiable);
        assert_eq!(ask("bytes=0-1,4-5", 10), Asked::Unsatisfiable);
        assert_eq!(ask("bytes=5-2", 10), Asked::Unsatisfiable);
        assert_eq!(ask("items=0-1", 10), Asked::Unsatisfiable);
        assert_eq!(ask("bytes=0-", 0), Asked::Unsatisfiable);
    }
}
