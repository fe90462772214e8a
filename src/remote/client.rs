//! The REAPI v2 client: capabilities, the CAS (FindMissingBlobs, batch
//! calls, ByteStream), Execute with WaitExecution and CancelOperation. The
//! calls are async inside this file; [`Client`] runs them on its own tokio
//! runtime, so callers outside `remote` stay blocking.
//!
//! Retries: unary calls and the start of Execute are retried with backoff
//! on UNAVAILABLE and RESOURCE_EXHAUSTED. Every failure names the server,
//! the instance, the call and the status ([`RemoteError::Call`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use bazel_remote_apis::google::longrunning::{
    CancelOperationRequest, Operation, operation, operations_client::OperationsClient,
};
use prost::Message;
use re::capabilities_client::CapabilitiesClient;
use re::execution_client::ExecutionClient;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, BinaryMetadataValue};
use tonic::transport::{Channel, ClientTlsConfig};

use super::digest::CasDigest;
use super::error::{Endpoint, MissingBlob, RemoteError};

/// How to reach a cluster: `--remote`, `--remote-instance`,
/// `--remote-header`.
#[derive(Clone, Debug, Default)]
pub struct RemoteOptions {
    /// `grpc://HOST:PORT` or `grpcs://HOST:PORT` (`http`/`https` too).
    pub url: String,
    pub instance: String,
    /// Extra gRPC metadata on every call (API keys).
    pub headers: Vec<(String, String)>,
    /// Platform properties every action carries.
    pub platform: Vec<(String, String)>,
}

/// What the server said it can do.
#[derive(Clone, Debug)]
pub(crate) struct Capabilities {
    /// The most bytes one batch call may carry.
    pub max_batch: u64,
    /// REAPI 2.1 or later: `Command.output_paths`.
    pub output_paths: bool,
}

/// Bytes and blobs moved, for the summary and the scale measurements.
#[derive(Debug, Default)]
pub struct Traffic {
    pub uploaded_bytes: AtomicU64,
    pub uploaded_blobs: AtomicU64,
    /// Blobs an upload found already in the CAS.
    pub present_blobs: AtomicU64,
    /// Output files downloaded (to compare them).
    pub downloaded_bytes: AtomicU64,
    pub downloaded_blobs: AtomicU64,
    /// Trees, stdout and stderr, the wrapper's record: read into memory.
    pub metadata_bytes: AtomicU64,
    pub executions: AtomicU64,
}

impl Traffic {
    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// One line for standard error.
    pub fn summary(&self, endpoint: &Endpoint) -> String {
        let g = Traffic::get;
        format!(
            "remote {endpoint}: {} execution(s); uploaded {} B in {} blob(s) ({} already in the CAS); \
             downloaded {} B of output files in {} blob(s) and {} B of trees and logs",
            g(&self.executions),
            g(&self.uploaded_bytes),
            g(&self.uploaded_blobs),
            g(&self.present_blobs),
            g(&self.downloaded_bytes),
            g(&self.downloaded_blobs),
            g(&self.metadata_bytes),
        )
    }
}

/// Where a blob to upload comes from: a message built in memory, or a
/// file read in pieces while it is sent.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    Bytes(Arc<Vec<u8>>),
    File(PathBuf),
}

#[derive(Clone, Debug)]
pub(crate) struct Blob {
    pub digest: CasDigest,
    pub source: Source,
}

/// A finished execution.
#[derive(Clone, Debug)]
pub(crate) struct Executed {
    pub result: re::ActionResult,
    /// The operation's name, for messages.
    pub operation: String,
}

/// A call's metadata, retry policy and error context.
#[derive(Clone)]
pub(super) struct Conn {
    pub(super) channel: Channel,
    pub(super) endpoint: Endpoint,
    pub(super) headers: Arc<Vec<(AsciiMetadataKey, AsciiMetadataValue)>>,
    pub(super) request_metadata: BinaryMetadataValue,
    pub(super) traffic: Arc<Traffic>,
    pub(super) caps: Arc<Mutex<Option<Capabilities>>>,
}

/// A blocking REAPI client with its own runtime.
pub struct Client {
    rt: tokio::runtime::Runtime,
    conn: Conn,
    caps: Capabilities,
}

