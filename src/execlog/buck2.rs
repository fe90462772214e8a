//! Buck2's `buck2 log what-ran --format json`: one JSON record per line per
//! command reproducer, `{reason, identity, reproducer: {executor, details}}`.
//! Remote and cache records carry the action digest (`HASH:SIZE`); local
//! and worker records carry argv and environment. The log records neither
//! inputs nor outputs, so Buck2 actions can be compared by key and command,
//! not traced through the input graph.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use super::error::{ExeclogError, LogFormat};
use super::json_stream::each_value;
use super::model::{Action, ActionDraft, ContentDigest, FastMap, Log, LogBuilder, Sym};

#[derive(Debug, Deserialize)]
struct Record {
    identity: String,
    reproducer: Reproducer,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "executor", content = "details")]
enum Reproducer {
    CacheQuery {
        digest: String,
    },
    Cache {
        digest: String,
    },
    ReDepFileCache {
        digest: String,
    },
    Re {
        digest: String,
        #[serde(default)]
        platform_properties: BTreeMap<String, String>,
    },
    Local {
        #[serde(default)]
        command: Vec<String>,
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
    Worker {
        #[serde(default)]
        command: Vec<String>,
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
    WorkerInit {
        #[serde(default)]
        command: Vec<String>,
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
}

/// Split `root//pkg:t (cfg) (category identifier)` into the label with its
/// configuration, the category and the identifier.
pub(crate) fn split_identity(identity: &str) -> (&str, &str, &str) {
    let t = identity.trim_end();
    if let Some(inner) = t.strip_suffix(')')
        && let Some(open) = inner.rfind(" (")
    {
        let label = &t[..open];
        let inside = &inner[open + 2..];
        let (category, identifier) = inside.split_once(' ').unwrap_or((inside, ""));
        return (label, category, identifier);
    }
    (t, "", "")
}

pub(crate) fn read(path: &Path, reader: impl Read) -> Result<Log, ExeclogError> {
    let mut b = LogBuilder::default();
    // Several records (a cache query, then an RE execution) describe one
    // action: the later one supersedes, keeping the digest already seen.
    let mut by_identity: FastMap<(Sym, Sym, Sym), usize> = FastMap::default();
    let mut superseded = Vec::new();
    each_value(path, LogFormat::Buck2WhatRan, reader, |window, consumed| {
        let mut stream = serde_json::Deserializer::from_slice(window).into_iter::<Record>();
        while let Some(record) = stream.next() {
            let record = record?;
            let (label, category, identifier) = split_identity(&record.identity);
            let key = (b.intern(label), b.intern(category), b.intern(identifier));
            // Buck2 writes the records of one action together: the one it
            // supersedes is usually the last, and is taken back whole.
            let previous = match by_identity.get(&key) {
                Some(&i) if i + 1 == b.len() => b.pop_last().and_then(|a| a.digest),
                Some(&i) => {
                    superseded.push(i);
                    b.action(i).and_then(|a| a.digest)
                }
                None => None,
            };
            let mut draft = ActionDraft {
                label: label.to_owned(),
                mnemonic: category.to_owned(),
                ..ActionDraft::default()
            };
            let (digest, runner) = match record.reproducer {
                Reproducer::CacheQuery { digest } => (Some(digest), "cache query"),
                Reproducer::Cache { digest } => (Some(digest), "cache"),
                Reproducer::ReDepFileCache { digest } => (Some(digest), "re dep-file cache"),
                Reproducer::Re {
                    digest,
                    platform_properties,
                } => {
                    for (k, v) in &platform_properties {
                        b.platform(k, v);
                    }
                    (Some(digest), "re")
                }
                Reproducer::Local { command, env } => {
                    command_env(&mut b, &mut draft, &command, &env);
                    (None, "local")
                }
                Reproducer::Worker { command, env } | Reproducer::WorkerInit { command, env } => {
                    command_env(&mut b, &mut draft, &command, &env);
                    (None, "worker")
                }
            };
            draft.runner = runner.to_owned();
            draft.digest = digest.map(|d| action_digest(&d)).or(previous);
            if !identifier.is_empty() {
                let p = b.intern(identifier);
                b.output(p, None);
            }
            b.finish_action(&draft);
            by_identity.insert(key, b.len() - 1);
            *consumed = stream.byte_offset();
        }
        Ok(())
    })?;
    let mut log = b.finish();
    superseded.sort_unstable();
    let mut i = 0;
    log.actions.retain(|_: &Action| {
        let keep = superseded.binary_search(&i).is_err();
        i += 1;
        keep
    });
    Ok(log)
}

/// An action digest as Buck2 writes it, `HASH:SIZE`.
fn action_digest(d: &str) -> ContentDigest {
    match d.split_once(':').map(|(h, s)| (h, s.parse::<i64>())) {
        Some((hash, Ok(size))) => ContentDigest::parse(hash, size),
        _ => ContentDigest::parse(d, 0),
    }
}

fn command_env(
    b: &mut LogBuilder,
    draft: &mut ActionDraft,
    command: &[String],
    env: &BTreeMap<String, String>,
) {
    draft.has_command = true;
    for a in command {
        b.arg(a);
    }
    for (k, v) in env {
        b.env(k, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_split_into_label_category_identifier() {
        assert_eq!(
            split_identity("root//a:b (prelude//platforms:default) (cxx_compile a.cpp)"),
            (
                "root//a:b (prelude//platforms:default)",
                "cxx_compile",
                "a.cpp"
            )
        );
        assert_eq!(
            split_identity("root//a:b (cxx_link)"),
            ("root//a:b", "cxx_link", "")
        );
        assert_eq!(split_identity("root//a:b"), ("root//a:b", "", ""));
    }

    #[test]
    fn later_records_of_one_action_supersede() {
        let log = concat!(
            r#"{"reason":"build","identity":"r//:a (c x)","reproducer":{"executor":"CacheQuery","details":{"digest":"d1:10"}}}"#,
            "\n",
            r#"{"reason":"build","identity":"r//:a (c x)","reproducer":{"executor":"Local","details":{"command":["cc"],"env":{"A":"1"}}}}"#,
            "\n"
        );
        let log = read(Path::new("x"), log.as_bytes()).unwrap();
        assert_eq!(log.actions.len(), 1);
        let a = &log.actions[0];
        assert!(a.has_command);
        assert_eq!(a.digest.unwrap().to_string(), "d1/10");
        assert_eq!(log.args(a).len(), 1);
    }

    #[test]
    fn interleaved_records_of_two_actions_merge_per_action() {
        let q = |id: &str, d: &str| {
            format!(
                r#"{{"reason":"build","identity":"r//:{id} (c {id})","reproducer":{{"executor":"CacheQuery","details":{{"digest":"{d}:1"}}}}}}"#
            )
        };
        let log = [
            q("a", "aa"),
            q("b", "bb"),
            r#"{"reason":"build","identity":"r//:a (c a)","reproducer":{"executor":"Local","details":{"command":["x"],"env":{}}}}"#.to_owned(),
            r#"{"reason":"build","identity":"r//:b (c b)","reproducer":{"executor":"Re","details":{"digest":"cc:2","platform_properties":{"k":"v"}}}}"#.to_owned(),
        ]
        .join("\n");
        let log = read(Path::new("x"), log.as_bytes()).unwrap();
        let got: Vec<(String, String, usize, usize)> = log
            .actions
            .iter()
            .map(|a| {
                (
                    log.str(a.label).to_owned(),
                    a.digest.unwrap().to_string(),
                    log.args(a).len(),
                    log.platform(a).len(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("r//:a".to_owned(), "aa/1".to_owned(), 1, 0),
                ("r//:b".to_owned(), "cc/2".to_owned(), 0, 1),
            ]
        );
    }
}
