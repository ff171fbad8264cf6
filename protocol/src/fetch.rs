//! Fetching published batch data (docs/protocol.md §8) from its `dataURI`: `https://`,
//! `http://`, and `ipfs://CID[/path]` through an operator-configured HTTP gateway
//! (`<gateway>/ipfs/CID[/path]`).
//!
//! The one fetcher of batch data (feature `fetch`): the indexer's audits and the CLI's claims
//! use it.
//!
//! A `dataURI` is chosen by whoever commits the batch: any account can authorize itself as a
//! relayer and commit one, and the indexer fetches it without being asked. So it is attacker
//! input, and the fetcher reads it with these rules:
//!
//! - only `https://`, `http://` and `ipfs://` (through the gateway); no local files (`file://`,
//!   a bare path: audit a local copy with `audit --data FILE`) and no other scheme;
//! - the host is resolved once and every address it resolves to must be public (not loopback,
//!   private, link-local, unspecified, multicast, broadcast, CGNAT, documentation or other
//!   reserved ranges, IPv6 unique-local or link-local, nor an IPv4-mapped or embedded form of
//!   one: [`non_public`]); the connection goes to exactly the addresses checked (no second
//!   lookup, so DNS rebinding cannot swap them), through no proxy;
//! - the operator exempts hosts from the address check with an allow-list ([`AllowedHost`],
//!   `--allow-data-host`, e.g. a relayer on the same machine); the gateway's host and port are
//!   allowed because the operator named them;
//! - redirects are followed by hand, at most [`MAX_REDIRECTS`], each one checked like the first
//!   URL;
//! - one fetch (every hop, resolution included) takes at most the timeout, and the body is read
//!   as a stream and abandoned past the size limit.
//!
//! A program fetching URLs its own user typed (the CLI's `--batch-data`, a relayer's proofs)
//! lifts the address rule with [`Fetcher::allowing_any_host`]; the size limit, the timeout and
//! the scheme rules stay.
//!
//! A refusal is a [`FetchError`] naming the rule; the audit records it as `unavailable` with that
//! reason. Nothing fetched is trusted either: the audit checks the bytes against the `dataHash`
//! committed on-chain, so a gateway or mirror that serves other bytes makes the audit fail,
//! never pass.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use futures::future::BoxFuture;
use reqwest::{header::LOCATION, Url};
use thiserror::Error;

/// How long one fetch (every redirect, DNS included) may take unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest document fetched unless configured otherwise (256 MiB: about 500,000 receipts).
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

/// Redirects followed at most (each one checked like the first URL).
pub const MAX_REDIRECTS: usize = 5;

/// Why batch data could not be fetched, or was refused.
#[derive(Debug, Error)]
pub enum FetchError {
    /// A local file named on-chain.
    #[error(
        "refused: local files are not read from an on-chain dataURI (audit a local copy with \
         `audit <root> --data FILE`)"
    )]
    LocalFile,
    /// A scheme other than `https`, `http` and `ipfs`.
    #[error(
        "unsupported scheme {0:?} (https://, http://, ipfs:// with a gateway; or pass the bytes \
         with --data)"
    )]
    Scheme(String),
    /// Not a URL, or an `ipfs://` URI that is not a CID and a plain path.
    #[error("not a valid data URI: {0}")]
    BadUri(String),
    /// `ipfs://` without a configured gateway.
    #[error("ipfs:// needs an IPFS gateway (--ipfs-gateway, e.g. https://ipfs.io)")]
    NoGateway,
    /// The host is, or resolves to, an address that is not public.
    #[error(
        "refused: {what} is not a public address ({class}); only public addresses are fetched \
         (an operator can allow the host with --allow-data-host)"
    )]
    NotPublic {
        /// The address, `name (address)` for a host name.
        what: String,
        /// The address refused.
        addr: IpAddr,
        /// What kind of address it is.
        class: &'static str,
    },
    /// The host does not resolve.
    #[error("cannot resolve {host}: {message}")]
    Resolve {
        /// The URL's host.
        host: String,
        /// The resolver's message.
        message: String,
    },
    /// More redirects than [`MAX_REDIRECTS`].
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    /// A redirect without a usable `Location`.
    #[error("HTTP {0} redirect without a valid Location")]
    BadRedirect(u16),
    /// An unsuccessful HTTP status.
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    /// The document is larger than the limit.
    #[error("larger than {0} bytes")]
    TooLarge(u64),
    /// The fetch took longer than the timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A connection or protocol error.
    #[error("{0}")]
    Transport(String),
}

