//! From a JSON audit report (recorded now or imported) to the rows the
//! history keeps, and the one transaction that stores them.

use std::io::Write as _;

use rusqlite::{Transaction, params};
use serde_json::Value;

use super::error::ImportErrorKind;
use super::time::parse_time;
use super::wire::WireReport;
use super::{RunContext, StoreError};
use crate::report::SCHEMA_VERSION;

/// One audit, ready to store.
#[derive(Debug)]
pub(crate) struct Incoming {
    /// Digest of the canonical report: the same report is stored once.
    pub key: [u8; 32],
    pub run: RunRow,
    /// Each requested variation, with why it was skipped (`None`: varied).
    pub variations: Vec<(String, Option<String>)>,
    pub artifacts: Vec<ArtifactRow>,
    pub findings: Vec<FindingRow>,
    /// The canonical report, deflated (`None` for a failed build).
    pub report: Option<Vec<u8>>,
}

#[derive(Debug)]
pub(crate) struct RunRow {
    pub started_at: i64,
    pub seconds: f64,
    pub target: String,
    pub command: String,
    pub workdir: Option<String>,
    pub git_commit: Option<String>,
    pub git_branch: Option<String>,
    pub git_dirty: Option<bool>,
    pub host: Option<String>,
    pub twice_version: String,
    pub status: &'static str,
    pub exit_code: u8,
    pub bisect_builds: u64,
    pub findings: u64,
    pub bytes_changed: u64,
    pub origin: String,
    pub error: Option<String>,
}

#[derive(Debug)]
pub(crate) struct ArtifactRow {
    pub path: String,
    pub format: Option<String>,
    pub digest_a: Option<String>,
    pub digest_b: Option<String>,
    pub size_a: Option<u64>,
    pub size_b: Option<u64>,
}

#[derive(Debug)]
pub(crate) struct FindingRow {
    pub fingerprint: Vec<u8>,
    pub artifact: String,
    pub cause: String,
    pub detail: String,
    pub hint: String,
    pub variation: String,
    pub attributed_by: Option<String>,
}

/// What an import falls back on when a report carries no `context`.
#[derive(Clone, Debug)]
pub(crate) struct Fallback {
    pub started_at: i64,
}

