//! Object storage for product files and preview images, through `object_store`: a local folder
//! by default (`file://`), or an S3-compatible bucket (`s3://`, which several nodes share).
//!
//! Uploads stream into a temporary object while their sha256 is computed, then move to a key
//! named by that hash (`files/<sha256>`, `previews/<sha256>.<ext>`): two products can never
//! overwrite each other's files, and identical uploads share one object.

// `--cfg folio_portable` builds the other platforms' wiring on Linux, to check that it compiles
// (`cargo xtask test` does: see xtask's `check_portable`).
#[cfg(all(target_os = "linux", not(folio_portable)))]
mod linux;
mod portable;
mod presign;
pub mod sniff;

#[cfg(all(target_os = "linux", not(folio_portable)))]
use linux as fast;
#[cfg(any(not(target_os = "linux"), folio_portable))]
use portable as fast;

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::prefix::PrefixStore;
use object_store::signer::Signer;
use object_store::{
    local::LocalFileSystem, path::Path, Attribute, Attributes, GetOptions, GetRange,
    GetResultPayload, MultipartUpload, ObjectStore, PutMultipartOptions, PutPayloadMut,
};

use crate::config::{S3Location, StorageLocation};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
pub use sniff::{Kind, Purpose};

const PART_SIZE: usize = 5 * 1024 * 1024;
/// Read size for local files: large enough that thread hops do not dominate, small enough that
/// a slow client holds little memory (one chunk in flight per download).
const READ_CHUNK: usize = 2 * SEND_SLICE;
/// What each read is handed to the HTTP layer in. actix copies a body chunk into the connection's
/// write buffer and frees that buffer after the flush when it grew past 128 KiB; slices below
/// that (with room for the response head) keep one buffer for the life of the connection.
const SEND_SLICE: usize = 120 * 1024;

/// Streams `range` of a local file: [`READ_CHUNK`] bytes per read, handed on in [`SEND_SLICE`]
/// pieces.
///
/// A read is first tried from the page cache alone (Linux's `read_cached`), right here on the async
/// worker: a cached read is a memory copy, and handing it to the blocking pool cost two thread
/// wake-ups per chunk, which dominated the profile of 1 MiB downloads. A read that would wait for
/// the disk goes to the blocking pool as before.
///
/// One buffer serves the whole download: the HTTP layer copies each slice into its write buffer
/// and drops it before asking for the next, so after the last slice of a read the buffer comes
/// back unshared and is read into again. Allocating (and zeroing) a fresh buffer per chunk, and
/// actix reallocating its write buffer for chunks over 128 KiB, put page faults, memset, munmap
/// and TLB shootdowns at the top of the download profile (`cargo xtask bench`).
fn file_stream(
    file: std::fs::File,
    range: std::ops::Range<u64>,
) -> BoxStream<'static, Result<Bytes, object_store::Error>> {
    file_stream_reading(file, range, true)
}