/// A gateway that is not an `http://` or `https://` base URL.
#[derive(Debug, Error)]
#[error("ipfs gateway {0:?}: expected an http:// or https:// URL")]
pub struct BadGateway(pub String);

/// A fetch of a URI that failed, with the URI and the reason.
#[derive(Debug, Error)]
#[error("fetching {uri}{via}: {error}")]
pub struct FetchFailed {
    /// The URI asked for.
    pub uri: String,
    /// ` (via <url>)` when the URI was fetched through the IPFS gateway, else empty.
    pub via: String,
    /// What went wrong.
    #[source]
    pub error: FetchError,
}

/// A host (and optionally a port) the operator exempts from the public-address check: a
/// relayer or mirror on the operator's own network. Written `host` (any port) or `host:port`
/// (`[v6]:port` for IPv6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    host: url::Host<String>,
    port: Option<u16>,
}

/// An allowed host that does not parse, with the reason.
#[derive(Debug, Error)]
#[error("allowed data host {0}")]
pub struct BadHost(String);

impl std::str::FromStr for AllowedHost {
    type Err = BadHost;

    fn from_str(s: &str) -> Result<Self, BadHost> {
        let bad = |m: &str| BadHost(format!("{s:?}: {m}"));
        let s = s.trim();
        if s.is_empty() || s.contains(['/', '?', '#', '@']) {
            return Err(bad("expected host or host:port"));
        }
        let url = Url::parse(&format!("http://{s}")).map_err(|e| bad(&e.to_string()))?;
        let host = url.host().ok_or_else(|| bad("no host"))?.to_owned();
        // `Url` drops a port that is the scheme's default: read it back from the text.
        let port = match url.port() {
            Some(p) => Some(p),
            None if s.ends_with(":80") => Some(80),
            None => None,
        };
        Ok(Self { host, port })
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}:{p}", self.host),
            None => write!(f, "{}", self.host),
        }
    }
}

impl AllowedHost {
    fn matches(&self, url: &Url) -> bool {
        url.host().is_some_and(|h| h.to_owned() == self.host)
            && self
                .port
                .is_none_or(|p| url.port_or_known_default() == Some(p))
    }
}

/// Resolves a host name to addresses (the system's resolver; tests substitute their own).
type ResolveFn =
    dyn Fn(String, u16) -> BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> + Send + Sync;

#[derive(Clone)]
struct Resolver(Arc<ResolveFn>);

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver")
    }
}

impl Resolver {
    fn system() -> Self {
        Self(Arc::new(|host, port| {
            Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
        }))
    }
}

/// The resolver given to the HTTP client: it resolves nothing, so every connection goes to the
/// addresses the fetcher checked (`resolve_to_addrs`) and a name it did not check fails.
struct NoLookups;

impl reqwest::dns::Resolve for NoLookups {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_owned();
        Box::pin(async move { Err(format!("{name} was not resolved by the fetcher").into()) })
    }
}

/// Fetches batch data under the rules of the module docs; cheap to clone.
#[derive(Debug, Clone)]
pub struct Fetcher {
    ipfs_gateway: Option<Url>,
    timeout: Duration,
    max_bytes: u64,
    allowed: Vec<AllowedHost>,
    any_host: bool,
    resolver: Resolver,
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::new(None, DEFAULT_TIMEOUT).expect("a fetcher without a gateway is valid")
    }
}

