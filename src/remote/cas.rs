//! The CAS half of the client: `FindMissingBlobs`, uploads in
//! `BatchUpdateBlobs` calls within the server's batch limit or by
//! ByteStream in pieces read from the file, downloads streamed to files
//! while their SHA-256 is checked. No blob is ever whole in memory twice.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use bazel_remote_apis::google::bytestream::{
    ReadRequest, WriteRequest, byte_stream_client::ByteStreamClient,
};
use re::content_addressable_storage_client::ContentAddressableStorageClient;
use tonic::codegen::tokio_stream::{self, StreamExt};

use super::client::{
    Blob, Conn, SHA256, Source, Traffic, UNARY_TIMEOUT, attempts, backoff, retryable, uuid,
    violations,
};
use super::digest::{CHUNK, CasDigest, Hasher};
use super::error::RemoteError;

impl Conn {
    pub(super) async fn find_missing(
        &self,
        digests: Vec<CasDigest>,
    ) -> Result<Vec<CasDigest>, RemoteError> {
        let mut wanted: Vec<CasDigest> = digests.into_iter().filter(|d| d.size > 0).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut missing = Vec::new();
        for chunk in wanted.chunks(4096) {
            let req = re::FindMissingBlobsRequest {
                instance_name: self.endpoint.instance.clone(),
                blob_digests: chunk.iter().map(|d| d.to_proto()).collect(),
                digest_function: SHA256,
            };
            let r = self
                .retry("FindMissingBlobs", || {
                    let mut c = ContentAddressableStorageClient::new(self.channel.clone());
                    let r = self.request(req.clone(), Some(UNARY_TIMEOUT));
                    async move { c.find_missing_blobs(r).await }
                })
                .await?;
            for d in &r.missing_blob_digests {
                missing.push(CasDigest::from_proto(d).ok_or_else(|| {
                    self.protocol("FindMissingBlobs", format!("bad digest {d:?}"))
                })?);
            }
        }
        missing.sort_unstable();
        Ok(missing)
    }

    pub(super) async fn upload(&self, blobs: Vec<Blob>) -> Result<(), RemoteError> {
        let mut by_digest: BTreeMap<CasDigest, Source> = BTreeMap::new();
        for b in blobs {
            by_digest.entry(b.digest).or_insert(b.source);
        }
        let missing = self
            .find_missing(by_digest.keys().copied().collect())
            .await?;
        let present = by_digest
            .keys()
            .filter(|d| d.size > 0)
            .count()
            .saturating_sub(missing.len());
        Traffic::add(&self.traffic.present_blobs, present as u64);
        let limit = self.max_batch();
        // Leave room for each request's framing and digests.
        let fits = |d: &CasDigest| d.size + 256 <= limit / 2;
        let mut batches: Vec<Vec<(CasDigest, Source)>> = Vec::new();
        let mut large = Vec::new();
        let mut size = 0u64;
        for d in missing {
            let source = by_digest.remove(&d).expect("asked for these");
            if !fits(&d) {
                large.push((d, source));
                continue;
            }
            if batches.is_empty() || size + d.size + 256 > limit / 2 {
                batches.push(Vec::new());
                size = 0;
            }
            size += d.size + 256;
            batches.last_mut().expect("pushed").push((d, source));
        }
        let sem = Arc::new(tokio::sync::Semaphore::new(8));
        let mut set = tokio::task::JoinSet::new();
        for batch in batches {
            let (conn, sem) = (self.clone(), Arc::clone(&sem));
            set.spawn(async move {
                let _p = sem.acquire_owned().await;
                conn.batch_update(batch).await
            });
        }
        for (d, source) in large {
            let (conn, sem) = (self.clone(), Arc::clone(&sem));
            set.spawn(async move {
                let _p = sem.acquire_owned().await;
                conn.write(d, source).await
            });
        }
        while let Some(r) = set.join_next().await {
            r.map_err(|e| self.protocol("upload", e.to_string()))??;
        }
        Ok(())
    }

