//! Bazel's `--execution_log_json_file`: `SpawnExec` messages in the proto3
//! JSON mapping (lowerCamelCase names, 64-bit integers as strings), one
//! after another with no array around them: pretty-printed by Bazel 4–8's
//! `JsonFormat`, or one per line. Every field of every `spawn.proto`
//! version is read (Bazel 4's `remoteCacheHit` and `progressMessage`,
//! later `cacheHit`, `targetLabel`, `isTool`, `symlinkTargetPath`); a key
//! this version does not know is counted, never silently dropped.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::error::{ExeclogError, LogFormat};
use super::json_stream::each_value;
use super::summary::Notes;
use super::view::{DigestView, FileView, InputsView, OutputsView, SpawnView, Str};

/// A string borrowed from the input unless it has escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed("")))
            }
        }
        d.deserialize_str(V)
    }
}

/// proto3 JSON writes 64-bit integers as strings, 32-bit ones as numbers;
/// either is accepted for both.
struct Int(i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string holding one")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Int, E> {
                Ok(Int(n))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Int, E> {
                i64::try_from(n).map(Int).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Int, E> {
                s.parse().map(Int).map_err(E::custom)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Int, E> {
                Ok(Int(0))
            }
        }
        d.deserialize_any(V)
    }
}

/// `null` for a boolean is its default.
struct Bool(bool);

impl<'de> Deserialize<'de> for Bool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<bool>::deserialize(d).map(|b| Bool(b.unwrap_or(false)))
    }
}

/// A list; `null` is empty.
struct List<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<Vec<T>>::deserialize(d).map(|v| List(v.unwrap_or_default()))
    }
}

/// Unknown keys of one message and its sub-messages, as `Message.key`.
type Unknown<'a> = Vec<(&'static str, Cow<'a, str>)>;

struct JsonDigest<'a>(DigestView<'a>, Unknown<'a>);

impl<'de> Deserialize<'de> for JsonDigest<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonDigest<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Digest")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let (mut d, mut unknown) = (DigestView::default(), Unknown::new());
                while let Some(Text(k)) = m.next_key::<Text<'de>>()? {
                    match &*k {
                        "hash" => d.hash = m.next_value::<Text<'de>>()?.0,
                        "sizeBytes" | "size_bytes" => d.size = m.next_value::<Int>()?.0,
                        "hashFunctionName" | "hash_function_name" => {
                            d.function = m.next_value::<Text<'de>>()?.0;
                        }
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                            unknown.push(("Digest", k));
                        }
                    }
                }
                Ok(JsonDigest(d, unknown))
            }
        }
        d.deserialize_map(V)
    }
}

struct JsonFile<'a>(FileView<'a>, Unknown<'a>);

impl<'de> Deserialize<'de> for JsonFile<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonFile<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a File")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let (mut f, mut unknown) = (FileView::default(), Unknown::new());
                while let Some(Text(k)) = m.next_key::<Text<'de>>()? {
                    match &*k {
                        "path" => f.path = m.next_value::<Text<'de>>()?.0,
                        "digest" => {
                            if let Some(JsonDigest(d, u)) =
                                m.next_value::<Option<JsonDigest<'de>>>()?
                            {
                                f.digest = Some(d);
                                unknown.extend(u);
                            }
                        }
                        "isTool" | "is_tool" => f.tool = m.next_value::<Bool>()?.0,
                        "symlinkTargetPath" | "symlink_target_path" => {
                            f.symlink = m.next_value::<Text<'de>>()?.0;
                            // Present (even empty): this log can name symlinks.
                            unknown.push(("", Cow::Borrowed("symlinks")));
                        }
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                            unknown.push(("File", k));
                        }
                    }
                }
                Ok(JsonFile(f, unknown))
            }
        }
        d.deserialize_map(V)
    }
}

/// `{name, value}` pairs: environment variables and platform properties.
struct NameValue<'a>(Str<'a>, Str<'a>, Unknown<'a>);