impl Fetcher {
    /// A fetcher whose fetches time out after `timeout`, mapping `ipfs://` URIs to
    /// `ipfs_gateway` (an `http://` or `https://` base URL such as `https://ipfs.io`) if given.
    /// Only public hosts are fetched, and the gateway's host and port.
    ///
    /// # Errors
    ///
    /// [`BadGateway`] if the gateway is not an `http://` or `https://` base URL.
    pub fn new(ipfs_gateway: Option<&str>, timeout: Duration) -> Result<Self, BadGateway> {
        let bad = |g: &str| BadGateway(g.to_owned());
        let ipfs_gateway = match ipfs_gateway.map(str::trim).filter(|g| !g.is_empty()) {
            None => None,
            Some(g) => {
                let url = Url::parse(g.trim_end_matches('/')).map_err(|_| bad(g))?;
                if !matches!(url.scheme(), "http" | "https")
                    || url.host().is_none()
                    || url.query().is_some()
                {
                    return Err(bad(g));
                }
                Some(url)
            }
        };
        let allowed = ipfs_gateway
            .iter()
            .filter_map(|g| {
                Some(AllowedHost {
                    host: g.host()?.to_owned(),
                    port: g.port_or_known_default(),
                })
            })
            .collect();
        Ok(Self {
            ipfs_gateway,
            timeout,
            max_bytes: DEFAULT_MAX_BYTES,
            allowed,
            any_host: false,
            resolver: Resolver::system(),
        })
    }

    /// The same fetcher, fetching from any host, private and loopback addresses included: for a
    /// program whose user names the URLs (a CLI's arguments), never for URIs read on-chain.
    pub fn allowing_any_host(self) -> Self {
        Self {
            any_host: true,
            ..self
        }
    }

    /// The same fetcher, refusing documents larger than `max_bytes` (data URIs are chosen by
    /// relayers: an endless response must not exhaust the indexer's memory).
    pub fn with_max_bytes(self, max_bytes: u64) -> Self {
        Self { max_bytes, ..self }
    }

    /// The same fetcher, also fetching from `hosts` whatever addresses they resolve to
    /// (loopback or private ones included).
    pub fn with_allowed_hosts(mut self, hosts: impl IntoIterator<Item = AllowedHost>) -> Self {
        self.allowed.extend(hosts);
        self
    }