/// [`file_stream`]; with `try_cached` false every read goes to the blocking pool.
fn file_stream_reading(
    file: std::fs::File,
    range: std::ops::Range<u64>,
    try_cached: bool,
) -> BoxStream<'static, Result<Bytes, object_store::Error>> {
    struct State {
        file: Option<std::fs::File>,
        pos: u64,
        end: u64,
        /// What is left of the last read, still to be handed on.
        pending: Bytes,
        /// The last read whole, kept to be read into again.
        buffer: Option<Bytes>,
        /// False once the file system has said it cannot read without waiting.
        try_cached: bool,
    }
    let state = State {
        file: Some(file),
        pos: range.start,
        end: range.end,
        pending: Bytes::new(),
        buffer: None,
        try_cached,
    };
    futures_util::stream::try_unfold(state, |mut st| async move {
        if st.pending.is_empty() {
            let Some(file) = st.file.take().filter(|_| st.pos < st.end) else {
                return Ok(None);
            };
            let len = (st.end - st.pos).min(READ_CHUNK as u64) as usize;
            let mut buf = st
                .buffer
                .take()
                .and_then(|b| b.try_into_mut().ok())
                .unwrap_or_default();
            // Only bytes beyond what the buffer already holds are zeroed: the first read's.
            if buf.len() < len {
                buf.resize(len, 0);
            }
            buf.truncate(len);
            let pos = st.pos;
            // Ok: read from the page cache (possibly short: the rest was not cached, or is read
            // next time); Err: the buffer back, for the blocking pool.
            let cached = match st
                .try_cached
                .then(|| fast::read_cached(&file, &mut buf, pos))
            {
                Some(Ok(n)) if n > 0 => {
                    buf.truncate(n);
                    Ok(buf.freeze())
                }
                // Not cached (or the end came early: the blocking read reports that).
                Some(Ok(_)) | None => Err(buf),
                Some(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => Err(buf),
                Some(Err(_)) => {
                    st.try_cached = false;
                    Err(buf)
                }
            };
            let (file, chunk) = match cached {
                Ok(chunk) => (file, chunk),
                Err(mut buf) => tokio::task::spawn_blocking(move || {
                    portable::read_exact_at(&file, &mut buf, pos)?;
                    Ok::<_, std::io::Error>((file, buf.freeze()))
                })
                .await
                .map_err(|e| object_store::Error::Generic {
                    store: "LocalFileSystem",
                    source: Box::new(e),
                })?
                .map_err(|e| object_store::Error::Generic {
                    store: "LocalFileSystem",
                    source: Box::new(e),
                })?,
            };
            st.file = Some(file);
            st.pos += chunk.len() as u64;
            st.pending = chunk.clone();
            st.buffer = Some(chunk);
        }
        let slice = st.pending.split_to(st.pending.len().min(SEND_SLICE));
        Ok(Some((slice, st)))
    })
    .boxed()
}

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// For a local folder with the platform's fast paths (Linux): the folder, opened once, to
    /// open objects in without a thread hop.
    local_dir: Option<Arc<fast::Dir>>,
    /// For a bucket: the store itself (its credentials sign URLs), the prefix `store` adds to
    /// keys, and the bucket's region.
    s3: Option<(Arc<AmazonS3>, Path, String)>,
}

/// An object that reached its content-addressed key.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub key: String,
    pub size: i64,
    pub sha256: String,
    pub content_type: &'static str,
    pub extension: &'static str,
    /// False when an identical object was already stored (and is shared now).
    pub created: bool,
}

/// Why an upload was refused; the field name is filled in by the caller.
#[derive(Debug)]
pub enum UploadError {
    TooLarge {
        limit: u64,
    },
    Unsupported(String),
    /// The client's stream failed (disconnect, malformed multipart).
    Client(String),
    Store(object_store::Error),
}

impl UploadError {
    pub fn into_api(self, field: &'static str) -> ApiError {
        match self {
            UploadError::TooLarge { limit } => ApiError::PayloadTooLarge { field, limit },
            UploadError::Unsupported(message) => ApiError::UnsupportedFileType { field, message },
            UploadError::Client(detail) => ApiError::bad_request("invalid_multipart", detail),
            UploadError::Store(e) => e.into(),
        }
    }
}

