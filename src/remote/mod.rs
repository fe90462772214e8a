//! Remote Execution (REAPI v2): the client ([`client`]), the remote
//! executor behind the audit's seam, and the re-execution of logged
//! actions. The only module that uses async: tokio and tonic stay inside,
//! every function it offers blocks.

mod audit;
mod cas;
mod client;
mod digest;
mod error;
mod executor;
mod merkle;
mod reexecute;
mod render;
mod variations;

pub use audit::{RemoteAudit, RemoteAuditError, audit};
pub use client::{Client, RemoteOptions, Traffic, parse_pairs};
pub use digest::CasDigest;
pub use error::{Endpoint, MissingBlob, RemoteError};
pub use reexecute::{
    DifferingOutput, Outcome, ReexecAction, ReexecError, ReexecOptions, ReexecReport,
    ReexecSummary, RemoteInfo, reexecute,
};
pub use render::render_text;
