//! Bazel's `--execution_log_json_file`: `SpawnExec` messages in the proto3
//! JSON mapping (lowerCamelCase names, 64-bit integers as strings), one
//! pretty-printed object after another with no array around them. Read with
//! a streaming deserializer, one spawn at a time.

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use super::error::{ExeclogError, LogFormat};
use super::json_stream::each_value;
use super::model::{ActionDraft, ContentDigest, Input, Log, LogBuilder};

/// A string borrowed from the input unless it has escapes.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct SpawnExec<'a> {
    #[serde(borrow, alias = "command_args")]
    command_args: Vec<Str<'a>>,
    #[serde(borrow, alias = "environment_variables")]
    environment_variables: Vec<NameValue<'a>>,
    #[serde(borrow)]
    platform: Option<Platform<'a>>,
    #[serde(borrow)]
    inputs: Vec<File<'a>>,
    #[serde(borrow, alias = "listed_outputs")]
    listed_outputs: Vec<Str<'a>>,
    #[serde(borrow, alias = "actual_outputs")]
    actual_outputs: Vec<File<'a>>,
    #[serde(borrow)]
    mnemonic: Str<'a>,
    #[serde(borrow)]
    runner: Str<'a>,
    #[serde(borrow, alias = "target_label")]
    target_label: Str<'a>,
    #[serde(borrow)]
    digest: Option<Digest<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NameValue<'a> {
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow)]
    value: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Platform<'a> {
    #[serde(borrow)]
    properties: Vec<NameValue<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct File<'a> {
    #[serde(borrow)]
    path: Str<'a>,
    #[serde(borrow)]
    digest: Option<Digest<'a>>,
    #[serde(alias = "is_tool")]
    is_tool: bool,
    #[serde(borrow, alias = "symlink_target_path")]
    symlink_target_path: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Digest<'a> {
    #[serde(borrow)]
    hash: Str<'a>,
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

impl Digest<'_> {
    fn content(&self) -> ContentDigest {
        ContentDigest::parse(&self.hash.0, self.size_bytes)
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

pub(crate) fn read(path: &Path, reader: impl Read) -> Result<Log, ExeclogError> {
    let mut b = LogBuilder::default();
    each_value(path, LogFormat::BazelJson, reader, |window, consumed| {
        let mut stream = serde_json::Deserializer::from_slice(window).into_iter::<SpawnExec<'_>>();
        while let Some(spawn) = stream.next() {
            add(&mut b, spawn?);
            *consumed = stream.byte_offset();
        }
        Ok(())
    })?;
    Ok(b.finish())
}

fn add(b: &mut LogBuilder, s: SpawnExec<'_>) {
    for a in &s.command_args {
        b.arg(&a.0);
    }
    for e in &s.environment_variables {
        b.env(&e.name.0, &e.value.0);
    }
    for p in s.platform.iter().flat_map(|p| &p.properties) {
        b.platform(&p.name.0, &p.value.0);
    }
    for f in &s.inputs {
        let fp = if f.symlink_target_path.0.is_empty() {
            f.digest
                .as_ref()
                .map_or_else(empty_digest, Digest::content)
                .fingerprint()
        } else {
            symlink_digest(&f.symlink_target_path.0).fingerprint()
        };
        let path = b.intern(&f.path.0);
        b.input(Input {
            path,
            fp,
            tool: f.is_tool,
        });
    }
    let mut produced = Vec::with_capacity(s.actual_outputs.len());
    for f in &s.actual_outputs {
        let digest = if f.symlink_target_path.0.is_empty() {
            f.digest.as_ref().map_or_else(empty_digest, Digest::content)
        } else {
            symlink_digest(&f.symlink_target_path.0)
        };
        let path = b.intern(&f.path.0);
        produced.push(path);
        b.output(path, Some(digest));
    }
    for listed in &s.listed_outputs {
        let path = b.intern(&listed.0);
        if !produced.contains(&path) {
            b.output(path, None);
        }
    }
    b.finish_action(&ActionDraft {
        label: s.target_label.0.into_owned(),
        mnemonic: s.mnemonic.0.into_owned(),
        digest: s.digest.as_ref().map(Digest::content),
        runner: s.runner.0.into_owned(),
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