impl Storage {
    /// A local folder, with the platform's fast paths for downloads where it has them.
    pub fn local(root: &std::path::Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)?;
        let store = LocalFileSystem::new_with_prefix(root)?;
        Ok(Self {
            store: Arc::new(store),
            local_dir: Some(Arc::new(fast::open_dir(root)?)),
            s3: None,
        })
    }

    /// A local folder read the portable way on every platform (as on those without fast
    /// paths): the tests run downloads through it on Linux too.
    pub fn local_portable(root: &std::path::Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(Self::new(Arc::new(LocalFileSystem::new_with_prefix(root)?)))
    }

    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            local_dir: None,
            s3: None,
        }
    }

    /// The store `FOLIO_STORAGE_URL` names (nothing is contacted yet).
    pub fn open(location: &StorageLocation) -> anyhow::Result<Self> {
        match location {
            StorageLocation::Local(dir) => Self::local(dir),
            StorageLocation::S3(s3) => Self::s3(s3),
        }
    }

    /// An S3-compatible bucket, with path-style requests when an endpoint is given (SeaweedFS,
    /// MinIO, Ceph and the like).
    pub fn s3(location: &S3Location) -> anyhow::Result<Self> {
        let mut builder = match (&location.access_key_id, &location.secret_access_key) {
            (Some(id), Some(secret)) => {
                let mut b = AmazonS3Builder::new()
                    .with_access_key_id(id)
                    .with_secret_access_key(String::from_utf8_lossy(secret.expose()));
                if let Some(token) = &location.session_token {
                    b = b.with_token(String::from_utf8_lossy(token.expose()));
                }
                b
            }
            // The machine's credentials (instance role, web identity, container), as the AWS
            // SDKs find them.
            _ => AmazonS3Builder::from_env(),
        };
        builder = builder
            .with_bucket_name(&location.bucket)
            .with_region(&location.region)
            // A store that does not answer is an outage to report within seconds, not minutes
            // (object_store retries for up to 3 minutes by default).
            .with_retry(object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(15),
                ..Default::default()
            })
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_connect_timeout(std::time::Duration::from_secs(5)),
            );
        if let Some(endpoint) = &location.endpoint {
            builder = builder
                .with_endpoint(endpoint.as_str().trim_end_matches('/'))
                .with_allow_http(endpoint.scheme() == "http")
                .with_virtual_hosted_style_request(false);
        }
        let bucket = Arc::new(builder.build()?);
        let prefix = Path::from(location.prefix.as_str());
        let store: Arc<dyn ObjectStore> = if location.prefix.is_empty() {
            bucket.clone()
        } else {
            let inner: Arc<dyn ObjectStore> = bucket.clone();
            Arc::new(PrefixStore::new(inner, prefix.clone()))
        };
        Ok(Self {
            store,
            local_dir: None,
            s3: Some((bucket, prefix, location.region.clone())),
        })
    }

    /// Whether the store answers: `/readyz` asks before a node takes traffic.
    pub async fn probe(&self) -> Result<(), object_store::Error> {
        let probe = Path::from("readyz-probe");
        let asked = self.store.head(&probe);
        match tokio::time::timeout(std::time::Duration::from_secs(3), asked).await {
            Ok(Ok(_)) | Ok(Err(object_store::Error::NotFound { .. })) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(object_store::Error::Generic {
                store: if self.s3.is_some() {
                    "S3"
                } else {
                    "LocalFileSystem"
                },
                source: "no answer within 3 s".into(),
            }),
        }
    }

    /// A URL that fetches `key` without credentials until `expires_in` has passed, answered
    /// with these `Content-Disposition` and `Content-Type` (only for a bucket: None for a
    /// folder). The headers travel in the signed URL, not with the object: one object may be
    /// two products' files under two names, and a file may be renamed after its upload.
    pub async fn presigned_get(
        &self,
        key: &str,
        expires_in: std::time::Duration,
        disposition: &str,
        content_type: &str,
    ) -> Option<Result<url::Url, object_store::Error>> {
        let (bucket, prefix, region) = self.s3.as_ref()?;
        let path = if prefix.as_ref().is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{prefix}/{key}"))
        };
        Some(
            async {
                // object_store's URL for the object (its host, port and encoded path), signed
                // again with the response headers in the query.
                let mut object = bucket
                    .signed_url(http::Method::GET, &path, expires_in)
                    .await?;
                object.set_query(None);
                let credential = bucket.credentials().get_credential().await?;
                Ok(presign::presign_get(
                    &object,
                    &presign::Credentials {
                        key_id: &credential.key_id,
                        secret: &credential.secret_key,
                        token: credential.token.as_deref(),
                        region,
                    },
                    chrono::Utc::now(),
                    expires_in.as_secs(),
                    &[
                        ("response-content-disposition", disposition),
                        ("response-content-type", content_type),
                    ],
                ))
            }
            .await,
        )
    }

    /// Streams `body` into storage, refusing it past `max_bytes` or when its content is not what
    /// `purpose` accepts. On any error nothing is left behind.
    ///
    /// In a bucket a file carries `Content-Disposition: attachment` with the name it was
    /// uploaded as (made safe, with the extension of its content, as the product shows it), for
    /// whoever reads the bucket directly; identical content uploaded again keeps the first
    /// upload's name. A presigned download names the file in its URL instead.
    ///
    /// The parts go up at most two at a time; if anything fails (the client, the size, a part,
    /// the completion) the multipart upload is aborted, so the bucket keeps no unfinished
    /// upload.
    pub async fn put_stream<S, E>(
        &self,
        mut body: S,
        max_bytes: u64,
        purpose: Purpose,
        uploaded_name: Option<&str>,
    ) -> Result<StoredObject, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        // Read enough to recognise the content before writing anything.
        let mut head = Vec::new();
        let mut ended = false;
        while head.len() < sniff::SNIFF_LEN {
            match body.next().await {
                Some(Ok(chunk)) => head.extend_from_slice(&chunk),
                Some(Err(e)) => return Err(UploadError::Client(e.to_string())),
                None => {
                    ended = true;
                    break;
                }
            }
            if head.len() as u64 > max_bytes {
                return Err(UploadError::TooLarge { limit: max_bytes });
            }
        }
        let kind = purpose.accept(&head).ok_or_else(|| {
            UploadError::Unsupported(format!("the content is not {}", purpose.describe()))
        })?;

        let temp = Path::from(format!("tmp/{}", uuid::Uuid::new_v4()));
        let mut options = PutMultipartOptions::default();
        if self.s3.is_some() {
            // A folder cannot keep attributes; a bucket serves them with the object.
            let mut attributes = Attributes::new();
            attributes.insert(Attribute::ContentType, kind.content_type().into());
            if purpose == Purpose::File {
                let name =
                    crate::catalog::safe_file_name(uploaded_name, "download", kind.extension());
                attributes.insert(
                    Attribute::ContentDisposition,
                    crate::downloads::routes::content_disposition(&name).into(),
                );
            }
            options.attributes = attributes;
        }
        let upload = self
            .store
            .put_multipart_opts(&temp, options)
            .await
            .map_err(UploadError::Store)?;
        let mut parts = Parts::new(upload);
        let mut hasher = Sha256::new();
        let mut size = head.len() as u64;
        hasher.update(&head);

        let streamed: Result<(), UploadError> = async {
            parts.write(&head).await.map_err(UploadError::Store)?;
            if !ended {
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.map_err(|e| UploadError::Client(e.to_string()))?;
                    size += chunk.len() as u64;
                    if size > max_bytes {
                        return Err(UploadError::TooLarge { limit: max_bytes });
                    }
                    hasher.update(&chunk);
                    parts.write(&chunk).await.map_err(UploadError::Store)?;
                }
            }
            parts.finish().await.map_err(UploadError::Store)
        }
        .await;
        if let Err(e) = streamed {
            parts.abort().await;
            return Err(e);
        }

        let sha256 = hex::encode(hasher.finalize());
        let key = match purpose {
            Purpose::File => format!("files/{sha256}"),
            Purpose::Preview => format!("previews/{sha256}.{}", kind.extension()),
        };
        let created = match self.settle(&temp, &Path::from(key.as_str())).await {
            Ok(()) => true,
            Err(object_store::Error::AlreadyExists { .. }) => {
                self.store.delete(&temp).await.map_err(UploadError::Store)?;
                false
            }
            Err(e) => {
                let _ = self.store.delete(&temp).await;
                return Err(UploadError::Store(e));
            }
        };
        Ok(StoredObject {
            key,
            size: size as i64,
            sha256,
            content_type: kind.content_type(),
            extension: kind.extension(),
            created,
        })
    }

    /// Moves an upload from its temporary key to its content's key, unless an object is there
    /// already (`AlreadyExists`: the same content, which the caller then shares).
    ///
    /// A folder renames atomically. S3 has no rename, and no conditional copy that every
    /// S3-compatible server offers: the key is looked up, then copied to (the copy keeps the
    /// upload's attributes). Two identical uploads racing may both copy, harmlessly: the content
    /// is the same.
    async fn settle(&self, temp: &Path, key: &Path) -> Result<(), object_store::Error> {
        if self.s3.is_none() {
            return self.store.rename_if_not_exists(temp, key).await;
        }
        match self.store.head(key).await {
            Ok(_) => {
                return Err(object_store::Error::AlreadyExists {
                    path: key.to_string(),
                    source: "stored before".into(),
                })
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        self.store.copy(temp, key).await?;
        // The content is at its key now: failing the upload here would leave that object with
        // no row. The temporary copy is only logged (nothing reads `tmp/`).
        if let Err(e) = self.store.delete(temp).await {
            tracing::warn!(key = %temp, error = %e, "could not remove an upload's temporary object");
        }
        Ok(())
    }

    /// Stores a small object whole (a stamping plan), replacing what `key` held.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<(), object_store::Error> {
        self.store
            .put(
                &Path::from(key),
                object_store::PutPayload::from_bytes(bytes),
            )
            .await
            .map(drop)
    }

    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes objects this request created, logging (not failing) on error: used to undo an
    /// operation that failed after its uploads were stored.
    pub async fn discard(&self, objects: &[&StoredObject]) {
        for object in objects.iter().filter(|o| o.created) {
            if let Err(e) = self.delete(&object.key).await {
                tracing::error!(key = %object.key, error = %e, "could not remove an orphaned object");
            }
        }
    }

    /// Streams an object, or the byte range `start..end` of it.
    pub async fn get(
        &self,
        key: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, object_store::Error>>, object_store::Error> {
        if let Some(file) = self
            .local_dir
            .as_deref()
            .and_then(|dir| fast::open_cached(dir, key))
        {
            // fstat of an open file reads the inode in memory.
            if let Ok(size) = file.metadata().map(|m| m.len()) {
                let range = range.clone().unwrap_or(0..size);
                if range.start <= range.end && range.end <= size {
                    return Ok(file_stream(file, range));
                }
            }
            // A range past the end: object_store reports it.
        }
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let result = self.store.get_opts(&Path::from(key), options).await?;
        Ok(match result.payload {
            // object_store reads local files 8 KiB per blocking task; a download then spends
            // its time hopping threads. Larger reads, still one blocking task at a time.
            GetResultPayload::File(file, _) => {
                file_stream_reading(file, result.range, self.local_dir.is_some())
            }
            GetResultPayload::Stream(stream) => stream,
        })
    }

    /// Every key under `prefix` (tests use this to prove nothing was left behind).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, object_store::Error> {
        let prefix = Path::from(prefix);
        let mut keys = Vec::new();
        let mut listing = self.store.list(Some(&prefix));
        while let Some(meta) = listing.next().await {
            keys.push(meta?.location.to_string());
        }
        Ok(keys)
    }
}

