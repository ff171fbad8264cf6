//! Fetching published batch data (docs/protocol.md §8) from its `dataURI`: `file://` or a plain
//! path, `http://`, `https://`, and `ipfs://CID[/path]` through an operator-configured HTTP
//! gateway (`<gateway>/ipfs/CID[/path]`).
//!
//! Nothing fetched is trusted: the audit checks the bytes against the `dataHash` committed
//! on-chain, so a gateway or mirror that serves other bytes makes the audit fail, never pass.

use std::time::Duration;

use alloy::transports::http::reqwest;

use crate::{Error, Result};

/// How long one HTTP fetch may take unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest document fetched unless configured otherwise (256 MiB: about 500,000 receipts).
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

/// Fetches batch data; cheap to clone (one shared HTTP client).
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    ipfs_gateway: Option<String>,
    max_bytes: u64,
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::new(None, DEFAULT_TIMEOUT).expect("a fetcher without a gateway is valid")
    }
}

impl Fetcher {
    /// A fetcher whose HTTP requests time out after `timeout`, mapping `ipfs://` URIs to
    /// `ipfs_gateway` (an `http://` or `https://` base URL such as `https://ipfs.io`) if given.
    pub fn new(ipfs_gateway: Option<&str>, timeout: Duration) -> Result<Self> {
        let ipfs_gateway = match ipfs_gateway.map(str::trim).filter(|g| !g.is_empty()) {
            None => None,
            Some(g) if g.starts_with("http://") || g.starts_with("https://") => {
                Some(g.trim_end_matches('/').to_owned())
            }
            Some(g) => {
                return Err(Error::invalid(
                    "ipfs gateway",
                    format!("{g:?}: expected an http:// or https:// URL"),
                ))
            }
        };
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::invalid("http client", e.to_string()))?;
        Ok(Self {
            client,
            ipfs_gateway,
            max_bytes: DEFAULT_MAX_BYTES,
        })
    }

    /// The same fetcher, refusing documents larger than `max_bytes` (data URIs are chosen by
    /// relayers: an endless response must not exhaust the indexer's memory).
    pub fn with_max_bytes(self, max_bytes: u64) -> Self {
        Self { max_bytes, ..self }
    }

    /// The configured IPFS gateway, if any.
    pub fn ipfs_gateway(&self) -> Option<&str> {
        self.ipfs_gateway.as_deref()
    }

    /// Where the bytes of `uri` are read from: an HTTP(S) URL (IPFS URIs through the gateway)
    /// or a local path.
    pub fn resolve(&self, uri: &str) -> Result<Source> {
        let err = |m: &str| Error::invalid("batch data", format!("{uri}: {m}"));
        if uri.starts_with("http://") || uri.starts_with("https://") {
            Ok(Source::Http(uri.to_owned()))
        } else if let Some(rest) = uri.strip_prefix("ipfs://") {
            // `ipfs://CID/path`; also tolerate the `ipfs://ipfs/CID` spelling.
            let rest = rest.strip_prefix("ipfs/").unwrap_or(rest);
            if rest.is_empty() {
                return Err(err("no CID"));
            }
            match &self.ipfs_gateway {
                Some(g) => Ok(Source::Http(format!("{g}/ipfs/{rest}"))),
                None => Err(err(
                    "ipfs:// needs an IPFS gateway (--ipfs-gateway, e.g. https://ipfs.io)",
                )),
            }
        } else if let Some(path) = uri.strip_prefix("file://") {
            Ok(Source::File(path.into()))
        } else if uri.starts_with('/') || uri.starts_with('.') {
            Ok(Source::File(uri.into()))
        } else {
            Err(err(
                "unsupported scheme (file://, http://, https://, ipfs:// with a gateway; or pass the bytes with --data)",
            ))
        }
    }

    /// The bytes published at `uri`.
    pub async fn fetch(&self, uri: &str) -> Result<Vec<u8>> {
        let err = |m: String| Error::invalid("batch data", format!("{uri}: {m}"));
        match self.resolve(uri)? {
            Source::Http(url) => {
                let via = if url == uri {
                    String::new()
                } else {
                    format!(" (via {url})")
                };
                let too_big = || err(format!("larger than {} bytes{via}", self.max_bytes));
                let mut resp = self
                    .client
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| err(format!("{e}{via}")))?;
                if !resp.status().is_success() {
                    return Err(err(format!("HTTP {}{via}", resp.status())));
                }
                if resp.content_length().is_some_and(|n| n > self.max_bytes) {
                    return Err(too_big());
                }
                let mut bytes = Vec::new();
                while let Some(chunk) = resp.chunk().await.map_err(|e| err(format!("{e}{via}")))? {
                    if (bytes.len() + chunk.len()) as u64 > self.max_bytes {
                        return Err(too_big());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(bytes)
            }
            Source::File(path) => {
                let len = tokio::fs::metadata(&path)
                    .await
                    .map_err(|e| err(e.to_string()))?
                    .len();
                if len > self.max_bytes {
                    return Err(err(format!("larger than {} bytes", self.max_bytes)));
                }
                tokio::fs::read(&path).await.map_err(|e| err(e.to_string()))
            }
        }
    }
}

/// Where batch data is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An HTTP(S) URL.
    Http(String),
    /// A local file.
    File(std::path::PathBuf),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipfs_uris_go_through_the_gateway() {
        let f = Fetcher::new(Some("https://ipfs.io/"), DEFAULT_TIMEOUT).unwrap();
        assert_eq!(
            f.resolve("ipfs://bafyabc/batch.json").unwrap(),
            Source::Http("https://ipfs.io/ipfs/bafyabc/batch.json".into())
        );
        assert_eq!(
            f.resolve("ipfs://ipfs/bafyabc").unwrap(),
            Source::Http("https://ipfs.io/ipfs/bafyabc".into())
        );
        let plain = Fetcher::default();
        let e = plain.resolve("ipfs://bafyabc").unwrap_err().to_string();
        assert!(e.contains("--ipfs-gateway"), "{e}");
        assert!(Fetcher::new(Some("ipfs.io"), DEFAULT_TIMEOUT).is_err());
        assert!(plain.resolve("demo://x").is_err());
        assert_eq!(
            plain.resolve("file:///tmp/b.json").unwrap(),
            Source::File("/tmp/b.json".into())
        );
    }

    #[tokio::test]
    async fn documents_over_the_limit_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batch.json");
        std::fs::write(&path, [b'x'; 100]).unwrap();
        let app = axum::Router::new().fallback(|| async { vec![b'x'; 100] });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = format!("http://{}/batch.json", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        for uri in [format!("file://{}", path.display()), http] {
            let f = Fetcher::default().with_max_bytes(100);
            assert_eq!(f.fetch(&uri).await.unwrap().len(), 100, "{uri}");
            let e = f.with_max_bytes(99).fetch(&uri).await.unwrap_err();
            assert!(e.to_string().contains("larger than 99 bytes"), "{e}");
        }
    }
}
