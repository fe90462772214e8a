//! Bazel's `--execution_log_json_file`: `SpawnExec` messages in the proto3
//! JSON mapping (lowerCamelCase names, 64-bit integers as strings), one
//! pretty-printed object after another with no array around them. Read with
//! a streaming deserializer, one spawn at a time.

use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;

use super::error::{ExeclogError, ExeclogErrorKind, LogFormat, Stream};
use super::model::{ActionDraft, ContentDigest, Input, Log, LogBuilder};

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct SpawnExec {
    #[serde(alias = "command_args")]
    command_args: Vec<String>,
    #[serde(alias = "environment_variables")]
    environment_variables: Vec<NameValue>,
    platform: Option<Platform>,
    inputs: Vec<File>,
    #[serde(alias = "listed_outputs")]
    listed_outputs: Vec<String>,
    #[serde(alias = "actual_outputs")]
    actual_outputs: Vec<File>,
    mnemonic: String,
    runner: String,
    #[serde(alias = "target_label")]
    target_label: String,
    digest: Option<Digest>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct NameValue {
    pub(crate) name: String,
    pub(crate) value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Platform {
    properties: Vec<NameValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct File {
    path: String,
    digest: Option<Digest>,
    #[serde(alias = "is_tool")]
    is_tool: bool,
    #[serde(alias = "symlink_target_path")]
    symlink_target_path: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Digest {
    hash: String,
    #[serde(alias = "size_bytes", deserialize_with = "int64")]
    size_bytes: i64,
}

/// proto3 JSON writes int64 as a string; accept a number too.
fn int64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        N(i64),
        S(String),
    }
    match Int::deserialize(d)? {
        Int::N(n) => Ok(n),
        Int::S(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

impl Digest {
    fn content(&self) -> ContentDigest {
        ContentDigest::parse(&self.hash, self.size_bytes)
    }
}

/// The digest of an empty file, which Bazel may omit.
pub(crate) fn empty_digest() -> ContentDigest {
    ContentDigest::parse("", 0)
}

/// The digest `twice` gives an unresolved symlink: that of its target path,
/// the same in both Bazel formats.
pub(crate) fn symlink_digest(target: &str) -> ContentDigest {
    let mut h = blake3::Hasher::new();
    h.update(b"symlink\0");
    h.update(target.as_bytes());
    ContentDigest::synthetic(&h, 0)
}

pub(crate) fn read(path: &Path, reader: impl BufRead) -> Result<Log, ExeclogError> {
    let mut b = LogBuilder::default();
    let mut stream = serde_json::Deserializer::from_reader(reader).into_iter::<SpawnExec>();
    loop {
        let at = stream.byte_offset();
        let spawn = match stream.next() {
            None => break,
            Some(Ok(spawn)) => spawn,
            Some(Err(e)) => {
                let kind = if e.is_eof() {
                    ExeclogErrorKind::Truncated
                } else {
                    ExeclogErrorKind::Json(e)
                };
                return Err(ExeclogError::Corrupt {
                    path: path.to_path_buf(),
                    format: LogFormat::BazelJson,
                    stream: Stream::File,
                    offset: at as u64,
                    kind,
                });
            }
        };
        add(&mut b, spawn);
    }
    Ok(b.finish())
}

fn add(b: &mut LogBuilder, s: SpawnExec) {
    for a in &s.command_args {
        b.arg(a);
    }
    for e in &s.environment_variables {
        b.env(&e.name, &e.value);
    }
    for p in s.platform.iter().flat_map(|p| &p.properties) {
        b.platform(&p.name, &p.value);
    }
    for f in &s.inputs {
        let fp = if f.symlink_target_path.is_empty() {
            f.digest
                .as_ref()
                .map_or_else(empty_digest, Digest::content)
                .fingerprint()
        } else {
            symlink_digest(&f.symlink_target_path).fingerprint()
        };
        let path = b.intern(&f.path);
        b.input(Input {
            path,
            fp,
            tool: f.is_tool,
        });
    }
    let mut produced = Vec::with_capacity(s.actual_outputs.len());
    for f in &s.actual_outputs {
        let digest = if f.symlink_target_path.is_empty() {
            f.digest.as_ref().map_or_else(empty_digest, Digest::content)
        } else {
            symlink_digest(&f.symlink_target_path)
        };
        let path = b.intern(&f.path);
        produced.push(path);
        b.output(path, Some(digest));
    }
    for listed in &s.listed_outputs {
        let path = b.intern(listed);
        if !produced.contains(&path) {
            b.output(path, None);
        }
    }
    b.finish_action(&ActionDraft {
        label: s.target_label,
        mnemonic: s.mnemonic,
        digest: s.digest.map(|d| format!("{}/{}", d.hash, d.size_bytes)),
        runner: s.runner,
        has_command: true,
        has_files: true,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"{
  "commandArgs": ["cc", "-c", "a.c"],
  "environmentVariables": [{"name": "PATH", "value": "/bin"}],
  "inputs": [{"path": "a.c", "digest": {"hash": "aa", "sizeBytes": "1", "hashFunctionName": "SHA-256"}},
             {"path": "cc", "digest": {"hash": "bb", "sizeBytes": "2"}, "isTool": true}],
  "listedOutputs": ["a.o"],
  "actualOutputs": [{"path": "a.o", "digest": {"hash": "cc", "sizeBytes": "3"}}],
  "mnemonic": "CppCompile", "targetLabel": "//:a", "runner": "linux-sandbox",
  "metrics": {"totalTime": "0.1s"}
}{"commandArgs": ["ld"], "listedOutputs": ["b"], "mnemonic": "CppLink", "targetLabel": "//:b"}"#;

    #[test]
    fn reads_concatenated_objects() {
        let log = read(Path::new("x"), TWO.as_bytes()).unwrap();
        assert_eq!(log.actions.len(), 2);
        let a = &log.actions[0];
        assert_eq!(log.args(a).len(), 3);
        assert_eq!(log.inputs(a).len(), 2);
        assert!(log.inputs(a).iter().any(|i| i.tool));
        let b = &log.actions[1];
        assert_eq!(log.outputs(b)[0].digest, None);
        assert_eq!(log.str(b.primary.unwrap()), "b");
    }

    #[test]
    fn every_truncation_is_an_error_with_an_offset() {
        for cut in 1..TWO.len() - 1 {
            let Some(part) = TWO.get(..cut) else { continue };
            if part.trim_end().ends_with('}')
                && part.matches('{').count() == part.matches('}').count()
            {
                continue;
            }
            match read(Path::new("x"), part.as_bytes()) {
                Err(ExeclogError::Corrupt { offset, .. }) => assert!(offset <= cut as u64),
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }
}
