//! Blobs in an S3-compatible bucket, under an optional prefix
//! (`<prefix>/<first two hex digits>/<hash hex>`), through the `object_store` crate.
//!
//! An upload streams into the bucket as it is checked: a small one is buffered and written
//! with one `PUT` once it checks out, a large one goes up as a multipart upload that is
//! completed only when it checks out and aborted otherwise, so no refused byte is ever visible
//! under a blob's name. An upload cut off by a killed process leaves an incomplete multipart
//! upload, invisible and billed until the bucket's lifecycle rule
//! (`AbortIncompleteMultipartUpload`) removes it (docs/gateway.md).

use std::{fmt, sync::Arc, time::Duration};

use alloy::primitives::B256;
use axum::{
    body::{Body, Bytes},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::Response,
};
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::{
    aws::{AmazonS3Builder, AmazonS3ConfigKey},
    buffered::BufWriter,
    path::Path,
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig,
};

use super::{
    blob_name,
    check::Expected,
    range::{asked, Asked},
    PutError, StorageError,
};

/// The smallest part of a multipart upload, and the most an upload buffers before starting
/// one. S3 takes at most 10,000 parts, so larger files get larger parts.
const MIN_PART: u64 = 16 << 20;

/// Most parts of one upload in flight at once (the memory one upload holds is about this many
/// parts).
const PARTS_IN_FLIGHT: usize = 2;

/// Retries of a failed request to the bucket: a few, within seconds, so that a bucket that is
/// down fails a request (503 `storage_unavailable`) and `/ready` quickly instead of after the
/// crate's default of minutes.
fn retry() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(10),
        ..RetryConfig::default()
    }
}

/// Blobs in a bucket.
#[derive(Clone)]
pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    label: String,
}

impl fmt::Debug for ObjectBlobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectBlobs")
            .field("at", &self.label)
            .finish_non_exhaustive()
    }
}

impl ObjectBlobs {
    /// Blobs in `store` under `prefix`; `label` names them in logs.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, label: impl Into<String>) -> Self {
        Self {
            store,
            prefix: Path::from(prefix),
            label: label.into(),
        }
    }

    /// The bucket and prefix of `url` (`s3://<bucket>[/<prefix>]`), with the endpoint,
    /// credentials and region the AWS tools read from the environment (`AWS_ENDPOINT_URL`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ALLOW_HTTP`, …).
    ///
    /// # Errors
    ///
    /// If the URL is not an `s3://` URL or the settings are incomplete.
    pub fn s3_from_env(url: &str) -> Result<Self, StorageError> {
        Self::s3(url, AmazonS3Builder::from_env())
    }

    /// The bucket and prefix of `url` (`s3://<bucket>[/<prefix>]`) with the other settings of
    /// `builder` (endpoint, credentials, region…).
    ///
    /// # Errors
    ///
    /// If the URL is not an `s3://` URL or the settings are incomplete.
    pub fn s3(url: &str, builder: AmazonS3Builder) -> Result<Self, StorageError> {
        let parsed =
            url::Url::parse(url).map_err(|e| StorageError(format!("storage URL {url:?}: {e}")))?;
        let bucket = parsed.host_str().unwrap_or_default();
        if parsed.scheme() != "s3" || bucket.is_empty() {
            return Err(StorageError(format!(
                "storage URL {url:?}: expected s3://<bucket>[/<prefix>]"
            )));
        }
        let endpoint = builder
            .get_config_value(&AmazonS3ConfigKey::Endpoint)
            .unwrap_or_else(|| "AWS".to_owned());
        let store = builder
            .with_retry(retry())
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| StorageError(format!("storage {url}: {e}")))?;
        Ok(Self::new(
            Arc::new(store),
            parsed.path().trim_matches('/'),
            format!("{url} at {endpoint}"),
        ))
    }

    /// The blob's object name.
    pub fn path(&self, hash: B256) -> Path {
        self.under(&blob_name(hash))
    }

    /// The object `name` (`/`-separated) under the prefix.
    fn under(&self, name: &str) -> Path {
        Path::from(format!("{}/{name}", self.prefix).trim_start_matches('/'))
    }

    /// Whether the blob is stored.
    ///
    /// # Errors
    ///
    /// If the bucket does not answer or refuses.
    pub async fn contains(&self, hash: B256) -> Result<bool, StorageError> {
        match self.store.head(&self.path(hash)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores the bytes of `body` as the blob `expected` of `size` bytes, refusing anything
    /// else; a refused upload is aborted, so nothing appears under the blob's name. Returns the
    /// bytes' SHA-256.
    ///
    /// # Errors
    ///
    /// [`PutError`]: too large, other bytes, a body that broke off, a bucket that fails.
    pub async fn put<S, E>(&self, expected: B256, size: u64, mut body: S) -> Result<B256, PutError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: fmt::Display,
    {
        let part = MIN_PART.max(size.div_ceil(9_000));
        let mut writer = BufWriter::with_capacity(
            Arc::clone(&self.store),
            self.path(expected),
            usize::try_from(part).unwrap_or(usize::MAX),
        )
        .with_max_concurrency(PARTS_IN_FLIGHT);
        let mut check = Expected::new(expected, size);
        let result = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| PutError::Body(e.to_string()))?;
                check.take(&chunk)?;
                writer.put(chunk).await?;
            }
            check.finish()
        }
        .await;
        match result {
            Ok(sha256) => {
                tokio::io::AsyncWriteExt::shutdown(&mut writer)
                    .await
                    .map_err(StorageError::from)?;
                Ok(sha256)
            }
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(%expected, error = %abort, "aborting a refused upload");
                }
                Err(e)
            }
        }
    }

    /// Answers a request with `headers` for the blob `hash` of `size` bytes: the whole blob,
    /// its one range asked, or 416.
    ///
    /// # Errors
    ///
    /// If the bucket fails before the answer starts.
    pub async fn serve(
        &self,
        hash: B256,
        size: u64,
        headers: &HeaderMap,
    ) -> Result<Response, StorageError> {
        let builder = Response::builder().header(header::ACCEPT_RANGES, "bytes");
        let (builder, range) = match asked(headers, size) {
            Asked::Unsatisfiable => {
                return Ok(builder
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                    .body(Body::empty())
                    .expect("a valid response"));
            }
            Asked::Whole => (builder.status(StatusCode::OK), 0..size),
            Asked::Part(r) => (
                builder.status(StatusCode::PARTIAL_CONTENT).header(
                    header::CONTENT_RANGE,
                    format!("bytes {}-{}/{size}", r.start(), r.end()),
                ),
                *r.start()..*r.end() + 1,
            ),
        };
        let length = range.end - range.start;
        let body = if length == 0 {
            Body::empty()
        } else {
            let options = GetOptions {
                range: Some(GetRange::Bounded(range)),
                ..GetOptions::default()
            };
            let got = self.store.get_opts(&self.path(hash), options).await?;
            Body::from_stream(got.into_stream().map_err(std::io::Error::other))
        };
        Ok(builder
            .header(header::CONTENT_LENGTH, HeaderValue::from(length))
            .body(body)
            .expect("a valid response"))
    }

    /// Whether the bucket answers: a `HEAD` of an object that need not exist.
    pub async fn ping(&self) -> bool {
        let probe = self.under("ready");
        matches!(
            self.store.head(&probe).await,
            Ok(_) | Err(object_store::Error::NotFound { .. })
        )
    }

    /// The bucket and endpoint, for the logs.
    pub fn describe(&self) -> String {
        self.label.clone()
    }
}