    async fn batch_update(&self, batch: Vec<(CasDigest, Source)>) -> Result<(), RemoteError> {
        let mut requests = Vec::with_capacity(batch.len());
        for (d, source) in &batch {
            let data = match source {
                Source::Bytes(b) => b.as_ref().clone(),
                Source::File(p) => read_small(p, *d)?,
            };
            requests.push(re::batch_update_blobs_request::Request {
                digest: Some(d.to_proto()),
                data,
                compressor: 0,
            });
        }
        let req = re::BatchUpdateBlobsRequest {
            instance_name: self.endpoint.instance.clone(),
            requests,
            digest_function: SHA256,
        };
        let r = self
            .retry("BatchUpdateBlobs", || {
                let mut c = ContentAddressableStorageClient::new(self.channel.clone());
                let r = self.request(req.clone(), Some(UNARY_TIMEOUT));
                async move { c.batch_update_blobs(r).await }
            })
            .await?;
        for resp in &r.responses {
            if let Some(s) = &resp.status
                && s.code != 0
            {
                return Err(self.status_error(
                    "BatchUpdateBlobs",
                    tonic::Code::from(s.code),
                    &format!(
                        "{}: {}",
                        resp.digest.as_ref().map(|d| d.hash.as_str()).unwrap_or("?"),
                        s.message
                    ),
                    violations(&s.details),
                    1,
                ));
            }
        }
        for (d, _) in &batch {
            Traffic::add(&self.traffic.uploaded_bytes, d.size);
            Traffic::add(&self.traffic.uploaded_blobs, 1);
        }
        Ok(())
    }

    /// ByteStream.Write, one piece in memory at a time.
    async fn write(&self, digest: CasDigest, source: Source) -> Result<(), RemoteError> {
        let resource = {
            let blob = format!("uploads/{}/blobs/{}/{}", uuid(), digest.hex(), digest.size);
            if self.endpoint.instance.is_empty() {
                blob
            } else {
                format!("{}/{blob}", self.endpoint.instance)
            }
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure: Arc<Mutex<Option<std::io::Error>>> = Arc::default();
            let pieces = Pieces::open(&source, Arc::clone(&failure))?;
            let resource = resource.clone();
            let mut offset = 0i64;
            let total = digest.size;
            let stream = tokio_stream::iter(pieces).map(move |data| {
                let first = offset == 0;
                let len = data.len() as i64;
                let req = WriteRequest {
                    resource_name: if first {
                        resource.clone()
                    } else {
                        String::new()
                    },
                    write_offset: offset,
                    finish_write: u64::try_from(offset + len).is_ok_and(|end| end == total),
                    data,
                };
                offset += len;
                req
            });
            let r = ByteStreamClient::new(self.channel.clone())
                .write(self.request(stream, None))
                .await;
            if let Some(e) = failure.lock().expect("not poisoned").take() {
                let path = match &source {
                    Source::File(p) => p.clone(),
                    Source::Bytes(_) => PathBuf::new(),
                };
                return Err(RemoteError::Local { path, source: e });
            }
            match r {
                Ok(_) => {
                    Traffic::add(&self.traffic.uploaded_bytes, digest.size);
                    Traffic::add(&self.traffic.uploaded_blobs, 1);
                    return Ok(());
                }
                Err(s) if retryable(s.code()) && attempt < attempts(s.code()) => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(s) => return Err(self.error("ByteStream.Write", &s, attempt)),
            }
        }
    }

    pub(super) async fn read_blob(
        &self,
        digest: CasDigest,
        limit: u64,
    ) -> Result<Vec<u8>, RemoteError> {
        if digest.size > limit {
            return Err(self.protocol(
                "ByteStream.Read",
                format!("blob {digest} is larger than the {limit} bytes expected"),
            ));
        }
        let mut out = Vec::new();
        self.read_into(digest, &mut out, Path::new("")).await?;
        Traffic::add(&self.traffic.metadata_bytes, digest.size);
        Ok(out)
    }

    /// ByteStream.Read into `sink`, verifying the digest as it streams.
    async fn read_into(
        &self,
        digest: CasDigest,
        sink: &mut (dyn Write + Send),
        path: &Path,
    ) -> Result<(), RemoteError> {
        if digest.size == 0 {
            return Ok(());
        }
        let req = ReadRequest {
            resource_name: self.resource(digest),
            read_offset: 0,
            read_limit: 0,
        };
        let mut stream = self
            .retry("ByteStream.Read", || {
                let mut c = ByteStreamClient::new(self.channel.clone());
                let r = self.request(req.clone(), None);
                async move { c.read(r).await }
            })
            .await?;
        let mut h = Hasher::new();
        loop {
            match stream.message().await {
                Ok(Some(piece)) => {
                    if h.size_so_far() + piece.data.len() as u64 > digest.size {
                        return Err(self.protocol(
                            "ByteStream.Read",
                            format!("blob {digest} is longer than its size"),
                        ));
                    }
                    h.update(&piece.data);
                    sink.write_all(&piece.data)
                        .map_err(|source| RemoteError::Local {
                            path: path.to_path_buf(),
                            source,
                        })?;
                }
                Ok(None) => break,
                Err(s) => return Err(self.error("ByteStream.Read", &s, 1)),
            }
        }
        let got = h.finish();
        if got != digest {
            return Err(RemoteError::Corrupt {
                endpoint: self.endpoint.clone(),
                digest: digest.to_string(),
                got: got.to_string(),
            });
        }
        Ok(())
    }