/// Check that `value` is a `twice` audit report this version reads, and
/// take it apart.
pub(crate) fn parse_report(
    value: Value,
    origin: &str,
    fallback: &Fallback,
) -> Result<Incoming, ImportErrorKind> {
    if value.pointer("/tool/name").and_then(Value::as_str) != Some("twice") {
        return Err(ImportErrorKind::NotTwice);
    }
    let version = value
        .get("schema_version")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if version != u64::from(SCHEMA_VERSION) {
        return Err(ImportErrorKind::SchemaVersion {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let command = value.get("command").and_then(Value::as_str).unwrap_or("");
    if command != "audit" {
        return Err(ImportErrorKind::NotAnAudit {
            command: command.to_owned(),
        });
    }
    let canonical = canonical_json(&value);
    let wire: WireReport = serde_json::from_value(value).map_err(ImportErrorKind::Shape)?;
    let context = wire.context.clone();
    let started_at = match &context {
        Some(c) => parse_time(&c.started_at).ok_or_else(|| ImportErrorKind::BadDate {
            value: c.started_at.clone(),
        })?,
        None => fallback.started_at,
    };
    let (status, exit_code) = match wire.verdict.as_str() {
        "identical" => ("identical", 0),
        "differs" => ("differs", 1),
        _ => ("incomplete", 2),
    };
    let builds: f64 = wire.audit.runs.iter().map(|r| r.seconds).sum();
    let source = wire.audit.source.into_string();
    let command = shell_join(wire.audit.command.into_iter().map(|a| a.into_string()));
    let artifacts: Vec<ArtifactRow> = wire
        .artifacts
        .into_iter()
        .map(|a| ArtifactRow {
            path: a.artifact.into_string(),
            format: a.format,
            digest_a: a.a.as_ref().and_then(|f| f.digest.clone()),
            digest_b: a.b.as_ref().and_then(|f| f.digest.clone()),
            size_a: a.a.as_ref().and_then(|f| f.size),
            size_b: a.b.as_ref().and_then(|f| f.size),
        })
        .collect();
    let findings = wire
        .findings
        .into_iter()
        .map(|f| {
            let variation = f.variation_key();
            let kind = f
                .cause
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned();
            FindingRow {
                fingerprint: unhex(&f.fingerprint).unwrap_or_else(|| f.fingerprint.into_bytes()),
                artifact: f.artifact.into_string(),
                detail: canonical_json(&Value::Object(f.cause)),
                cause: kind,
                hint: f.hint,
                variation,
                attributed_by: f.variation.map(|v| v.by),
            }
        })
        .collect();
    let run = RunRow {
        started_at,
        seconds: context.as_ref().map_or(builds, |c| c.seconds),
        target: context.as_ref().map_or(source, |c| c.target.clone()),
        command,
        workdir: context.as_ref().and_then(|c| c.workdir.clone()),
        git_commit: context
            .as_ref()
            .and_then(|c| c.git.as_ref())
            .and_then(|g| g.commit.clone()),
        git_branch: context
            .as_ref()
            .and_then(|c| c.git.as_ref())
            .and_then(|g| g.branch.clone()),
        git_dirty: context
            .as_ref()
            .and_then(|c| c.git.as_ref())
            .map(|g| g.dirty),
        host: context.as_ref().and_then(|c| c.host.clone()),
        twice_version: wire.tool.version,
        status,
        exit_code,
        bisect_builds: wire.audit.bisect.map_or(0, |b| b.builds),
        findings: wire.summary.findings,
        bytes_changed: artifacts.iter().filter_map(|a| a.size_b).sum(),
        origin: origin.to_owned(),
        error: None,
    };
    let variations = wire
        .audit
        .variations
        .into_iter()
        .map(|v| {
            let skipped = (v.status != "varied").then(|| {
                let kinds: Vec<String> = v.reasons.into_iter().map(|r| r.kind).collect();
                kinds.join(", ")
            });
            (v.name, skipped)
        })
        .collect();
    Ok(Incoming {
        key: key_of(canonical.as_bytes()),
        run,
        variations,
        artifacts,
        findings,
        report: Some(deflate(canonical.as_bytes())),
    })
}

/// A build that failed: no report, the error instead.
pub(crate) fn failed_run(
    context: &RunContext,
    command: String,
    error: String,
    exit_code: u8,
) -> Incoming {
    let started_at = parse_time(&context.started_at).unwrap_or(0);
    let identity = serde_json::json!({ "context": context, "command": command, "error": error });
    Incoming {
        key: key_of(canonical_json(&identity).as_bytes()),
        run: RunRow {
            started_at,
            seconds: context.seconds,
            target: context.target.clone(),
            command,
            workdir: context.workdir.clone(),
            git_commit: context.git.as_ref().and_then(|g| g.commit.clone()),
            git_branch: context.git.as_ref().and_then(|g| g.branch.clone()),
            git_dirty: context.git.as_ref().map(|g| g.dirty),
            host: context.host.clone(),
            twice_version: env!("CARGO_PKG_VERSION").to_owned(),
            status: "failed",
            exit_code,
            bisect_builds: 0,
            findings: 0,
            bytes_changed: 0,
            origin: "recorded".to_owned(),
            error: Some(error),
        },
        variations: Vec::new(),
        artifacts: Vec::new(),
        findings: Vec::new(),
        report: None,
    }
}

/// Store one audit; `None` when the same report is already there.
pub(crate) fn insert(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    inc: &Incoming,
) -> Result<Option<i64>, StoreError> {
    let sql = |e| StoreError::sql(path, e);
    let r = &inc.run;
    let id: Option<i64> = {
        let mut stmt = tx.prepare(super::queries::INSERT_RUN).map_err(sql)?;
        let mut rows = stmt
            .query(params![
                &inc.key[..],
                r.started_at,
                r.seconds,
                r.target,
                r.command,
                r.workdir,
                r.git_commit,
                r.git_branch,
                r.git_dirty,
                r.host,
                r.twice_version,
                r.status,
                r.exit_code,
                signed(r.bisect_builds),
                signed(r.findings),
                signed(r.bytes_changed),
                r.origin,
                r.error,
                inc.report,
            ])
            .map_err(sql)?;
        match rows.next().map_err(sql)? {
            Some(row) => Some(row.get(0).map_err(sql)?),
            None => None,
        }
    };
    let Some(id) = id else { return Ok(None) };
    let mut variation = tx.prepare(super::queries::INSERT_VARIATION).map_err(sql)?;
    for (name, skipped) in &inc.variations {
        variation.execute(params![id, name, skipped]).map_err(sql)?;
    }
    let mut artifact = tx.prepare(super::queries::INSERT_ARTIFACT).map_err(sql)?;
    for a in &inc.artifacts {
        artifact
            .execute(params![
                id,
                a.path,
                a.format,
                a.digest_a,
                a.digest_b,
                a.size_a.map(signed),
                a.size_b.map(signed)
            ])
            .map_err(sql)?;
    }
    let mut series = tx.prepare(super::queries::UPSERT_SERIES).map_err(sql)?;
    let mut occurrence = tx.prepare(super::queries::INSERT_OCCURRENCE).map_err(sql)?;
    for f in &inc.findings {
        let sid: i64 = series
            .query_row(
                params![
                    r.target,
                    f.fingerprint,
                    f.artifact,
                    f.cause,
                    f.detail,
                    f.hint,
                    r.started_at
                ],
                |row| row.get(0),
            )
            .map_err(sql)?;
        occurrence
            .execute(params![id, sid, f.variation, f.attributed_by])
            .map_err(sql)?;
    }
    Ok(Some(id))
}

/// SQLite integers are signed.
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn key_of(canonical: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"twice-history-run-v1\0");
    h.update(canonical);
    *h.finalize().as_bytes()
}

/// JSON with object keys sorted and no whitespace: the same report gives
/// the same bytes however it was formatted.
pub(crate) fn canonical_json(value: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(&map[k], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

pub(crate) fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes)
        .and_then(|()| enc.finish())
        .expect("deflating into memory cannot fail")
}

pub(crate) fn inflate(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The command as one line a shell would split back the same way.
pub(crate) fn shell_join(args: impl Iterator<Item = String>) -> String {
    let quoted: Vec<String> = args
        .map(|a| {
            if !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect();
    quoted.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let a: Value = serde_json::from_str(r#"{ "b": 1, "a": [ {"d": 2, "c": "x"} ] }"#).unwrap();
        assert_eq!(canonical_json(&a), r#"{"a":[{"c":"x","d":2}],"b":1}"#);
    }

    #[test]
    fn commands_are_quoted_for_a_shell() {
        let args = ["make", "-j2", "CFLAGS=-O1 -g", "it's"].map(String::from);
        assert_eq!(
            shell_join(args.into_iter()),
            r#"make -j2 'CFLAGS=-O1 -g' 'it'\''s'"#
        );
    }
}