/// Attempts of a call refused with UNAVAILABLE (a server that is down is
/// reported within about 1.5 s) and with RESOURCE_EXHAUSTED (a busy
/// server: up to about half a minute).
const ATTEMPTS: u32 = 4;
const BUSY_ATTEMPTS: u32 = 10;
pub(super) const UNARY_TIMEOUT: Duration = Duration::from_secs(60);
pub(super) const SHA256: i32 = re::digest_function::Value::Sha256 as i32;

pub(super) fn retryable(code: tonic::Code) -> bool {
    matches!(
        code,
        tonic::Code::Unavailable | tonic::Code::ResourceExhausted
    )
}

pub(super) fn attempts(code: tonic::Code) -> u32 {
    if code == tonic::Code::ResourceExhausted {
        BUSY_ATTEMPTS
    } else {
        ATTEMPTS
    }
}

/// 0.2 s, 0.4 s, 0.8 s, … (at most 5 s) with a little jitter from the
/// clock.
pub(super) fn backoff(attempt: u32) -> Duration {
    let base = (200u64 << attempt.min(5)).min(5000);
    let jitter = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()),
    ) % (base / 4 + 1);
    Duration::from_millis(base + jitter)
}

/// `KEY=VALUE` options.
pub fn parse_pairs(
    option: &'static str,
    values: &[String],
) -> Result<Vec<(String, String)>, RemoteError> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((k, val)) if !k.is_empty() => Ok((k.to_owned(), val.to_owned())),
            _ => Err(RemoteError::BadPair {
                option,
                value: v.clone(),
            }),
        })
        .collect()
}

/// A random-enough id (upload resource names, salts, invocation ids):
/// BLAKE3 of the time, the process and a counter.
pub(crate) fn unique_bytes() -> [u8; 16] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = blake3::Hasher::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.update(&now.as_nanos().to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    out
}