/// A multipart upload fed in `PART_SIZE` parts, at most two in flight, which this keeps hold of
/// to the end: `object_store`'s `WriteMultipart` gives the upload up when its completion fails,
/// and the unfinished upload would stay in the bucket.
struct Parts {
    upload: Box<dyn MultipartUpload>,
    /// Filled in 8 KiB blocks, as `WriteMultipart` does (one 5 MiB buffer per part measured a
    /// few MB more of peak RSS in `cargo xtask bench --cluster`'s 1 GiB upload).
    buffer: PutPayloadMut,
    in_flight: tokio::task::JoinSet<Result<(), object_store::Error>>,
    sent: usize,
}

impl Parts {
    fn new(upload: Box<dyn MultipartUpload>) -> Self {
        Self {
            upload,
            buffer: PutPayloadMut::new(),
            in_flight: tokio::task::JoinSet::new(),
            sent: 0,
        }
    }

    async fn write(&mut self, mut data: &[u8]) -> Result<(), object_store::Error> {
        while !data.is_empty() {
            let take = (PART_SIZE - self.buffer.content_length()).min(data.len());
            self.buffer.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buffer.content_length() == PART_SIZE {
                self.send().await?;
            }
        }
        Ok(())
    }

    /// Sends the buffer as the next part, once fewer than two are in flight.
    async fn send(&mut self) -> Result<(), object_store::Error> {
        while self.in_flight.len() >= 2 {
            self.join_one().await?;
        }
        let part = std::mem::take(&mut self.buffer);
        self.in_flight.spawn(self.upload.put_part(part.freeze()));
        self.sent += 1;
        Ok(())
    }