impl<'de> Deserialize<'de> for NameValue<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NameValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name and a value")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut nv = NameValue(Cow::Borrowed(""), Cow::Borrowed(""), Unknown::new());
                while let Some(Text(k)) = m.next_key::<Text<'de>>()? {
                    match &*k {
                        "name" => nv.0 = m.next_value::<Text<'de>>()?.0,
                        "value" => nv.1 = m.next_value::<Text<'de>>()?.0,
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                            nv.2.push(("EnvironmentVariable", k));
                        }
                    }
                }
                Ok(nv)
            }
        }
        d.deserialize_map(V)
    }
}

struct JsonPlatform<'a>(Vec<NameValue<'a>>, Unknown<'a>);

impl<'de> Deserialize<'de> for JsonPlatform<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonPlatform<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Platform")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut p = JsonPlatform(Vec::new(), Unknown::new());
                while let Some(Text(k)) = m.next_key::<Text<'de>>()? {
                    match &*k {
                        "properties" => p.0 = m.next_value::<List<NameValue<'de>>>()?.0,
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                            p.1.push(("Platform", k));
                        }
                    }
                }
                Ok(p)
            }
        }
        d.deserialize_map(V)
    }
}

/// One `SpawnExec` and the keys it had that `twice` does not know.
pub(crate) struct JsonSpawn<'a> {
    pub(crate) view: SpawnView<'a>,
    unknown: Unknown<'a>,
}

impl JsonSpawn<'_> {
    /// Record the unknown keys (and whether symlinks can be named) in the
    /// log's notes.
    pub(crate) fn note(&self, notes: &mut Notes) {
        for (message, key) in &self.unknown {
            if message.is_empty() {
                notes.symlinks_recorded = true;
            } else {
                notes.unknown(message, key);
            }
        }
    }
}

impl<'de> Deserialize<'de> for JsonSpawn<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonSpawn<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a SpawnExec object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut v = SpawnView::default();
                let mut unknown = Unknown::new();
                let mut listed = Vec::new();
                let mut actual = Vec::new();
                let mut inputs = Vec::new();
                while let Some(Text(k)) = m.next_key::<Text<'de>>()? {
                    match &*k {
                        "commandArgs" | "command_args" => {
                            v.args = m
                                .next_value::<List<Text<'de>>>()?
                                .0
                                .into_iter()
                                .map(|t| t.0)
                                .collect();
                        }
                        "environmentVariables" | "environment_variables" => {
                            for NameValue(n, x, u) in m.next_value::<List<NameValue<'de>>>()?.0 {
                                v.env.push((n, x));
                                unknown.extend(u);
                            }
                        }
                        "platform" => {
                            if let Some(JsonPlatform(props, u)) =
                                m.next_value::<Option<JsonPlatform<'de>>>()?
                            {
                                unknown.extend(u);
                                for NameValue(n, x, u) in props {
                                    v.platform.push((n, x));
                                    unknown.extend(u);
                                }
                            }
                        }
                        "inputs" => {
                            for JsonFile(f, u) in m.next_value::<List<JsonFile<'de>>>()?.0 {
                                inputs.push(f);
                                unknown.extend(u);
                            }
                        }
                        "listedOutputs" | "listed_outputs" => {
                            listed = m
                                .next_value::<List<Text<'de>>>()?
                                .0
                                .into_iter()
                                .map(|t| t.0)
                                .collect();
                        }
                        "actualOutputs" | "actual_outputs" => {
                            for JsonFile(f, u) in m.next_value::<List<JsonFile<'de>>>()?.0 {
                                actual.push(f);
                                unknown.extend(u);
                            }
                        }
                        "remotable" => v.remotable = m.next_value::<Bool>()?.0,
                        "cacheable" => v.cacheable = m.next_value::<Bool>()?.0,
                        "remoteCacheable" | "remote_cacheable" => {
                            v.remote_cacheable = m.next_value::<Bool>()?.0;
                        }
                        "timeoutMillis" | "timeout_millis" => {
                            v.timeout_millis = m.next_value::<Int>()?.0
                        }
                        "progressMessage" | "progress_message" => {
                            v.progress = m.next_value::<Text<'de>>()?.0
                        }
                        "mnemonic" => v.mnemonic = m.next_value::<Text<'de>>()?.0,
                        "runner" => v.runner = m.next_value::<Text<'de>>()?.0,
                        "cacheHit" | "cache_hit" | "remoteCacheHit" | "remote_cache_hit" => {
                            v.cache_hit |= m.next_value::<Bool>()?.0;
                        }
                        "status" => v.status = m.next_value::<Text<'de>>()?.0,
                        "exitCode" | "exit_code" => v.exit_code = m.next_value::<Int>()?.0 as i32,
                        "targetLabel" | "target_label" => v.label = m.next_value::<Text<'de>>()?.0,
                        "digest" => {
                            if let Some(JsonDigest(dg, u)) =
                                m.next_value::<Option<JsonDigest<'de>>>()?
                            {
                                v.digest = (!dg.hash.is_empty()).then_some(dg);
                                unknown.extend(u);
                            }
                        }
                        // Timings: never compared.
                        "metrics" | "walltime" => {
                            m.next_value::<IgnoredAny>()?;
                        }
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                            unknown.push(("SpawnExec", k));
                        }
                    }
                }
                v.inputs = InputsView::Flat(inputs);
                v.outputs = OutputsView::Listed { listed, actual };
                Ok(JsonSpawn { view: v, unknown })
            }
        }
        d.deserialize_map(V)
    }
}

