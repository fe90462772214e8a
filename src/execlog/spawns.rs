//! Whole spawns of a Bazel JSON execution log, for re-executing them
//! (`twice execlog --reexecute`): the command line, environment, platform,
//! every input with its full digest and the declared outputs. The
//! comparison keeps only fingerprints of inputs (`model.rs`); a re-executed
//! Action needs the digests themselves. Only the spawns `keep` selects are
//! kept, so memory follows the selection, not the log.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;

use super::error::{ExeclogError, LogFormat};
use super::json_stream::each_value;
use super::source::sniff;

/// One logged spawn, as re-execution needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spawn {
    /// `targetLabel`, or the label in the progress message (Bazel 4 to 6
    /// log none), or empty.
    pub label: String,
    pub mnemonic: String,
    /// The smallest output path.
    pub primary_output: Option<String>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub platform: Vec<(String, String)>,
    pub inputs: Vec<SpawnInput>,
    /// The declared outputs (`listedOutputs`).
    pub outputs: Vec<String>,
    pub timeout_millis: i64,
}

/// An input file: its exec path and logged digest, or the target of an
/// unresolved symlink.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpawnInput {
    pub path: String,
    pub hash: String,
    pub size: i64,
    pub symlink_target: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawSpawn<'a> {
    #[serde(borrow, alias = "command_args")]
    command_args: Vec<Str<'a>>,
    #[serde(borrow, alias = "environment_variables")]
    environment_variables: Vec<RawPair<'a>>,
    #[serde(borrow)]
    platform: Option<RawPlatform<'a>>,
    #[serde(borrow)]
    inputs: Vec<RawFile<'a>>,
    #[serde(borrow, alias = "listed_outputs")]
    listed_outputs: Vec<Str<'a>>,
    #[serde(borrow)]
    mnemonic: Str<'a>,
    #[serde(borrow, alias = "target_label")]
    target_label: Str<'a>,
    #[serde(borrow, alias = "progress_message")]
    progress_message: Str<'a>,
    #[serde(alias = "timeout_millis", deserialize_with = "int64")]
    timeout_millis: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawPair<'a> {
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow)]
    value: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawPlatform<'a> {
    #[serde(borrow)]
    properties: Vec<RawPair<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawFile<'a> {
    #[serde(borrow)]
    path: Str<'a>,
    #[serde(borrow)]
    digest: Option<RawDigest<'a>>,
    #[serde(borrow, alias = "symlink_target_path")]
    symlink_target_path: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawDigest<'a> {
    #[serde(borrow)]
    hash: Str<'a>,
    #[serde(alias = "size_bytes", deserialize_with = "int64")]
    size_bytes: i64,
}

/// proto3 JSON writes int64 as a string; accept a number too.
fn int64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int<'a> {
        N(i64),
        S(#[serde(borrow)] Cow<'a, str>),
    }
    match Int::deserialize(d)? {
        Int::N(n) => Ok(n),
        Int::S(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

/// The label in a progress message (`Executing genrule //:stamp_h`,
/// `Compiling … [for host]`): its first word that starts like one.
fn label_in(message: &str) -> Option<&str> {
    message
        .split_whitespace()
        .find(|w| w.starts_with("//") || w.starts_with('@'))
}

impl From<RawSpawn<'_>> for Spawn {
    fn from(s: RawSpawn<'_>) -> Spawn {
        let label = if s.target_label.0.is_empty() {
            label_in(&s.progress_message.0).unwrap_or("").to_owned()
        } else {
            s.target_label.0.into_owned()
        };
        let outputs: Vec<String> = s
            .listed_outputs
            .into_iter()
            .map(|o| o.0.into_owned())
            .collect();
        Spawn {
            label,
            mnemonic: s.mnemonic.0.into_owned(),
            primary_output: outputs.iter().min().cloned(),
            args: s
                .command_args
                .into_iter()
                .map(|a| a.0.into_owned())
                .collect(),
            env: s
                .environment_variables
                .into_iter()
                .map(|e| (e.name.0.into_owned(), e.value.0.into_owned()))
                .collect(),
            platform: s
                .platform
                .into_iter()
                .flat_map(|p| p.properties)
                .map(|p| (p.name.0.into_owned(), p.value.0.into_owned()))
                .collect(),
            inputs: s
                .inputs
                .into_iter()
                .map(|f| {
                    let (hash, size) = f
                        .digest
                        .map(|d| (d.hash.0.into_owned(), d.size_bytes))
                        .unwrap_or_default();
                    SpawnInput {
                        path: f.path.0.into_owned(),
                        hash,
                        size,
                        symlink_target: (!f.symlink_target_path.0.is_empty())
                            .then(|| f.symlink_target_path.0.into_owned()),
                    }
                })
                .collect(),
            outputs,
            timeout_millis: s.timeout_millis,
        }
    }
}

/// The spawns of the Bazel JSON log at `path` that `keep` selects, in log
/// order. Other formats give their format and no spawns: re-execution
/// reads JSON logs only.
pub fn read_spawns(
    path: &Path,
    mut keep: impl FnMut(&Spawn) -> bool,
) -> Result<(LogFormat, Vec<Spawn>), ExeclogError> {
    let open = |source| ExeclogError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(open)?;
    let mut reader = BufReader::with_capacity(256 << 10, file);
    let head = reader.fill_buf().map_err(open)?;
    let format = sniff(path, head)?;
    if format != LogFormat::BazelJson {
        return Ok((format, Vec::new()));
    }
    let mut out = Vec::new();
    each_value(path, format, reader, |window, _at, consumed| {
        let mut stream = serde_json::Deserializer::from_slice(window).into_iter::<RawSpawn<'_>>();
        while let Some(raw) = stream.next() {
            let spawn = Spawn::from(raw?);
            if keep(&spawn) {
                out.push(spawn);
            }
            *consumed = stream.byte_offset();
        }
        Ok(())
    })?;
    Ok((format, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_bazel_log_with_labels_from_progress_messages() {
        let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bazel/logs/a.exec.json");
        let (format, all) = read_spawns(&log, |_| true).unwrap();
        assert_eq!(format, LogFormat::BazelJson);
        assert_eq!(all.len(), 31);
        let stamp = all.iter().find(|s| s.label == "//:stamp_h").unwrap();
        assert_eq!(stamp.mnemonic, "Genrule");
        assert_eq!(
            stamp.primary_output.as_deref(),
            Some("bazel-out/k8-fastbuild/bin/stamp.h")
        );
        assert_eq!(stamp.args[0], "/bin/bash");
        assert_eq!(stamp.inputs.len(), 1);
        assert_eq!(stamp.inputs[0].size, 858);
        assert_eq!(stamp.inputs[0].hash.len(), 64);
        let (_, some) = read_spawns(&log, |s| s.label == "//:greeting").unwrap();
        assert_eq!(some.len(), 1);
    }
}