    #[cfg(test)]
    fn with_resolver(
        self,
        f: impl Fn(String, u16) -> BoxFuture<'static, std::io::Result<Vec<SocketAddr>>>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        Self {
            resolver: Resolver(Arc::new(f)),
            ..self
        }
    }

    /// The configured IPFS gateway, if any.
    pub fn ipfs_gateway(&self) -> Option<&str> {
        self.ipfs_gateway.as_ref().map(|g| g.as_str())
    }

    /// Hosts exempt from the public-address check (the allow-list and the gateway).
    pub fn allowed_hosts(&self) -> &[AllowedHost] {
        &self.allowed
    }

    /// The HTTP(S) URL the bytes of `uri` are read from (IPFS URIs through the gateway), or why
    /// `uri` is refused before any request.
    pub fn resolve(&self, uri: &str) -> Result<Url, FetchError> {
        let uri = uri.trim();
        let scheme = uri.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("http" | "https") => {
                Url::parse(uri).map_err(|e| FetchError::BadUri(format!("{uri}: {e}")))
            }
            Some("ipfs") => self.gateway_url(&uri["ipfs://".len()..]),
            Some("file") => Err(FetchError::LocalFile),
            Some(s) => Err(FetchError::Scheme(s.to_owned())),
            // `data:…`, `javascript:…`; anything else without a scheme is a path.
            None => match uri.split_once(':') {
                Some((s, _)) if !s.contains(['/', '\\']) && s.len() > 1 => {
                    Err(FetchError::Scheme(s.to_ascii_lowercase()))
                }
                _ => Err(FetchError::LocalFile),
            },
        }
    }

    /// `<gateway>/ipfs/CID[/path]` for `ipfs://CID[/path]`: a CID and plain path segments only,
    /// so an on-chain URI reaches nothing but the gateway's `/ipfs/` tree.
    fn gateway_url(&self, rest: &str) -> Result<Url, FetchError> {
        // Also tolerate the `ipfs://ipfs/CID` spelling.
        let rest = rest.strip_prefix("ipfs/").unwrap_or(rest);
        let bad = |m: &str| FetchError::BadUri(format!("ipfs://{rest}: {m}"));
        let mut parts = rest.split('/');
        let cid = parts.next().unwrap_or_default();
        if cid.is_empty() {
            return Err(bad("no CID"));
        }
        if !cid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad("a CID is letters and digits"));
        }
        for seg in parts {
            let plain = seg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
            if !plain || seg == "." || seg == ".." {
                return Err(bad("path segments are letters, digits, '-', '.', '_', '~'"));
            }
        }
        let gateway = self.ipfs_gateway.as_ref().ok_or(FetchError::NoGateway)?;
        let base = gateway.as_str().trim_end_matches('/');
        let url = Url::parse(&format!("{base}/ipfs/{rest}")).map_err(|e| bad(&e.to_string()))?;
        let prefix = format!("{}/ipfs/{cid}", gateway.path().trim_end_matches('/'));
        if url.host() != gateway.host() || !url.path().starts_with(&prefix) {
            return Err(bad("does not stay under the gateway's /ipfs/"));
        }
        Ok(url)
    }

    /// The bytes published at `uri`.
    ///
    /// # Errors
    ///
    /// [`FetchFailed`] with the [`FetchError`] that refused or failed the fetch.
    pub async fn fetch(&self, uri: &str) -> Result<Vec<u8>, FetchFailed> {
        let fail = |error, url: Option<&Url>| FetchFailed {
            uri: uri.to_owned(),
            via: url
                .filter(|_| uri.trim().to_ascii_lowercase().starts_with("ipfs://"))
                .map(|u| format!(" (via {u})"))
                .unwrap_or_default(),
            error,
        };
        let url = self.resolve(uri).map_err(|e| fail(e, None))?;
        match tokio::time::timeout(self.timeout, self.get(url.clone())).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(e)) => Err(fail(e, Some(&url))),
            Err(_) => Err(fail(FetchError::Timeout(self.timeout), Some(&url))),
        }
    }

    /// GETs `url`, following checked redirects, reading at most `max_bytes`.
    async fn get(&self, mut url: Url) -> Result<Vec<u8>, FetchError> {
        for _ in 0..=MAX_REDIRECTS {
            let addrs = self.check(&url).await?;
            let mut client = reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .dns_resolver(NoLookups)
                .user_agent(concat!("fairtrain/", env!("CARGO_PKG_VERSION")));
            if let Some(url::Host::Domain(name)) = url.host() {
                client = client.resolve_to_addrs(name, &addrs);
            }
            let client = client
                .build()
                .map_err(|e| FetchError::Transport(error_chain(&e)))?;
            let mut resp = client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| FetchError::Transport(error_chain(&e)))?;
            let status = resp.status();
            if status.is_redirection() {
                url = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    .ok_or(FetchError::BadRedirect(status.as_u16()))?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status));
            }
            if resp.content_length().is_some_and(|n| n > self.max_bytes) {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| FetchError::Transport(error_chain(&e)))?
            {
                if (bytes.len() + chunk.len()) as u64 > self.max_bytes {
                    return Err(FetchError::TooLarge(self.max_bytes));
                }
                bytes.extend_from_slice(&chunk);
            }
            return Ok(bytes);
        }
        Err(FetchError::TooManyRedirects)
    }

    /// The addresses `url` may be fetched from: its scheme is HTTP(S), and every address its
    /// host resolves to is public, unless the host is allowed.
    async fn check(&self, url: &Url) -> Result<Vec<SocketAddr>, FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Scheme(url.scheme().to_owned()));
        }
        let host = url
            .host()
            .ok_or_else(|| FetchError::BadUri(format!("{url}: no host")))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| FetchError::BadUri(format!("{url}: no port")))?;
        let addrs = match host {
            url::Host::Ipv4(ip) => vec![SocketAddr::new(ip.into(), port)],
            url::Host::Ipv6(ip) => vec![SocketAddr::new(ip.into(), port)],
            url::Host::Domain(name) => {
                let resolve = |message: String| FetchError::Resolve {
                    host: name.to_owned(),
                    message,
                };
                let addrs = (self.resolver.0)(name.to_owned(), port)
                    .await
                    .map_err(|e| resolve(e.to_string()))?;
                if addrs.is_empty() {
                    return Err(resolve("no address".into()));
                }
                addrs
            }
        };
        if !self.any_host && !self.allowed.iter().any(|a| a.matches(url)) {
            for a in &addrs {
                if let Some(class) = non_public(a.ip()) {
                    return Err(FetchError::NotPublic {
                        what: match host {
                            url::Host::Domain(name) => format!("{name} ({})", a.ip()),
                            _ => a.ip().to_string(),
                        },
                        addr: a.ip(),
                        class,
                    });
                }
            }
        }
        Ok(addrs)
    }
}