pub(super) fn uuid() -> String {
    let h = crate::finding::hex(&unique_bytes());
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// Resolves when the user interrupts (Ctrl-C, SIGTERM).
async fn interrupted() {
    while !crate::interrupt::interrupted() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Client {
    /// Connect (lazily) and ask for the server's capabilities: the first
    /// call, so a server that is down or an instance that does not exist is
    /// reported before anything else happens.
    pub fn connect(opts: &RemoteOptions) -> Result<Client, RemoteError> {
        let endpoint = Endpoint {
            url: opts.url.clone(),
            instance: opts.instance.clone(),
        };
        let bad = |reason| RemoteError::BadUrl {
            url: opts.url.clone(),
            reason,
        };
        let (tls, rest) = if let Some(r) = opts.url.strip_prefix("grpcs://") {
            (true, r)
        } else if let Some(r) = opts.url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = opts.url.strip_prefix("grpc://") {
            (false, r)
        } else if let Some(r) = opts.url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad("want grpc://HOST:PORT or grpcs://HOST:PORT"));
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') {
            return Err(bad("want grpc://HOST:PORT or grpcs://HOST:PORT"));
        }
        let uri = format!("{}://{rest}", if tls { "https" } else { "http" });
        // Two threads drive the I/O; the audit's build threads and the
        // caller only wait on it (`block_on` from any of them).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("twice-remote")
            .enable_all()
            .build()
            .map_err(|source| RemoteError::Runtime { source })?;
        let mut ep = tonic::transport::Endpoint::from_shared(uri)
            .map_err(|_| bad("not a valid URI"))?
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        if tls {
            ep = ep
                .tls_config(ClientTlsConfig::new().with_native_roots())
                .map_err(|_| bad("TLS cannot be set up"))?;
        }
        let channel = {
            let _guard = rt.enter();
            ep.connect_lazy()
        };
        let mut headers = Vec::new();
        for (k, v) in &opts.headers {
            let bad_pair = || RemoteError::BadPair {
                option: "--remote-header",
                value: format!("{k}={v}"),
            };
            let key = AsciiMetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| bad_pair())?;
            let value = AsciiMetadataValue::try_from(v.as_str()).map_err(|_| bad_pair())?;
            headers.push((key, value));
        }
        let metadata = re::RequestMetadata {
            tool_details: Some(re::ToolDetails {
                tool_name: "twice".to_owned(),
                tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            }),
            tool_invocation_id: uuid(),
            ..re::RequestMetadata::default()
        };
        let conn = Conn {
            channel,
            endpoint,
            headers: Arc::new(headers),
            request_metadata: BinaryMetadataValue::from_bytes(&metadata.encode_to_vec()),
            traffic: Arc::new(Traffic::default()),
            caps: Arc::new(Mutex::new(None)),
        };
        let caps = rt.block_on(cancellable(conn.capabilities()))?;
        Ok(Client { rt, conn, caps })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.conn.endpoint
    }

    pub(crate) fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    pub fn traffic(&self) -> &Traffic {
        &self.conn.traffic
    }

    /// Run `f` on the runtime; Ctrl-C ends it with `Interrupted`.
    fn block<T>(&self, f: impl Future<Output = Result<T, RemoteError>>) -> Result<T, RemoteError> {
        self.rt.block_on(cancellable(f))
    }

    /// The digests among `digests` the CAS does not have.
    pub(crate) fn find_missing(
        &self,
        digests: &[CasDigest],
    ) -> Result<Vec<CasDigest>, RemoteError> {
        self.block(self.conn.find_missing(digests.to_vec()))
    }

    /// Upload what the CAS does not have yet.
    pub(crate) fn upload(&self, blobs: Vec<Blob>) -> Result<(), RemoteError> {
        self.block(self.conn.upload(blobs))
    }

    /// A small blob (a `Tree`, stdout), read into memory; at most `limit`
    /// bytes.
    pub(crate) fn read_blob(&self, digest: CasDigest, limit: u64) -> Result<Vec<u8>, RemoteError> {
        self.block(self.conn.read_blob(digest, limit))
    }

    /// Download blobs to files (each blob to every path listed for it),
    /// verifying their digests.
    pub(crate) fn download(
        &self,
        files: BTreeMap<CasDigest, Vec<PathBuf>>,
    ) -> Result<(), RemoteError> {
        self.block(self.conn.download(files))
    }

    /// Execute one action (its blobs uploaded), waiting for the result;
    /// Ctrl-C cancels the operation on the server.
    pub(crate) fn execute(&self, action: CasDigest) -> Result<Executed, RemoteError> {
        self.rt.block_on(self.conn.execute(action))
    }

    /// Execute many actions at once, at most `jobs` in flight; results in
    /// the order of `actions`. Ctrl-C cancels every operation in flight.
    pub(crate) fn execute_all(
        &self,
        actions: &[CasDigest],
        jobs: usize,
        mut done: impl FnMut(usize, &Result<Executed, RemoteError>),
    ) -> Vec<Result<Executed, RemoteError>> {
        let sem = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
        self.rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for (i, a) in actions.iter().enumerate() {
                let (conn, sem, a) = (self.conn.clone(), Arc::clone(&sem), *a);
                set.spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    (i, conn.execute(a).await)
                });
            }
            let mut out: Vec<Option<Result<Executed, RemoteError>>> =
                (0..actions.len()).map(|_| None).collect();
            while let Some(joined) = set.join_next().await {
                if let Ok((i, r)) = joined {
                    done(i, &r);
                    out[i] = Some(r);
                }
            }
            out.into_iter()
                .map(|r| r.unwrap_or(Err(RemoteError::Interrupted)))
                .collect()
        })
    }
}

/// `f`, or `Interrupted` as soon as the user asks.
async fn cancellable<T>(f: impl Future<Output = Result<T, RemoteError>>) -> Result<T, RemoteError> {
    tokio::select! {
        r = f => r,
        () = interrupted() => Err(RemoteError::Interrupted),
    }
}