    async fn join_one(&mut self) -> Result<(), object_store::Error> {
        match self.in_flight.join_next().await {
            None => Ok(()),
            Some(Ok(sent)) => sent,
            Some(Err(e)) => Err(object_store::Error::Generic {
                store: "multipart upload",
                source: Box::new(e),
            }),
        }
    }

    /// The last part (the only one, possibly empty, for a small object), then the completion.
    async fn finish(&mut self) -> Result<(), object_store::Error> {
        if !self.buffer.is_empty() || self.sent == 0 {
            self.send().await?;
        }
        while !self.in_flight.is_empty() {
            self.join_one().await?;
        }
        self.upload.complete().await.map(drop)
    }

    /// Stops the parts in flight and asks the store to drop the upload (logged if it cannot).
    async fn abort(&mut self) {
        self.in_flight.abort_all();
        while self.in_flight.join_next().await.is_some() {}
        if let Err(e) = self.upload.abort().await {
            tracing::warn!(error = %e, "could not abort a multipart upload");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("folio-storage-{name}-{}", std::process::id()))
    }

    async fn collect(
        path: &std::path::Path,
        range: std::ops::Range<u64>,
        try_cached: bool,
    ) -> Vec<u8> {
        let file = std::fs::File::open(path).unwrap();
        let chunks: Vec<Bytes> = file_stream_reading(file, range, try_cached)
            .map(|c| c.unwrap())
            .collect()
            .await;
        assert!(chunks
            .iter()
            .all(|c| !c.is_empty() && c.len() <= SEND_SLICE));
        chunks.concat()
    }

