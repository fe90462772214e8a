//! Buck2's `buck2 log what-ran --format json`: one JSON record per line per
//! command reproducer, `{reason, identity, reproducer: {executor,
//! details}, duration, extra, std_err, scheduling_mode}` (Buck2's
//! `what_ran.rs` serialises `JsonCommand`/`JsonReproducer` that way). Remote
//! and cache records carry the action digest (`HASH:SIZE`); local and worker
//! records carry argv and environment; `LocalDepFileCache` carries nothing.
//! The log records neither inputs nor outputs, so Buck2 actions are compared
//! by key and command, not traced through the input graph.
//!
//! Several records describe one action (a cache query, then an execution):
//! they are merged by identity, a later record superseding an earlier one
//! but keeping what only the earlier one says (the digest of a query).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::bazel_compact::Need;
use super::error::{ExeclogError, LogFormat};
use super::hash::{Key2, h, mix};
use super::json_stream::each_value;
use super::model::{Action, ContentDigest, Detail, FastMap, Inputs, Interner, Run, len32};
use super::summary::{ActSum, LogSummary, flag};

#[derive(Debug, Deserialize)]
struct Record<'a> {
    #[serde(borrow, default)]
    reason: Cow<'a, str>,
    #[serde(borrow)]
    identity: Cow<'a, str>,
    #[serde(borrow)]
    reproducer: Reproducer<'a>,
    #[serde(borrow, default)]
    duration: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    std_err: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    scheduling_mode: Option<Cow<'a, str>>,
    #[serde(default)]
    #[allow(dead_code, reason = "read to accept it; test cases are not compared")]
    extra: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct Reproducer<'a> {
    #[serde(borrow)]
    executor: Cow<'a, str>,
    #[serde(borrow, default)]
    details: Option<Details<'a>>,
}

/// The details of every executor kind, read by key so that a kind this
/// version does not know is still compared by what it carries.
#[derive(Debug, Default, Deserialize)]
struct Details<'a> {
    #[serde(borrow, default)]
    digest: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    command: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, default)]
    env: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
    #[serde(borrow, default)]
    platform_properties: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
}

/// The executor kinds of `what_ran.rs` and whether each answers from a
/// cache. Anything else is an opaque runner, reported with a warning.
fn executor(name: &str) -> Option<bool> {
    Some(match name {
        "Cache" | "ReDepFileCache" | "LocalDepFileCache" => true,
        "CacheQuery" | "Re" | "ReWorker" | "Local" | "Worker" | "WorkerInit" => false,
        _ => return None,
    })
}

/// The runner name reports have given each executor since `twice`'s first
/// Buck2 support (`run_a`/`run_b` carry the executor's own name).
pub(crate) fn runner_name(executor: &str) -> &str {
    match executor {
        "CacheQuery" => "cache query",
        "Cache" => "cache",
        "ReDepFileCache" => "re dep-file cache",
        "LocalDepFileCache" => "local dep-file cache",
        "Re" => "re",
        "ReWorker" => "re worker",
        "Local" => "local",
        "Worker" | "WorkerInit" => "worker",
        other => other,
    }
}

/// Split `root//pkg:t (cfg) (category identifier)` into the label with its
/// configuration, the category and the identifier. The identifier may have
/// parentheses of its own (`(cxx_compile greet.cc (pic))`), so the last
/// group is found by balancing them from the end.
pub(crate) fn split_identity(identity: &str) -> (&str, &str, &str) {
    let t = identity.trim_end();
    if !t.ends_with(')') {
        return (t, "", "");
    }
    let mut depth = 0usize;
    let mut open = None;
    for (i, c) in t.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    open = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(open) = open else {
        return (t, "", "");
    };
    let inside = &t[open + 1..t.len() - 1];
    let label = t[..open].trim_end();
    // A lone configuration `(prelude//platforms:default)` is not a category.
    if label.is_empty() || inside.contains("//") && !inside.contains(' ') {
        return (t, "", "");
    }
    let (category, identifier) = inside.split_once(' ').unwrap_or((inside, ""));
    (label, category, identifier)
}