/// Read every spawn of a JSON log: `f` gets each with the file offset its
/// record starts at.
pub(crate) fn read(
    path: &Path,
    reader: impl Read,
    notes: &mut Notes,
    mut f: impl FnMut(&SpawnView<'_>, u64, &mut Notes),
) -> Result<(), ExeclogError> {
    each_value(
        path,
        LogFormat::BazelJson,
        reader,
        |window, base, consumed| {
            let mut stream =
                serde_json::Deserializer::from_slice(window).into_iter::<JsonSpawn<'_>>();
            let mut at = *consumed;
            while let Some(spawn) = stream.next() {
                let spawn = spawn?;
                spawn.note(notes);
                f(&spawn.view, base + at as u64, notes);
                at = stream.byte_offset();
                *consumed = at;
            }
            Ok(())
        },
    )
}

/// Parse one record (the second pass reads records by offset).
pub(crate) fn parse_one(bytes: &[u8]) -> Result<JsonSpawn<'_>, serde_json::Error> {
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<JsonSpawn<'_>>();
    match stream.next() {
        Some(r) => r,
        None => Err(de::Error::custom("no record at this offset")),
    }
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
  "metrics": {"totalTime": "0.1s"}, "newField": 3
}{"commandArgs": ["ld"], "listedOutputs": ["b"], "mnemonic": "CppLink",
  "progressMessage": "Linking //:b [for host]", "remoteCacheHit": true}"#;

    fn all(text: &str) -> Result<(Vec<(String, u64)>, Notes), ExeclogError> {
        let mut notes = Notes::default();
        let mut got = Vec::new();
        read(
            Path::new("x"),
            text.as_bytes(),
            &mut Notes::default(),
            |v, at, n| {
                got.push((format!("{} {}", v.mnemonic, v.label().unwrap_or("-")), at));
                notes
                    .unknown_fields
                    .extend(std::mem::take(&mut n.unknown_fields));
            },
        )?;
        Ok((got, notes))
    }

    #[test]
    fn reads_concatenated_objects_with_offsets_labels_and_unknown_keys() {
        let (got, notes) = all(TWO).unwrap();
        let second = TWO.find("}{").unwrap() as u64 + 1;
        assert_eq!(
            got,
            [
                ("CppCompile //:a".to_owned(), 0),
                ("CppLink //:b".to_owned(), second),
            ]
        );
        assert_eq!(notes.unknown_fields.get("SpawnExec.newField"), Some(&1));
        let rec = parse_one(&TWO.as_bytes()[second as usize..]).unwrap();
        assert!(rec.view.hit());
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
            match all(part) {
                Err(ExeclogError::Corrupt { offset, .. }) => assert!(offset <= cut as u64),
                other => panic!("cut at {cut}: {:?}", other.map(|x| x.0)),
            }
        }
    }
}