/// An error with its sources, `a: b: c` (reqwest's own message omits the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = cause.source();
    }
    s
}

/// Why `ip` is not a public unicast address the indexer may fetch from (`None` if it is): the
/// IANA special-purpose ranges, IPv4 and IPv6, and IPv4 addresses embedded in IPv6 ones
/// (mapped, compatible, NAT64, 6to4) judged as the IPv4 address.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => "unspecified",
        (0, _, _) => "\"this network\" (0.0.0.0/8)",
        (127, _, _) => "loopback",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "carrier-grade NAT (100.64.0.0/10)",
        (192, 0, 0) => "IETF protocol assignment (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (192, 88, 99) => "6to4 relay anycast",
        _ if ip.is_broadcast() => "broadcast",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved (240.0.0.0/4)",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    Some(match s {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        // ::ffff:a.b.c.d (IPv4-mapped) is the IPv4 address a.b.c.d.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => return non_public_v4(embedded(hi, lo)),
        [0, 0, 0, 0, 0, 0, _, _] => "IPv4-compatible (deprecated, ::/96)",
        // NAT64 (64:ff9b::/96) translates to the embedded IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return non_public_v4(embedded(hi, lo)),
        [0x64, 0xff9b, 1, ..] => "local-use NAT64 (64:ff9b:1::/48)",
        // 6to4 (2002::/16) embeds an IPv4 address in its prefix.
        [0x2002, hi, lo, ..] => return non_public_v4(embedded(hi, lo)),
        [0x2001, 0, ..] => "Teredo (2001::/32)",
        [0x2001, 0xdb8, ..] => "documentation",
        [0x2001, 0x0002, 0, ..] => "benchmarking (2001:2::/48)",
        [0x2001, 0x10..=0x2f, ..] => "ORCHID",
        [0x100, 0, 0, 0, ..] => "discard-only (100::/64)",
        [0x3fff, 0..=0x0fff, ..] => "documentation (3fff::/20)",
        [0x5f00, ..] => "segment routing (5f00::/16)",
        _ if ip.is_unique_local() => "unique-local (fc00::/7)",
        _ if ip.is_unicast_link_local() => "link-local",
        [0xfec0..=0xfeff, ..] => "site-local (deprecated)",
        _ if ip.is_multicast() => "multicast",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::{
        str::FromStr,
        sync::{
            atomic::{AtomicUsize, Ordering},
            Mutex,
        },
    };

    use axum::{
        http::{header, StatusCode},
        response::IntoResponse,
    };

    use super::*;

    /// A local HTTP server answering every path with `app`; its `127.0.0.1:port`.
    async fn serve(app: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    fn allowing(host: &str) -> Fetcher {
        Fetcher::default().with_allowed_hosts([AllowedHost::from_str(host).unwrap()])
    }

    async fn refusal(f: &Fetcher, uri: &str) -> String {
        match f.fetch(uri).await {
            Ok(b) => panic!("{uri}: fetched {} bytes", b.len()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn ipfs_uris_go_through_the_gateway() {
        let f = Fetcher::new(Some("https://ipfs.io/"), DEFAULT_TIMEOUT).unwrap();
        assert_eq!(
            f.resolve("ipfs://bafyabc/batch.json").unwrap().as_str(),
            "https://ipfs.io/ipfs/bafyabc/batch.json"
        );
        assert_eq!(
            f.resolve("ipfs://ipfs/bafyabc").unwrap().as_str(),
            "https://ipfs.io/ipfs/bafyabc"
        );
        // The gateway's host and port are allowed (the operator named them), nothing else.
        assert_eq!(
            f.allowed_hosts(),
            [AllowedHost::from_str("ipfs.io:443").unwrap()]
        );
        // An on-chain URI cannot leave the gateway's /ipfs/ tree.
        for evil in [
            "ipfs://bafyabc/../../admin",
            "ipfs://../admin",
            "ipfs://bafyabc/%2e%2e/admin",
            "ipfs://bafyabc?x=1",
            "ipfs://bafyabc#frag",
            "ipfs://baf@evil.example/x",
            "ipfs://",
        ] {
            let e = f.resolve(evil).unwrap_err();
            assert!(matches!(e, FetchError::BadUri(_)), "{evil}: {e}");
        }
        let plain = Fetcher::default();
        let e = plain.resolve("ipfs://bafyabc").unwrap_err().to_string();
        assert!(e.contains("--ipfs-gateway"), "{e}");
        assert!(Fetcher::new(Some("ipfs.io"), DEFAULT_TIMEOUT).is_err());
        assert!(Fetcher::new(Some("file:///ipfs"), DEFAULT_TIMEOUT).is_err());
        let e = plain.resolve("demo://x").unwrap_err().to_string();
        assert!(e.contains("unsupported scheme \"demo\""), "{e}");
    }

    #[test]
    fn allowed_hosts_parse_and_match() {
        let url = |s: &str| Url::parse(s).unwrap();
        let any_port = AllowedHost::from_str("Relayer.Internal").unwrap();
        assert!(any_port.matches(&url("http://relayer.internal:8080/x")));
        assert!(any_port.matches(&url("https://relayer.internal/x")));
        assert!(!any_port.matches(&url("http://relayer.internal.evil.example/")));
        let one_port = AllowedHost::from_str("127.0.0.1:8080").unwrap();
        assert!(one_port.matches(&url("http://127.0.0.1:8080/v1/data/x")));
        assert!(!one_port.matches(&url("http://127.0.0.1:22/")));
        assert!(!one_port.matches(&url("http://localhost:8080/")));
        let port_80 = AllowedHost::from_str("10.0.0.5:80").unwrap();
        assert!(port_80.matches(&url("http://10.0.0.5/")));
        assert!(!port_80.matches(&url("https://10.0.0.5/")));
        let v6 = AllowedHost::from_str("[::1]:9000").unwrap();
        assert!(v6.matches(&url("http://[::1]:9000/")));
        assert_eq!(v6.to_string(), "[::1]:9000");
        for bad in ["", "http://x", "x/y", "user@x", "x:99999"] {
            assert!(AllowedHost::from_str(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_public_addresses() {
        let class = |s: &str| non_public(IpAddr::from_str(s).unwrap());
        for (ip, want) in [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "\"this network\" (0.0.0.0/8)"),
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "carrier-grade NAT (100.64.0.0/10)"),
            ("100.127.255.254", "carrier-grade NAT (100.64.0.0/10)"),
            ("192.0.2.1", "documentation"),
            ("198.18.0.1", "benchmarking (198.18.0.0/15)"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved (240.0.0.0/4)"),
            ("255.255.255.255", "broadcast"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::127.0.0.1", "IPv4-compatible (deprecated, ::/96)"),
            ("64:ff9b::a00:1", "private"),
            ("2002:c0a8:101::1", "private"),
            ("fc00::1", "unique-local (fc00::/7)"),
            ("fd12:3456::1", "unique-local (fc00::/7)"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local (deprecated)"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("2001::1", "Teredo (2001::/32)"),
            ("100::1", "discard-only (100::/64)"),
        ] {
            assert_eq!(class(ip), Some(want), "{ip}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(class(public), None, "{public}");
        }
        // A mapped address is judged as the IPv4 address it is.
        assert_eq!(class("::ffff:8.8.8.8"), None);
    }

    /// Every refusal before a request: local files, other schemes, and hosts that are (or
    /// resolve to) loopback, private, link-local or other non-public addresses, in every
    /// spelling; the allow-list lets exactly its host and port through.
    #[tokio::test]
    async fn refuses_files_and_non_public_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batch.json");
        std::fs::write(&path, b"secret").unwrap();
        let f = Fetcher::default();
        for uri in [
            format!("file://{}", path.display()),
            path.display().to_string(),
            "./batch.json".into(),
            "FILE:///etc/passwd".into(),
        ] {
            let e = refusal(&f, &uri).await;
            assert!(e.contains("refused: local files"), "{uri}: {e}");
        }
        for (uri, scheme) in [
            ("ftp://example.com/b", "ftp"),
            ("gopher://127.0.0.1:70/", "gopher"),
            ("demo://batch", "demo"),
            ("data:,hello", "data"),
        ] {
            let e = refusal(&f, uri).await;
            assert!(
                e.contains(&format!("unsupported scheme \"{scheme}\"")),
                "{uri}: {e}"
            );
        }
        // A server that would answer: every spelling of its address is refused.
        let addr = serve(axum::Router::new().fallback(|| async { "served" })).await;
        let port = addr.rsplit(':').next().unwrap();
        for (uri, class) in [
            (format!("http://{addr}/b"), "loopback"),
            (format!("http://localhost:{port}/b"), "loopback"),
            (format!("http://2130706433:{port}/b"), "loopback"),
            (format!("http://0x7f.1:{port}/b"), "loopback"),
            (format!("http://[::ffff:127.0.0.1]:{port}/b"), "loopback"),
            (format!("http://0.0.0.0:{port}/b"), "unspecified"),
            ("http://10.0.0.1/b".into(), "private"),
            ("http://192.168.0.1/b".into(), "private"),
            (
                "http://169.254.169.254/latest/meta-data/".into(),
                "link-local",
            ),
            ("http://[fe80::1]/b".into(), "link-local"),
            ("http://[fd00::1]/b".into(), "unique-local"),
            ("http://100.64.0.1/b".into(), "carrier-grade NAT"),
        ] {
            let e = refusal(&f, &uri).await;
            assert!(
                e.contains("is not a public address (")
                    && e.contains(class)
                    && e.contains("--allow-data-host"),
                "{uri}: {e}"
            );
        }
        // Allowed by the operator: exactly that host and port.
        let allowed = allowing(&addr);
        assert_eq!(
            allowed.fetch(&format!("http://{addr}/b")).await.unwrap(),
            b"served"
        );
        let e = refusal(&allowed, &format!("http://localhost:{port}/b")).await;
        assert!(e.contains("loopback"), "{e}");
        let e = refusal(&allowed, "http://127.0.0.1:1/b").await;
        assert!(e.contains("loopback"), "{e}");
    }

    /// Every address a name resolves to is checked, the connection goes to the addresses
    /// checked and no lookup happens after the check (a rebinding name cannot swap them).
    #[tokio::test]
    async fn checks_every_resolved_address_and_connects_to_it() {
        // A name resolving to a public and a private address is refused.
        let mixed = Fetcher::default().with_resolver(|_, port| {
            Box::pin(async move {
                Ok(vec![
                    SocketAddr::new(IpAddr::from([93, 184, 215, 14]), port),
                    SocketAddr::new(IpAddr::from([10, 0, 0, 7]), port),
                ])
            })
        });
        let e = refusal(&mixed, "http://data.example/b").await;
        assert!(
            e.contains("data.example (10.0.0.7) is not a public address (private)"),
            "{e}"
        );

        // A name whose answer changes on every lookup: 127.0.0.1 first, 127.0.0.2 after.
        // Allowed (both are loopback), so only pinning decides where the request goes.
        let good = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = good.local_addr().unwrap().port();
        let Ok(evil) = tokio::net::TcpListener::bind(("127.0.0.2", port)).await else {
            eprintln!("127.0.0.2 cannot be bound here: rebinding part skipped");
            return;
        };
        let app = |body: &'static str| axum::Router::new().fallback(move || async move { body });
        tokio::spawn(async move { axum::serve(good, app("checked")).await });
        tokio::spawn(async move { axum::serve(evil, app("rebound")).await });
        let lookups = Arc::new(AtomicUsize::new(0));
        let counter = lookups.clone();
        let rebinding = allowing("rebind.test").with_resolver(move |_, port| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let ip = if n == 0 {
                [127, 0, 0, 1]
            } else {
                [127, 0, 0, 2]
            };
            Box::pin(async move { Ok(vec![SocketAddr::new(IpAddr::from(ip), port)]) })
        });
        let got = rebinding
            .fetch(&format!("http://rebind.test:{port}/b"))
            .await
            .unwrap();
        assert_eq!(got, b"checked");
        assert_eq!(lookups.load(Ordering::SeqCst), 1, "one lookup per hop");
    }

    /// Redirects are followed only to checked addresses, and only so many times.
    #[tokio::test]
    async fn redirects_are_checked() {
        let target = Arc::new(Mutex::new(String::new()));
        let to = target.clone();
        let app = axum::Router::new()
            .route(
                "/redirect",
                axum::routing::get(move || {
                    let to = to.lock().unwrap().clone();
                    async move { (StatusCode::FOUND, [(header::LOCATION, to)]).into_response() }
                }),
            )
            .route("/doc", axum::routing::get(|| async { "document" }))
            .route(
                "/loop",
                axum::routing::get(|| async {
                    (StatusCode::FOUND, [(header::LOCATION, "/loop")]).into_response()
                }),
            );
        let addr = serve(app).await;
        let f = allowing(&addr);
        // A redirect within the allowed host is followed.
        *target.lock().unwrap() = "/doc".into();
        let url = format!("http://{addr}/redirect");
        assert_eq!(f.fetch(&url).await.unwrap(), b"document");
        // To a private or link-local address, or to a local file: refused.
        for (to, want) in [
            (
                "http://10.1.2.3/doc",
                "10.1.2.3 is not a public address (private)",
            ),
            (
                "http://169.254.169.254/latest/meta-data/",
                "169.254.169.254 is not a public address (link-local)",
            ),
            (
                "http://127.0.0.1:1/doc",
                "127.0.0.1 is not a public address (loopback)",
            ),
            ("file:///etc/passwd", "unsupported scheme \"file\""),
        ] {
            *target.lock().unwrap() = to.into();
            let e = refusal(&f, &url).await;
            assert!(e.contains(want), "{to}: {e}");
        }
        let e = refusal(&f, &format!("http://{addr}/loop")).await;
        assert!(e.contains("more than 5 redirects"), "{e}");
    }

    #[tokio::test]
    async fn documents_over_the_limit_are_refused() {
        // A declared length over the limit, and a streamed body without one that grows past it.
        let app = axum::Router::new()
            .route("/sized", axum::routing::get(|| async { vec![b'x'; 100] }))
            .route(
                "/endless",
                axum::routing::get(|| async {
                    let chunks = futures::stream::repeat_with(|| {
                        Ok::<_, std::io::Error>(axum::body::Bytes::from_static(&[b'x'; 1024]))
                    });
                    axum::body::Body::from_stream(chunks)
                }),
            );
        let addr = serve(app).await;
        let f = allowing(&addr).with_max_bytes(100);
        let sized = format!("http://{addr}/sized");
        assert_eq!(f.fetch(&sized).await.unwrap().len(), 100);
        let e = f
            .clone()
            .with_max_bytes(99)
            .fetch(&sized)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("larger than 99 bytes"), "{e}");
        let e = refusal(
            &f.with_max_bytes(1 << 20),
            &format!("http://{addr}/endless"),
        )
        .await;
        assert!(e.contains("larger than 1048576 bytes"), "{e}");
    }

    #[tokio::test]
    async fn slow_servers_time_out() {
        // Headers at once, then a body that never ends: the whole fetch is bounded.
        let app = axum::Router::new().fallback(|| async {
            let slow = futures::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((
                    Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"x")),
                    (),
                ))
            });
            axum::body::Body::from_stream(slow)
        });
        let addr = serve(app).await;
        let f = Fetcher::new(None, Duration::from_millis(500))
            .unwrap()
            .with_allowed_hosts([AllowedHost::from_str(&addr).unwrap()]);
        let started = std::time::Instant::now();
        let e = refusal(&f, &format!("http://{addr}/b")).await;
        assert!(e.contains("timed out after 500ms"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