/// Call `f` with every record of a what-ran log.
fn each_record(
    path: &Path,
    reader: impl Read,
    mut f: impl FnMut(Record<'_>),
) -> Result<(), ExeclogError> {
    each_value(
        path,
        LogFormat::Buck2WhatRan,
        reader,
        |window, _, consumed| {
            let mut stream = serde_json::Deserializer::from_slice(window).into_iter::<Record<'_>>();
            while let Some(record) = stream.next() {
                let r = record?;
                *consumed = stream.byte_offset();
                f(r);
            }
            Ok(())
        },
    )
}

fn key(identity: &str) -> [u64; 2] {
    let (label, category, identifier) = split_identity(identity);
    Key2::default()
        .str(label)
        .str(category)
        .str(identifier)
        .done()
}

fn action_digest(d: &str) -> ContentDigest {
    match d.split_once(':').map(|(h, s)| (h, s.parse::<i64>())) {
        Some((hash, Ok(size))) => ContentDigest::parse(hash, size),
        _ => ContentDigest::parse(d, 0),
    }
}

/// What the first pass keeps of an action while records arrive.
#[derive(Clone, Copy, Default)]
struct State {
    key: [u64; 2],
    digest: u64,
    command: u64,
    platform: u64,
    has_command: bool,
    hit: bool,
}

pub(crate) fn summarize(path: &Path, reader: impl Read) -> Result<LogSummary, ExeclogError> {
    let mut s = LogSummary::default();
    // By the first half of the key (12 bytes an entry, not 20); the rare
    // actions whose first halves collide go to `collided`.
    let mut index: FastMap<u64, u32> = FastMap::default();
    let mut collided: FastMap<[u64; 2], u32> = FastMap::default();
    let mut states: Vec<State> = Vec::new();
    each_record(path, reader, |r| {
        let k = key(&r.identity);
        let new = |states: &mut Vec<State>| {
            states.push(State {
                key: k,
                ..State::default()
            });
            len32(states.len() - 1)
        };
        let i = match index.get(&k[0]) {
            None => {
                let i = new(&mut states);
                index.insert(k[0], i);
                i
            }
            Some(&i) if states[i as usize].key == k => i,
            Some(_) => *collided.entry(k).or_insert_with(|| new(&mut states)),
        };
        let st = &mut states[i as usize];
        let exec = &r.reproducer.executor;
        let hit = executor(exec).unwrap_or_else(|| {
            *s.notes
                .unknown_executors
                .entry(exec.to_string())
                .or_default() += 1;
            false
        });
        st.hit = hit;
        if let Some(d) = &r.reproducer.details {
            if let Some(dg) = &d.digest {
                st.digest = h(dg);
            }
            if let Some(c) = &d.command {
                let mut acc = 0u64;
                for a in c {
                    acc = mix(acc, h(a));
                }
                for (k, v) in d.env.iter().flatten() {
                    acc = mix(acc, mix(h(k), h(v)));
                }
                st.command = acc;
                st.has_command = true;
            }
            if let Some(p) = &d.platform_properties {
                st.platform = p.iter().fold(0, |acc, (k, v)| mix(acc, mix(h(k), h(v))));
            }
        }
    })?;
    s.actions = states
        .iter()
        .map(|st| {
            let mut flags = if st.hit { flag::HIT } else { 0 };
            if !st.has_command {
                flags |= flag::NO_COMMAND;
            }
            ActSum::new(
                st.key,
                mix(mix(st.digest, st.command), st.platform),
                flags | flag::NO_IO,
            )
        })
        .collect();
    s.finish();
    Ok(s)
}

/// One action's records merged (second pass).
#[derive(Default)]
struct Merged {
    identity: String,
    reason: String,
    digest: Option<String>,
    command: Option<Vec<String>>,
    env: Vec<(String, String)>,
    platform: Vec<(String, String)>,
    executor: String,
    hit: bool,
    duration: Option<String>,
    std_err: Option<String>,
    scheduling_mode: Option<String>,
}

/// The second pass: the records of the actions `wanted` (by key, with
/// their ordinal) merged into `Detail` actions.
pub(crate) fn details(
    path: &Path,
    reader: impl Read,
    wanted: &FastMap<[u64; 2], (u32, Need)>,
    strings: &std::sync::Mutex<Interner>,
) -> Result<Detail, ExeclogError> {
    let mut merged: FastMap<u32, Merged> = FastMap::default();
    each_record(path, reader, |r| {
        let Some(&(ordinal, _)) = wanted.get(&key(&r.identity)) else {
            return;
        };
        let m = merged.entry(ordinal).or_default();
        m.identity = r.identity.to_string();
        m.reason = r.reason.to_string();
        m.executor = r.reproducer.executor.to_string();
        m.hit = executor(&m.executor).unwrap_or(false);
        m.duration = r.duration.map(Cow::into_owned);
        m.std_err = r.std_err.map(Cow::into_owned);
        m.scheduling_mode = r.scheduling_mode.map(Cow::into_owned);
        if let Some(d) = r.reproducer.details {
            if let Some(dg) = d.digest {
                m.digest = Some(dg.into_owned());
            }
            if let Some(c) = d.command {
                m.command = Some(c.into_iter().map(Cow::into_owned).collect());
                m.env = d
                    .env
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
            }
            if let Some(p) = d.platform_properties {
                m.platform = p
                    .into_iter()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
            }
        }
    })?;
    let mut st = strings
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut d = Detail::default();
    let mut list: Vec<(u32, Merged)> = merged.into_iter().collect();
    list.sort_by_key(|x| x.0);
    for (ordinal, m) in list {
        let (label, category, identifier) = split_identity(&m.identity);
        let mnemonic = if category.is_empty() {
            &m.reason
        } else {
            category
        };
        let command = d.push_command(
            &mut st,
            m.command.iter().flatten().map(String::as_str),
            m.env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            m.platform.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let opt = |st: &mut Interner, s: &Option<String>| s.as_deref().map(|s| st.intern(s));
        let run = Run {
            runner: Some(st.intern(&m.executor)),
            hit: m.hit,
            duration: opt(&mut st, &m.duration),
            std_err: opt(&mut st, &m.std_err),
            scheduling_mode: opt(&mut st, &m.scheduling_mode),
            ..Run::default()
        };
        d.actions.push(Action {
            ordinal,
            label: Some(st.intern(label)),
            mnemonic: st.intern(mnemonic),
            primary: (!identifier.is_empty()).then(|| st.intern(identifier)),
            digest: m.digest.as_deref().map(action_digest),
            run,
            has_command: m.command.is_some(),
            full: true,
            args: command.args,
            env: command.env,
            platform: command.platform,
            inputs: Inputs::Unknown,
            outputs: 0..0,
        });
    }
    Ok(d)
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
            split_identity(
                "root//:greet (prelude//platforms:default#2a) (cxx_compile greet.cc (pic))"
            ),
            (
                "root//:greet (prelude//platforms:default#2a)",
                "cxx_compile",
                "greet.cc (pic)"
            )
        );
        assert_eq!(
            split_identity("root//a:b (cxx_link)"),
            ("root//a:b", "cxx_link", "")
        );
        assert_eq!(split_identity("root//a:b"), ("root//a:b", "", ""));
        assert_eq!(
            split_identity("root//a:b (prelude//platforms:default)"),
            ("root//a:b (prelude//platforms:default)", "", "")
        );
    }

    #[test]
    fn unknown_and_unit_executors_are_read_not_fatal() {
        let log = concat!(
            r#"{"reason":"build","identity":"r//:a (c x)","reproducer":{"executor":"LocalDepFileCache"},"duration":"0.0s","std_err":""}"#,
            "\n",
            r#"{"reason":"build","identity":"r//:b (c y)","reproducer":{"executor":"LocalActionCache","details":{"digest":"ab:3"}}}"#,
            "\n",
            r#"{"reason":"build","identity":"r//:c (c z)","reproducer":{"executor":"ReWorker","details":{"digest":"cd:4","platform_properties":{}}},"scheduling_mode":"FullHybrid"}"#,
        );
        let s = summarize(Path::new("x"), log.as_bytes()).unwrap();
        assert_eq!(s.actions.len(), 3);
        assert!(s.actions[0].has(flag::NO_COMMAND) && s.actions[0].has(flag::HIT));
        assert_eq!(s.notes.unknown_executors.get("LocalActionCache"), Some(&1));
    }

    #[test]
    fn later_records_of_one_action_supersede() {
        let log = concat!(
            r#"{"reason":"build","identity":"r//:a (c x)","reproducer":{"executor":"CacheQuery","details":{"digest":"d1:10"}}}"#,
            "\n",
            r#"{"reason":"build","identity":"r//:a (c x)","reproducer":{"executor":"Local","details":{"command":["cc"],"env":{"A":"1"}}}}"#,
            "\n"
        );
        let s = summarize(Path::new("x"), log.as_bytes()).unwrap();
        assert_eq!(s.actions.len(), 1);
        let wanted = [(s.actions[0].key(), (0, Need::Full))]
            .into_iter()
            .collect();
        let strings = std::sync::Mutex::new(Interner::default());
        let d = details(Path::new("x"), log.as_bytes(), &wanted, &strings).unwrap();
        let a = &d.actions[0];
        assert!(a.has_command);
        assert_eq!(a.digest.unwrap().to_string(), "d1/10");
        assert_eq!(d.args(a).len(), 1);
    }
}