    #[tokio::test]
    async fn both_ways_of_reading_stream_exactly_the_range() {
        let path = scratch("ranges");
        let len = 3 * READ_CHUNK + 12_345;
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let ranges = [
            0..len as u64,
            1..2,
            (READ_CHUNK - 1) as u64..(2 * READ_CHUNK + 1) as u64,
            (len - 10) as u64..len as u64,
            5..5,
        ];
        for range in ranges {
            let expected = &data[range.start as usize..range.end as usize];
            for try_cached in [true, false] {
                let got = collect(&path, range.clone(), try_cached).await;
                assert_eq!(got, expected, "{range:?}, cached first: {try_cached}");
            }
        }
        std::fs::remove_file(path).unwrap();
    }

    #[cfg(all(target_os = "linux", not(folio_portable)))]
    #[test]
    fn a_file_just_written_is_read_from_the_page_cache() {
        use super::linux::read_cached;
        let path = scratch("cached");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(read_cached(&file, &mut buf, 3).unwrap(), 4);
        assert_eq!(&buf, b"3456");
        assert_eq!(read_cached(&file, &mut buf, 10).unwrap(), 0, "the end");
        std::fs::remove_file(path).unwrap();
    }

    #[cfg(all(target_os = "linux", not(folio_portable)))]
    #[test]
    fn objects_are_opened_from_the_cache_inside_the_folder_only() {
        use super::linux::open_cached;
        let root = scratch("open");
        std::fs::create_dir_all(root.join("files")).unwrap();
        std::fs::write(root.join("files/abc"), b"x").unwrap();
        std::fs::write(root.with_extension("outside"), b"y").unwrap();
        let dir: std::os::fd::OwnedFd = std::fs::File::open(&root).unwrap().into();
        // Just written and looked up: cached.
        let _ = std::fs::metadata(root.join("files/abc")).unwrap();
        assert!(open_cached(&dir, "files/abc").is_some());
        for refused in [
            "files/missing",
            "../open.outside",
            "files/../../open.outside",
            "/etc/passwd",
            "files/ABC",
            "",
        ] {
            assert!(open_cached(&dir, refused).is_none(), "{refused}");
        }
        std::fs::remove_dir_all(&root).unwrap();
        let _ = std::fs::remove_file(root.with_extension("outside"));
    }

    #[tokio::test]
    async fn a_file_cut_short_is_an_error_not_a_short_download() {
        let path = scratch("short");
        std::fs::write(&path, vec![1u8; 1000]).unwrap();
        for try_cached in [true, false] {
            let file = std::fs::File::open(&path).unwrap();
            let results: Vec<_> = file_stream_reading(file, 0..2000, try_cached)
                .collect()
                .await;
            assert!(
                results.last().is_some_and(|r| r.is_err()),
                "cached first: {try_cached}: {results:?}"
            );
        }
        std::fs::remove_file(path).unwrap();
    }
}