    pub(super) async fn download(
        &self,
        files: BTreeMap<CasDigest, Vec<PathBuf>>,
    ) -> Result<(), RemoteError> {
        let sem = Arc::new(tokio::sync::Semaphore::new(8));
        let mut set = tokio::task::JoinSet::new();
        for (digest, paths) in files {
            let (conn, sem) = (self.clone(), Arc::clone(&sem));
            set.spawn(async move {
                let _p = sem.acquire_owned().await;
                conn.download_one(digest, &paths).await
            });
        }
        while let Some(r) = set.join_next().await {
            r.map_err(|e| self.protocol("download", e.to_string()))??;
        }
        Ok(())
    }

    async fn download_one(&self, digest: CasDigest, paths: &[PathBuf]) -> Result<(), RemoteError> {
        let Some((first, rest)) = paths.split_first() else {
            return Ok(());
        };
        let local = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RemoteError::Local { path, source }
        };
        if let Some(parent) = first.parent() {
            std::fs::create_dir_all(parent).map_err(local(parent))?;
        }
        let mut f = std::fs::File::create(first).map_err(local(first))?;
        self.read_into(digest, &mut f, first).await?;
        drop(f);
        Traffic::add(&self.traffic.downloaded_bytes, digest.size);
        Traffic::add(&self.traffic.downloaded_blobs, 1);
        for p in rest {
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).map_err(local(parent))?;
            }
            std::fs::copy(first, p).map_err(local(p))?;
        }
        Ok(())
    }
}

/// Read a blob small enough for a batch call, checking its size.
fn read_small(path: &Path, digest: CasDigest) -> Result<Vec<u8>, RemoteError> {
    let local = |source| RemoteError::Local {
        path: path.to_path_buf(),
        source,
    };
    let mut data = Vec::new();
    std::fs::File::open(path)
        .map_err(local)?
        .take(digest.size + 1)
        .read_to_end(&mut data)
        .map_err(local)?;
    if data.len() as u64 != digest.size {
        return Err(local(std::io::Error::other(format!(
            "changed since it was hashed (now {} bytes, was {})",
            data.len(),
            digest.size
        ))));
    }
    Ok(data)
}

/// A blob's content in pieces of [`CHUNK`] bytes: from a file, read as the
/// stream is polled, so a large file is never whole in memory. A read
/// error ends the pieces and is left in `failure`.
struct Pieces {
    file: Option<std::fs::File>,
    bytes: Option<Arc<Vec<u8>>>,
    at: usize,
    failure: Arc<Mutex<Option<std::io::Error>>>,
}

impl Pieces {
    fn open(
        source: &Source,
        failure: Arc<Mutex<Option<std::io::Error>>>,
    ) -> Result<Pieces, RemoteError> {
        Ok(match source {
            Source::Bytes(b) => Pieces {
                file: None,
                bytes: Some(Arc::clone(b)),
                at: 0,
                failure,
            },
            Source::File(p) => Pieces {
                file: Some(std::fs::File::open(p).map_err(|source| RemoteError::Local {
                    path: p.clone(),
                    source,
                })?),
                bytes: None,
                at: 0,
                failure,
            },
        })
    }
}

impl Iterator for Pieces {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if let Some(b) = &self.bytes {
            let piece = b
                .get(self.at..)?
                .iter()
                .take(CHUNK)
                .copied()
                .collect::<Vec<u8>>();
            self.at += piece.len();
            return (!piece.is_empty()).then_some(piece);
        }
        let f = self.file.as_mut()?;
        let mut buf = vec![0u8; CHUNK];
        let mut n = 0;
        while n < CHUNK {
            match f.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    *self.failure.lock().expect("not poisoned") = Some(e);
                    return None;
                }
            }
        }
        buf.truncate(n);
        (n > 0).then_some(buf)
    }
}
