//! What stops a remote call: every message names the server, the instance,
//! the call and the gRPC status, so that a failure on a cluster someone else
//! runs can be reported to them as it is.

use std::fmt;
use std::path::PathBuf;

/// Where calls go: the server and the instance name every call carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub instance: String,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (instance {:?})", self.url, self.instance)
    }
}

/// A blob the server says it does not have (a `PreconditionFailure`
/// violation of type `MISSING`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingBlob {
    /// `HASH/SIZE`.
    pub digest: String,
}

impl fmt::Display for MissingBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.digest)
    }
}

/// The canonical name of a gRPC status code (`UNAVAILABLE`), as servers'
/// logs and documentation spell it.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

fn missing_text(blobs: &[MissingBlob]) -> String {
    const SHOWN: usize = 5;
    let mut parts: Vec<String> = blobs.iter().take(SHOWN).map(ToString::to_string).collect();
    if blobs.len() > SHOWN {
        parts.push(format!("and {} more", blobs.len() - SHOWN));
    }
    parts.join(", ")
}

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The URL cannot be used.
    #[error("--remote {url:?}: {reason}")]
    BadUrl { url: String, reason: &'static str },
    /// A `KEY=VALUE` option without `=` or with an empty key.
    #[error("{option} {value:?}: want KEY=VALUE")]
    BadPair { option: &'static str, value: String },
    /// A gRPC call failed (after its retries, when it is retried).
    #[error(
        "remote execution on {endpoint}: {call} failed: {}: {message}{}{}",
        code_name(*code),
        if details.is_empty() { String::new() } else { format!(" ({details})") },
        if *attempts > 1 { format!(" after {attempts} attempts") } else { String::new() }
    )]
    Call {
        endpoint: Endpoint,
        call: &'static str,
        code: tonic::Code,
        message: String,
        /// What the status details add (missing blobs, violations).
        details: String,
        attempts: u32,
    },
    /// The server cannot serve this client.
    #[error("remote execution on {endpoint}: {what}")]
    Unsupported { endpoint: Endpoint, what: String },
    /// Blobs an action needs are not in the CAS, and cannot be uploaded.
    #[error(
        "remote execution on {endpoint}: {what}: {} blob(s) not in the CAS: {}",
        blobs.len(),
        missing_text(blobs)
    )]
    MissingBlobs {
        endpoint: Endpoint,
        what: String,
        blobs: Vec<MissingBlob>,
    },
    /// The server answered something the API does not allow.
    #[error("remote execution on {endpoint}: {call}: unexpected answer: {what}")]
    Protocol {
        endpoint: Endpoint,
        call: &'static str,
        what: String,
    },
    /// A blob downloaded does not have the digest it was asked for.
    #[error("remote execution on {endpoint}: blob {digest} came back with digest {got}")]
    Corrupt {
        endpoint: Endpoint,
        digest: String,
        got: String,
    },
    /// A local file could not be read, written or created.
    #[error("{}: {source}", path.display())]
    Local {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A path or name cannot be sent: REAPI names are UTF-8 strings.
    #[error("cannot send {} to a remote executor: {reason}", path.display())]
    Unsendable { path: PathBuf, reason: &'static str },
    /// The async runtime could not start.
    #[error("cannot start the remote client's runtime: {source}")]
    Runtime {
        #[source]
        source: std::io::Error,
    },
    /// Ctrl-C: operations in flight were cancelled on the server.
    #[error("interrupted; remote operations cancelled")]
    Interrupted,
}

impl RemoteError {
    /// The gRPC status code, for call errors.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            RemoteError::Call { code, .. } => Some(*code),
            _ => None,
        }
    }
}
