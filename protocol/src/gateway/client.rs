//! A client of a data gateway (feature `fetch`): publish a dataset (its manifest, then the
//! files the gateway lacks), ask for access, and download a dataset's files with resume,
//! checking every file against the manifest before it is put in place.
//!
//! Downloads go to `<out>/<path>`; a file being downloaded is `<out>/<path>.part` until its size
//! and keccak256 are the manifest's, then renamed. An interrupted download resumes from the
//! `.part` file's length with an HTTP `Range` request. A file already in place is re-hashed and
//! kept if right. A file whose bytes differ from the manifest is deleted and reported: nothing
//! unverified is ever left under its final name.

use std::{
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy::{
    primitives::{Address, Keccak256, B256, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use reqwest::{header, StatusCode, Url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{
    AccessCall, AccessRequest, GatewayDomain, PublishRequest, Signed, MAX_REQUEST_LIFETIME,
};
use crate::{
    api::{
        gateway::{AccessPage, Dataset, DatasetPage, FilePage, Grant, Info},
        ErrorBody,
    },
    bindings::LicenseNFT,
    domain::EscrowDomain,
    manifest::{DatasetManifest, FileEntry},
    pricing::{access_run_id, Unit},
    receipt::Receipt,
    wire::SignedReceipt,
};

/// The refusals of an access request that the same request may pass a moment later (all `503`):
/// the gateway's relayer, database or chain briefly unavailable, or too many checks at once.
pub const RETRIED_ACCESS_CODES: [&str; 4] = [
    "relayer_unavailable",
    "store_unavailable",
    "chain_unavailable",
    "overloaded",
];

/// Attempts of an access request, the first included ([`GatewayClient::send_access`]).
pub const ACCESS_ATTEMPTS: u32 = 4;

/// The wait before the second attempt of an access request; it doubles after each.
const ACCESS_BACKOFF: Duration = Duration::from_millis(500);

/// What [`GatewayClient::get_licensed`] got.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The manifest the license records: it verifies, and its creator minted the license.
    pub manifest: DatasetManifest,
    /// The grant (under terms priced per access, `receipt` names the receipt that paid).
    pub grant: Grant,
    /// What the download did.
    pub report: DownloadReport,
}

/// Why [`GatewayClient::get_licensed`] failed.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// Reading the license or its terms on-chain failed (a license that does not exist
    /// reverts).
    #[error("reading {what}: {source}")]
    Chain {
        /// The view called: `license`, `currentTerms` or `terms`.
        what: &'static str,
        /// The call's error (its revert data, if it reverted).
        source: alloy::contract::Error,
    },
    /// The terms are priced per a unit this client does not know.
    #[error("terms {terms} are priced per unit {unit}, which this client does not know")]
    Unit {
        /// The terms version.
        terms: u64,
        /// Their unit's value.
        unit: u8,
    },
    /// The manifest the gateway served is not the license's.
    #[error(transparent)]
    License(#[from] crate::ManifestError),
    /// The gateway refused, or a file was not the manifest's.
    #[error("{action}: {source}")]
    Gateway {
        /// What was being done.
        action: &'static str,
        /// What failed.
        source: ClientError,
    },
}

/// How long a request signed by the client stays valid.
const REQUEST_LIFETIME: u64 = MAX_REQUEST_LIFETIME / 2;

/// Why a gateway call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The gateway answered with an error envelope.
    #[error("the gateway refused ({status}, {code}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The envelope's code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The gateway could not be reached, or answered something unreadable.
    #[error("reaching the gateway: {0}")]
    Http(#[from] reqwest::Error),
    /// A URL could not be built.
    #[error("bad gateway URL: {0}")]
    Url(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A downloaded file is not the manifest's: it was deleted.
    #[error("{path}: the bytes served ({size} bytes, keccak256 {hash}) are not the manifest's ({expected_size} bytes, {expected}); the file was deleted")]
    Tampered {
        /// The file's path in the dataset.
        path: String,
        /// Size received.
        size: u64,
        /// Hash received.
        hash: B256,
        /// The manifest's size.
        expected_size: u64,
        /// The manifest's hash.
        expected: B256,
    },
    /// The manifest does not verify, or is not the one granted.
    #[error("manifest: {0}")]
    Manifest(String),
    /// Signing a request failed.
    #[error("signing: {0}")]
    Signing(String),
    /// An answer that is not the JSON the protocol says.
    #[error("the gateway's answer is not the expected JSON: {0}")]
    Malformed(String),
    /// An answer (not a file's bytes) longer than the client reads.
    #[error("the gateway's answer is longer than {limit} bytes")]
    TooLarge {
        /// The most read.
        limit: usize,
    },
}

/// The longest JSON answer or manifest read (a manifest of 100,000 files is about 25 MB): a
/// gateway is input like any other, and an endless answer must not exhaust the reader's memory.
pub const MAX_ANSWER_BYTES: usize = 64 << 20;

/// The longest error body read (only its start is kept anyway).
const MAX_ERROR_BYTES: usize = 64 << 10;

/// The client's result.
pub type ClientResult<T> = Result<T, ClientError>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ClientError + '_ {
    move |source| ClientError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What a download did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DownloadReport {
    /// Files downloaded now (in whole or in part).
    pub downloaded: usize,
    /// Files that resumed from a `.part` file.
    pub resumed: usize,
    /// Files already in place and right.
    pub kept: usize,
    /// Bytes received.
    pub bytes: u64,
}

/// A gateway at one URL.
#[derive(Clone, Debug)]
pub struct GatewayClient {
    base: Url,
    http: reqwest::Client,
}

/// 32 bytes from the system's random source, for a request's nonce.
pub fn random_nonce() -> B256 {
    PrivateKeySigner::random().to_bytes()
}

/// Unix seconds now.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl GatewayClient {
    /// A client of the gateway at `base` (e.g. `http://127.0.0.1:8070`).
    ///
    /// # Errors
    ///
    /// [`ClientError::Url`] if `base` is not an http(s) URL.
    pub fn new(base: &str) -> ClientResult<Self> {
        let base = Url::parse(base.trim_end_matches('/'))
            .map_err(|e| ClientError::Url(format!("{base:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ClientError::Url(format!("{base}: not http(s)")));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self { base, http })
    }

    fn url(&self, segments: &[&str]) -> ClientResult<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ClientError::Url(format!("{}: cannot be a base", self.base)))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// `GET` of a page of a list at `segments`: `?after=&limit=`.
    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        segments: &[&str],
        after: u64,
        limit: usize,
    ) -> ClientResult<T> {
        let mut url = self.url(segments)?;
        url.query_pairs_mut()
            .append_pair("after", &after.to_string())
            .append_pair("limit", &limit.to_string());
        json(self.http.get(url).send().await?).await
    }

    /// The gateway's info (its public URL and request domain).
    ///
    /// # Errors
    ///
    /// [`ClientError`].
    pub async fn info(&self) -> ClientResult<Info> {
        json(self.http.get(self.url(&["v1", "info"])?).send().await?).await
    }

    /// A page of the datasets published on the gateway, after position `after` (0: from the
    /// start).
    ///
    /// # Errors
    ///
    /// [`ClientError`].
    pub async fn datasets(&self, after: u64, limit: usize) -> ClientResult<DatasetPage> {
        self.page(&["v1", "datasets"], after, limit).await
    }

    /// A published dataset.
    ///
    /// # Errors
    ///
    /// [`ClientError`]; `Refused` with code `not_found` if it is not published there.
    pub async fn dataset(&self, hash: B256) -> ClientResult<Dataset> {
        let url = self.url(&["v1", "datasets", &hash.to_string()])?;
        json(self.http.get(url).send().await?).await
    }

    /// A page of the gateway's access log (every dataset), after position `after` (0: from the
    /// start).
    ///
    /// # Errors
    ///
    /// [`ClientError`].
    pub async fn accesses(&self, after: u64, limit: usize) -> ClientResult<AccessPage> {
        self.page(&["v1", "accesses"], after, limit).await
    }

    /// A page of a published dataset's files, in manifest order, from position `after`
    /// (0 for the first page).
    ///
    /// # Errors
    ///
    /// [`ClientError`]; `Refused` with code `not_found` if it is not published there.
    pub async fn files(&self, hash: B256, after: u64, limit: usize) -> ClientResult<FilePage> {
        self.page(
            &["v1", "datasets", &hash.to_string(), "files"],
            after,
            limit,
        )
        .await
    }

    /// A published dataset's manifest, verified, and checked to be `hash`'s.
    ///
    /// # Errors
    ///
    /// [`ClientError`]; `Manifest` if it does not verify or is another.
    pub async fn manifest(&self, hash: B256) -> ClientResult<DatasetManifest> {
        let url = self.url(&["v1", "datasets", &hash.to_string(), "manifest"])?;
        let response = ok(self.http.get(url).send().await?).await?;
        let manifest = DatasetManifest::parse(&capped(response, MAX_ANSWER_BYTES).await?)
            .map_err(|e| ClientError::Manifest(e.to_string()))?;
        let found = manifest
            .verify()
            .map_err(|e| ClientError::Manifest(e.to_string()))?;
        if found != hash {
            return Err(ClientError::Manifest(format!(
                "the gateway served manifest {found} for {hash}"
            )));
        }
        Ok(manifest)
    }

    /// Publishes `manifest` (signed by `creator`'s key) and uploads the files of `dir` the
    /// gateway does not hold yet. Returns the dataset as the gateway then holds it.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the gateway's refusal (a file that does not match, say), or I/O.
    pub async fn publish(
        &self,
        manifest: &DatasetManifest,
        dir: &Path,
        creator: &PrivateKeySigner,
    ) -> ClientResult<Dataset> {
        let info = self.info().await?;
        let domain = GatewayDomain::new(info.domain.chain_id, info.domain.verifying_contract);
        let hash = manifest.hash();
        let request = PublishRequest {
            gateway: info.gateway,
            creator: creator.address(),
            manifest_hash: hash,
            expires_at: now() + REQUEST_LIFETIME,
            nonce: random_nonce(),
        };
        let publish = Signed::sign(&domain, creator, request)
            .map_err(|e| ClientError::Signing(e.to_string()))?;
        let body = serde_json::json!({ "manifest": manifest, "publish": publish });
        let mut dataset: Dataset = json(
            self.http
                .post(self.url(&["v1", "datasets"])?)
                .json(&body)
                .send()
                .await?,
        )
        .await?;
        if dataset.complete {
            return Ok(dataset);
        }
        for file in &manifest.files {
            dataset = self.upload(hash, dir, file).await?;
        }
        Ok(dataset)
    }

    async fn upload(&self, hash: B256, dir: &Path, file: &FileEntry) -> ClientResult<Dataset> {
        let location = dir.join(&file.path);
        let handle = tokio::fs::File::open(&location)
            .await
            .map_err(io(&location))?;
        let mut segments = vec!["v1", "datasets"];
        let hash_text = hash.to_string();
        segments.extend([hash_text.as_str(), "files"]);
        segments.extend(file.path.split('/'));
        let url = self.url(&segments)?;
        let chunks = futures::stream::try_unfold(handle, |mut handle| async move {
            let mut chunk = vec![0u8; 256 << 10];
            let n = handle.read(&mut chunk).await?;
            chunk.truncate(n);
            Ok::<_, std::io::Error>((n > 0).then_some((chunk, handle)))
        });
        let body = reqwest::Body::wrap_stream(chunks);
        let stored: crate::api::gateway::Stored = json(
            self.http
                .put(url)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_LENGTH, file.size)
                .body(body)
                .send()
                .await?,
        )
        .await?;
        Ok(stored.dataset)
    }

    /// Asks for access to the dataset of `license` under accepted terms `terms`, signing with
    /// `key` (the payer's, or a key it registered) for `payer`, for terms priced per sample or
    /// per inference (see [`Self::access_under`]).
    ///
    /// # Errors
    ///
    /// [`ClientError`]; `Refused` with the gateway's code when the chain does not entitle the
    /// payer (`terms_not_accepted`, `terms_expired`, `signer_not_registered`, …).
    pub async fn access(
        &self,
        key: &PrivateKeySigner,
        payer: Address,
        license: U256,
        terms: u64,
        manifest: B256,
    ) -> ClientResult<Grant> {
        self.access_under(key, payer, license, terms, manifest, Unit::Sample)
            .await
    }

    /// [`Self::access`] under terms priced per `unit`. For [`Unit::Access`], `key` also signs
    /// the receipt that pays for the access (docs/gateway.md §4a): one unit under the run
    /// [`access_run_id`] of the request, under the escrow domain of the gateway's `/v1/info`.
    /// The gateway forwards it to its relayer and grants only once the relayer has stored it.
    ///
    /// # Errors
    ///
    /// [`ClientError`]; under access terms also `Refused` with `payment_refused` (the relayer
    /// refused the receipt: no credit line for it, budget spent, …) or `not_chargeable_yet`.
    pub async fn access_under(
        &self,
        key: &PrivateKeySigner,
        payer: Address,
        license: U256,
        terms: u64,
        manifest: B256,
        unit: Unit,
    ) -> ClientResult<Grant> {
        let info = self.info().await?;
        let domain = GatewayDomain::new(info.domain.chain_id, info.domain.verifying_contract);
        let request = AccessRequest {
            gateway: info.gateway,
            payer,
            license_id: license,
            terms_id: terms,
            manifest_hash: manifest,
            expires_at: now() + REQUEST_LIFETIME,
            nonce: random_nonce(),
        };
        let signed =
            Signed::sign(&domain, key, request).map_err(|e| ClientError::Signing(e.to_string()))?;
        let receipt = if unit == Unit::Access {
            let escrow = EscrowDomain::new(info.domain.chain_id, info.domain.verifying_contract);
            let receipt = Receipt {
                payer,
                licenseId: license,
                termsId: terms,
                runId: access_run_id(signed.digest(&domain)),
                cumulativeSamples: 1,
                issuedAt: now(),
            };
            Some(
                SignedReceipt::sign(&escrow, key, &receipt)
                    .map_err(|e| ClientError::Signing(e.to_string()))?,
            )
        } else {
            None
        };
        self.send_access(&AccessCall::new(signed, receipt)).await
    }

    /// Sends an access request (and its receipt, if any) as it is. A refusal that can pass
    /// without a new request ([`RETRIED_ACCESS_CODES`]), or a failure to reach the gateway, is
    /// retried with the same request: under terms priced per access a new request would be a
    /// new access, paid again, while the same one is granted, and paid, once.
    ///
    /// # Errors
    ///
    /// [`ClientError`]; after [`ACCESS_ATTEMPTS`] attempts, the last one's.
    pub async fn send_access(&self, call: &AccessCall) -> ClientResult<Grant> {
        let mut wait = ACCESS_BACKOFF;
        let mut attempt = 1;
        loop {
            let answer = match self
                .http
                .post(self.url(&["v1", "access"])?)
                .json(call)
                .send()
                .await
            {
                Ok(response) => json(response).await,
                Err(e) => Err(e.into()),
            };
            let retried = match &answer {
                Err(ClientError::Refused { status, code, .. }) => {
                    *status == 503 && RETRIED_ACCESS_CODES.contains(&code.as_str())
                }
                Err(ClientError::Http(_)) => true,
                _ => false,
            };
            if !retried || attempt == ACCESS_ATTEMPTS {
                return answer;
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
            attempt += 1;
        }
    }

    /// Gets the dataset license `license` covers, as a payer would: reads the license from
    /// `nft` (and, unless `terms` names them, its current terms) and the unit its terms are
    /// priced per; fetches the manifest it records and checks that it verifies, is the
    /// license's, and is signed by the license's creator; asks for access signed by `key` for
    /// `payer` (paying for it under terms priced per access, [`Self::access_under`]); and
    /// downloads every file into `out` ([`Self::download`]).
    ///
    /// # Errors
    ///
    /// [`GetError`]: the step that failed.
    pub async fn get_licensed<P: Provider>(
        &self,
        nft: &LicenseNFT::LicenseNFTInstance<P>,
        license: U256,
        terms: Option<u64>,
        key: &PrivateKeySigner,
        payer: Address,
        out: &Path,
    ) -> Result<Fetched, GetError> {
        let chain = |what: &'static str| move |source| GetError::Chain { what, source };
        let gateway = |action: &'static str| move |source| GetError::Gateway { action, source };
        let record = nft
            .license(license)
            .call()
            .await
            .map_err(chain("license"))?;
        let terms = match terms {
            Some(terms) => terms,
            None => {
                nft.currentTerms(license)
                    .call()
                    .await
                    .map_err(chain("currentTerms"))?
                    .termsId
            }
        };
        let unit = nft.terms(terms).call().await.map_err(chain("terms"))?.unit;
        let unit = Unit::from_value(unit).ok_or(GetError::Unit { terms, unit })?;
        let manifest = self
            .manifest(record.manifestHash)
            .await
            .map_err(gateway("reading the manifest"))?;
        manifest.check_license(license, &record)?;
        let grant = self
            .access_under(key, payer, license, terms, record.manifestHash, unit)
            .await
            .map_err(gateway("asking for access"))?;
        let report = self
            .download(&grant, &manifest, out)
            .await
            .map_err(gateway("downloading"))?;
        Ok(Fetched {
            manifest,
            grant,
            report,
        })
    }

    /// Downloads every file of `manifest` (which must be the granted one and verify) into
    /// `out`, resuming `.part` files and checking each file (see the module's documentation).
    ///
    /// # Errors
    ///
    /// [`ClientError`]: a refusal (an expired grant: ask again and call this again, it resumes),
    /// [`ClientError::Tampered`] for a file that is not the manifest's, or I/O.
    pub async fn download(
        &self,
        grant: &Grant,
        manifest: &DatasetManifest,
        out: &Path,
    ) -> ClientResult<DownloadReport> {
        let hash = manifest
            .verify()
            .map_err(|e| ClientError::Manifest(e.to_string()))?;
        if hash != grant.manifest_hash {
            return Err(ClientError::Manifest(format!(
                "the grant is for {}, the manifest is {hash}",
                grant.manifest_hash
            )));
        }
        let mut report = DownloadReport::default();
        for file in &manifest.files {
            self.download_file(grant, file, out, &mut report).await?;
        }
        Ok(report)
    }

    async fn download_file(
        &self,
        grant: &Grant,
        file: &FileEntry,
        out: &Path,
        report: &mut DownloadReport,
    ) -> ClientResult<()> {
        // The manifest verified: its paths are relative, without `..`, inside `out`.
        let target = out.join(&file.path);
        if tokio::fs::metadata(&target)
            .await
            .is_ok_and(|m| m.len() == file.size)
        {
            let (size, hash) = hash_file(&target).await?;
            if size == file.size && hash == file.hash {
                report.kept += 1;
                return Ok(());
            }
        }
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(io(parent))?;
        }
        let part = PathBuf::from(format!("{}.part", target.display()));
        let mut hasher = Keccak256::new();
        let mut have = match tokio::fs::metadata(&part).await {
            Ok(m) if m.len() <= file.size => m.len(),
            _ => 0,
        };
        if have > 0 {
            prefix_hash(&part, &mut hasher).await?;
        }
        let mut url = Url::parse(&format!("{}/", grant.files))
            .map_err(|e| ClientError::Url(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|()| ClientError::Url(grant.files.clone()))?
            .pop_if_empty()
            .extend(file.path.split('/'));
        url.query_pairs_mut().append_pair("grant", &grant.token);
        let mut request = self.http.get(url);
        if have > 0 && have < file.size {
            request = request.header(header::RANGE, format!("bytes={have}-"));
        }
        let mut output;
        if have == file.size {
            output = None;
        } else {
            let mut response = ok(request.send().await?).await?;
            if response.status() == StatusCode::PARTIAL_CONTENT {
                report.resumed += 1;
                output = Some(
                    tokio::fs::OpenOptions::new()
                        .append(true)
                        .open(&part)
                        .await
                        .map_err(io(&part))?,
                );
            } else {
                // The whole file: start over.
                have = 0;
                hasher = Keccak256::new();
                output = Some(tokio::fs::File::create(&part).await.map_err(io(&part))?);
            }
            report.downloaded += 1;
            let writer = output.as_mut().expect("opened above");
            while let Some(chunk) = response.chunk().await? {
                have += chunk.len() as u64;
                if have > file.size {
                    break;
                }
                hasher.update(&chunk);
                report.bytes += chunk.len() as u64;
                writer.write_all(&chunk).await.map_err(io(&part))?;
            }
            writer.flush().await.map_err(io(&part))?;
        }
        let hash = hasher.finalize();
        if have != file.size || hash != file.hash {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(ClientError::Tampered {
                path: file.path.clone(),
                size: have,
                hash,
                expected_size: file.size,
                expected: file.hash,
            });
        }
        if let Some(output) = output {
            output.sync_all().await.map_err(io(&part))?;
        }
        tokio::fs::rename(&part, &target)
            .await
            .map_err(io(&target))?;
        Ok(())
    }
}

/// Feeds the bytes of `path` into `hasher`.
async fn prefix_hash(path: &Path, hasher: &mut Keccak256) -> ClientResult<u64> {
    let mut file = tokio::fs::File::open(path).await.map_err(io(path))?;
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buffer).await.map_err(io(path))?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
}

/// The size and keccak256 of a local file.
async fn hash_file(path: &Path) -> ClientResult<(u64, B256)> {
    let mut hasher = Keccak256::new();
    let size = prefix_hash(path, &mut hasher).await?;
    Ok((size, hasher.finalize()))
}

/// The response, or its error envelope as [`ClientError::Refused`].
async fn ok(response: reqwest::Response) -> ClientResult<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = capped(response, MAX_ERROR_BYTES).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => (body.error.code, body.error.message),
        Err(_) => ("http".to_owned(), text.chars().take(500).collect()),
    };
    Err(ClientError::Refused {
        status: status.as_u16(),
        code,
        message,
    })
}

async fn json<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> ClientResult<T> {
    let body = capped(ok(response).await?, MAX_ANSWER_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| ClientError::Malformed(e.to_string()))
}

/// The body of `response`, refused past `limit` bytes (read no further).
async fn capped(mut response: reqwest::Response, limit: usize) -> ClientResult<Vec<u8>> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(ClientError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(ClientError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A server answering every request with `200`, JSON, and a chunked body of `chunks` chunks
    /// of 1 MiB of spaces (valid JSON whitespace, never ending in a value).
    async fn endless(chunks: usize) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                transfer-encoding: chunked\r\n\r\n";
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let chunk = vec![b' '; 1 << 20];
                    for _ in 0..chunks {
                        let size = format!("{:x}\r\n", chunk.len());
                        let sent = async {
                            socket.write_all(size.as_bytes()).await?;
                            socket.write_all(&chunk).await?;
                            socket.write_all(b"\r\n").await
                        };
                        if sent.await.is_err() {
                            return;
                        }
                    }
                    let _ = socket.write_all(b"0\r\n\r\n").await;
                });
            }
        });
        url
    }

    #[tokio::test]
    async fn an_answer_past_the_cap_is_refused_not_read_to_its_end() {
        let client = GatewayClient::new(&endless(MAX_ANSWER_BYTES / (1 << 20) + 8).await).unwrap();
        let refused = client.info().await.unwrap_err();
        assert!(
            matches!(refused, ClientError::TooLarge { limit } if limit == MAX_ANSWER_BYTES),
            "{refused}"
        );
        // Under the cap, spaces are read to the end and are not the JSON expected.
        let client = GatewayClient::new(&endless(2).await).unwrap();
        let malformed = client.info().await.unwrap_err();
        assert!(
            matches!(malformed, ClientError::Malformed(_)),
            "{malformed}"
        );
    }

    /// A gateway that refuses the first `refusals` access requests with `503 code`, then
    /// grants; it keeps every body it was sent.
    async fn flaky_gateway(
        refusals: usize,
        code: &'static str,
    ) -> (
        String,
        std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    ) {
        use axum::{http::StatusCode, routing::post, Json, Router};
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = bodies.clone();
        let app = Router::new().route(
            "/v1/access",
            post(move |Json(body): Json<serde_json::Value>| {
                let seen = seen.clone();
                async move {
                    let call: AccessCall = serde_json::from_value(body.clone()).unwrap();
                    let n = {
                        let mut bodies = seen.lock().unwrap();
                        bodies.push(body);
                        bodies.len()
                    };
                    if n <= refusals {
                        let error =
                            serde_json::json!({"error": {"code": code, "message": "later"}});
                        return (StatusCode::SERVICE_UNAVAILABLE, Json(error));
                    }
                    let r = call.request;
                    let grant = serde_json::json!({
                        "accessId": B256::repeat_byte(1), "manifestHash": r.manifest_hash,
                        "licenseId": r.license_id.to_string(), "termsId": r.terms_id.to_string(),
                        "payer": r.payer, "chargeableFrom": "0", "expiresAt": "1",
                        "unit": "access", "token": "t", "files": "f",
                    });
                    (StatusCode::OK, Json(grant))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, bodies)
    }

    fn call() -> AccessCall {
        let key = PrivateKeySigner::random();
        let request = AccessRequest {
            gateway: "http://gateway".to_owned(),
            payer: key.address(),
            license_id: U256::from(2),
            terms_id: 2,
            manifest_hash: B256::repeat_byte(9),
            expires_at: now() + 60,
            nonce: random_nonce(),
        };
        let domain = GatewayDomain::new(31337, Address::repeat_byte(0xe5));
        AccessCall::new(Signed::sign(&domain, &key, request).unwrap(), None)
    }

    /// A relayer or database briefly down: the same request is sent again (so an access priced
    /// per access is paid once), until it is granted; a refusal of the request itself is not
    /// retried, and the retries stop after `ACCESS_ATTEMPTS`.
    #[tokio::test]
    async fn access_requests_are_retried_as_they_are_only_when_they_may_pass() {
        let (url, bodies) = flaky_gateway(2, "relayer_unavailable").await;
        let call = call();
        let grant = GatewayClient::new(&url)
            .unwrap()
            .send_access(&call)
            .await
            .unwrap();
        assert_eq!(grant.license_id, U256::from(2));
        let bodies = bodies.lock().unwrap().clone();
        assert_eq!(bodies.len(), 3);
        assert!(bodies
            .iter()
            .all(|b| *b == serde_json::to_value(&call).unwrap()));

        let (url, bodies) = flaky_gateway(1, "payment_refused").await;
        let refused = GatewayClient::new(&url)
            .unwrap()
            .send_access(&call)
            .await
            .unwrap_err();
        assert!(
            matches!(refused, ClientError::Refused { ref code, .. } if code == "payment_refused")
        );
        assert_eq!(bodies.lock().unwrap().len(), 1, "not retried");

        let (url, bodies) = flaky_gateway(usize::MAX, "store_unavailable").await;
        let refused = GatewayClient::new(&url)
            .unwrap()
            .send_access(&call)
            .await
            .unwrap_err();
        assert!(matches!(refused, ClientError::Refused { status: 503, .. }));
        assert_eq!(bodies.lock().unwrap().len(), ACCESS_ATTEMPTS as usize);
    }
}