/// What a status's details say: the missing blobs of a
/// `PreconditionFailure`, the violations.
#[derive(Clone, PartialEq, prost::Message)]
struct PreconditionFailure {
    #[prost(message, repeated, tag = "1")]
    violations: Vec<Violation>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Violation {
    #[prost(string, tag = "1")]
    r#type: String,
    #[prost(string, tag = "2")]
    subject: String,
    #[prost(string, tag = "3")]
    description: String,
}

/// The missing blobs (`blobs/HASH/SIZE` subjects) and other violations in
/// a status's details.
pub(super) fn violations(
    details: &[bazel_remote_apis::google::protobuf::Any],
) -> (Vec<String>, Vec<String>) {
    let (mut missing, mut other) = (Vec::new(), Vec::new());
    for any in details {
        if !any.type_url.ends_with("google.rpc.PreconditionFailure") {
            continue;
        }
        let Ok(pf) = PreconditionFailure::decode(&any.value[..]) else {
            continue;
        };
        for v in pf.violations {
            match (v.r#type.as_str(), v.subject.strip_prefix("blobs/")) {
                ("MISSING", Some(blob)) => missing.push(blob.to_owned()),
                _ => other.push(format!("{} {} {}", v.r#type, v.subject, v.description)),
            }
        }
    }
    (missing, other)
}

impl Conn {
    pub(super) fn request<T>(&self, msg: T, timeout: Option<Duration>) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        let md = r.metadata_mut();
        for (k, v) in self.headers.iter() {
            md.insert(k.clone(), v.clone());
        }
        md.insert_bin(
            "build.bazel.remote.execution.v2.requestmetadata-bin",
            self.request_metadata.clone(),
        );
        if let Some(t) = timeout {
            r.set_timeout(t);
        }
        r
    }

    pub(super) fn error(
        &self,
        call: &'static str,
        status: &tonic::Status,
        attempts: u32,
    ) -> RemoteError {
        let details = bazel_remote_apis::google::rpc::Status::decode(status.details())
            .map(|s| violations(&s.details))
            .unwrap_or_default();
        // Transport failures keep their cause (connection refused, TLS)
        // in the source chain, not in the message.
        let mut message = status.message().to_owned();
        let mut cause = std::error::Error::source(status);
        while let Some(c) = cause {
            let text = c.to_string();
            if !message.contains(&text) {
                message = format!("{message}: {text}");
            }
            cause = c.source();
        }
        self.status_error(call, status.code(), &message, details, attempts)
    }

    pub(super) fn status_error(
        &self,
        call: &'static str,
        code: tonic::Code,
        message: &str,
        (missing, other): (Vec<String>, Vec<String>),
        attempts: u32,
    ) -> RemoteError {
        if code == tonic::Code::FailedPrecondition && !missing.is_empty() {
            return RemoteError::MissingBlobs {
                endpoint: self.endpoint.clone(),
                what: format!("{call}: {message}"),
                blobs: missing
                    .into_iter()
                    .map(|digest| MissingBlob { digest })
                    .collect(),
            };
        }
        RemoteError::Call {
            endpoint: self.endpoint.clone(),
            call,
            code,
            message: if message.is_empty() {
                code.description().to_owned()
            } else {
                message.to_owned()
            },
            details: other.join("; "),
            attempts,
        }
    }

    /// A unary call, retried on UNAVAILABLE and RESOURCE_EXHAUSTED.
    pub(super) async fn retry<T, F, Fut>(
        &self,
        call: &'static str,
        mut f: F,
    ) -> Result<T, RemoteError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match f().await {
                Ok(r) => return Ok(r.into_inner()),
                Err(s) if retryable(s.code()) && attempt < attempts(s.code()) => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(s) => return Err(self.error(call, &s, attempt)),
            }
        }
    }

    pub(super) fn resource(&self, digest: CasDigest) -> String {
        let blob = format!("blobs/{}/{}", digest.hex(), digest.size);
        if self.endpoint.instance.is_empty() {
            blob
        } else {
            format!("{}/{blob}", self.endpoint.instance)
        }
    }

    pub(super) fn protocol(&self, call: &'static str, what: impl Into<String>) -> RemoteError {
        RemoteError::Protocol {
            endpoint: self.endpoint.clone(),
            call,
            what: what.into(),
        }
    }

    async fn capabilities(&self) -> Result<Capabilities, RemoteError> {
        let caps = self
            .retry("GetCapabilities", || {
                let mut c = CapabilitiesClient::new(self.channel.clone());
                let r = self.request(
                    re::GetCapabilitiesRequest {
                        instance_name: self.endpoint.instance.clone(),
                    },
                    Some(UNARY_TIMEOUT),
                );
                async move { c.get_capabilities(r).await }
            })
            .await?;
        let unsupported = |what: String| RemoteError::Unsupported {
            endpoint: self.endpoint.clone(),
            what,
        };
        let cache = caps.cache_capabilities.unwrap_or_default();
        if !cache.digest_functions.is_empty() && !cache.digest_functions.contains(&SHA256) {
            return Err(unsupported(
                "the CAS does not take SHA-256 digests (the only digest function twice sends)"
                    .to_owned(),
            ));
        }
        let exec = caps.execution_capabilities.unwrap_or_default();
        if !exec.exec_enabled {
            return Err(unsupported(
                "remote execution is not enabled on this instance (a cache-only server?)"
                    .to_owned(),
            ));
        }
        let high = caps.high_api_version.unwrap_or_default();
        let c = Capabilities {
            max_batch: match u64::try_from(cache.max_batch_total_size_bytes) {
                Ok(0) | Err(_) => 4 << 20,
                Ok(n) => n,
            },
            output_paths: (high.major, high.minor) >= (2, 1),
        };
        *self.caps.lock().expect("not poisoned") = Some(c.clone());
        Ok(c)
    }

    pub(super) fn max_batch(&self) -> u64 {
        self.caps
            .lock()
            .expect("not poisoned")
            .as_ref()
            .map_or(4 << 20, |c| c.max_batch)
    }

    /// Execute, then follow the operation to its end: WaitExecution when
    /// the stream ends early or breaks, CancelOperation on Ctrl-C.
    async fn execute(&self, action: CasDigest) -> Result<Executed, RemoteError> {
        let req = re::ExecuteRequest {
            instance_name: self.endpoint.instance.clone(),
            skip_cache_lookup: true,
            action_digest: Some(action.to_proto()),
            execution_policy: None,
            results_cache_policy: None,
            digest_function: SHA256,
            inline_stdout: false,
            inline_stderr: false,
            inline_output_files: Vec::new(),
        };
        Traffic::add(&self.traffic.executions, 1);
        let start = || {
            let mut c = ExecutionClient::new(self.channel.clone());
            let r = self.request(req.clone(), None);
            async move { c.execute(r).await }
        };
        let mut stream = tokio::select! {
            r = self.retry("Execute", start) => r?,
            () = interrupted() => return Err(RemoteError::Interrupted),
        };
        let mut name = String::new();
        let mut broken = 0;
        loop {
            let next = tokio::select! {
                m = stream.message() => m,
                () = interrupted() => {
                    if !name.is_empty() {
                        self.cancel(&name).await;
                    }
                    return Err(RemoteError::Interrupted);
                }
            };
            match next {
                Ok(Some(op)) => {
                    name.clone_from(&op.name);
                    if op.done {
                        return self.finish(op);
                    }
                    continue;
                }
                Ok(None) if name.is_empty() => {
                    return Err(self.protocol("Execute", "the stream ended before an operation"));
                }
                Ok(None) => {}
                Err(s)
                    if name.is_empty() || !retryable(s.code()) || broken >= attempts(s.code()) =>
                {
                    return Err(self.error(
                        if name.is_empty() {
                            "Execute"
                        } else {
                            "WaitExecution"
                        },
                        &s,
                        broken + 1,
                    ));
                }
                Err(_) => {
                    broken += 1;
                    tokio::time::sleep(backoff(broken)).await;
                }
            }
            let wait = re::WaitExecutionRequest { name: name.clone() };
            stream = tokio::select! {
                r = self.retry("WaitExecution", || {
                    let mut c = ExecutionClient::new(self.channel.clone());
                    let r = self.request(wait.clone(), None);
                    async move { c.wait_execution(r).await }
                }) => r?,
                () = interrupted() => {
                    self.cancel(&name).await;
                    return Err(RemoteError::Interrupted);
                }
            };
        }
    }

    /// Best effort: the operation is being abandoned either way.
    async fn cancel(&self, name: &str) {
        let req = CancelOperationRequest {
            name: name.to_owned(),
        };
        let _ = OperationsClient::new(self.channel.clone())
            .cancel_operation(self.request(req, Some(Duration::from_secs(5))))
            .await;
    }

    fn finish(&self, op: Operation) -> Result<Executed, RemoteError> {
        let response = match op.result {
            Some(operation::Result::Error(s)) => {
                return Err(self.status_error(
                    "Execute",
                    tonic::Code::from(s.code),
                    &s.message,
                    violations(&s.details),
                    1,
                ));
            }
            Some(operation::Result::Response(any)) => re::ExecuteResponse::decode(&any.value[..])
                .map_err(|e| {
                self.protocol("Execute", format!("undecodable ExecuteResponse: {e}"))
            })?,
            None => return Err(self.protocol("Execute", "a done operation without a result")),
        };
        if let Some(s) = &response.status
            && s.code != 0
        {
            let mut message = s.message.clone();
            if !response.message.is_empty() {
                message = format!("{message} ({})", response.message);
            }
            return Err(self.status_error(
                "Execute",
                tonic::Code::from(s.code),
                &message,
                violations(&s.details),
                1,
            ));
        }
        let result = response
            .result
            .ok_or_else(|| self.protocol("Execute", "a response without an ActionResult"))?;
        Ok(Executed {
            result,
            operation: op.name,
        })
    }
}
