//! Synthetic build logs in the exact published formats, for fixtures, tests
//! and benchmarks (large logs for measuring; the real-Bazel fixtures are in
//! `fixtures/bazel/`). Test support, not part of the library: whoever
//! includes it declares the `proto` module (`src/execlog/proto.rs`) beside
//! it.
//!
//! The build graph: `//src:b` compiles non-deterministically (a timestamp in
//! `b.o`) and taints the archive, the shared library, the app and its test;
//! `//src:c` sees a different `LANG` (non-hermetic environment) and taints
//! `libc.so`, the app and its test; `//src:version` is stamped with a
//! different argument and taints `v.o`. Build B also runs `//src:docs`.
//! `filler` identical compile and link actions can be added for scale.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

use prost::Message;
use serde::Serialize;

use super::proto::entry::{self, Type, output};
use super::proto::{Digest as PbDigest, EnvironmentVariable, ExecLogEntry, Platform};

/// The content digest the synthetic logs use (hex BLAKE3).
struct Digest;

impl Digest {
    fn of(data: &[u8]) -> String {
        blake3::hash(data).to_hex().to_string()
    }
}

/// Which of the two builds to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    A,
    B,
}

const OUT: &str = "bazel-out/k8-fastbuild/bin";

/// One spawn of the synthetic build.
#[derive(Clone, Debug)]
pub struct Spawn {
    pub label: String,
    pub mnemonic: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// (path, content, is_tool)
    pub inputs: Vec<(String, Vec<u8>, bool)>,
    /// (path, content)
    pub outputs: Vec<(String, Vec<u8>)>,
    /// Buck2: run locally (argv and env logged) rather than on RE.
    pub local: bool,
}

fn source(path: &str) -> (String, Vec<u8>, bool) {
    (
        path.to_owned(),
        format!("/* {path} */\n").into_bytes(),
        false,
    )
}

fn tool() -> (String, Vec<u8>, bool) {
    (
        "external/toolchain/bin/cc".to_owned(),
        b"\x7fELF cc".to_vec(),
        true,
    )
}

/// A spawn whose outputs are a pure function of its inputs, plus `extra`.
fn spawn(
    label: &str,
    mnemonic: &str,
    args: &[&str],
    env: &[(&str, &str)],
    inputs: Vec<(String, Vec<u8>, bool)>,
    output: &str,
    extra: &str,
) -> Spawn {
    let mut content = format!("{mnemonic} {label}\n").into_bytes();
    for (path, data, _) in &inputs {
        content.extend_from_slice(format!("{path} {}\n", Digest::of(data)).as_bytes());
    }
    content.extend_from_slice(extra.as_bytes());
    Spawn {
        label: label.to_owned(),
        mnemonic: mnemonic.to_owned(),
        args: args.iter().map(|s| (*s).to_owned()).collect(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        inputs,
        outputs: vec![(format!("{OUT}/{output}"), content)],
        local: false,
    }
}

fn out_of(s: &Spawn) -> (String, Vec<u8>, bool) {
    let (p, c) = &s.outputs[0];
    (p.clone(), c.clone(), false)
}

const PATH: (&str, &str) = ("PATH", "/usr/bin:/bin");

/// The spawns of one build: the base graph, then `filler` identical ones.
pub fn spawns(build: Build, filler: usize) -> impl Iterator<Item = Spawn> {
    let a = build == Build::A;
    let cc = |src: &str, obj: &str| {
        vec!["external/toolchain/bin/cc", "-c", src, "-o", obj]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let compile = |label: &str, src: &str, obj: &str, env: &[(&str, &str)], extra: &str| {
        let args = cc(src, &format!("{OUT}/{obj}"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        spawn(
            label,
            "CppCompile",
            &args,
            env,
            vec![source(src), source("src/util.h"), tool()],
            obj,
            extra,
        )
    };
    let obj_a = compile("//src:a", "src/a.c", "src/a.o", &[PATH], "");
    let obj_b = compile(
        "//src:b",
        "src/b.c",
        "src/b.o",
        &[PATH],
        if a {
            "built Nov 25 2026 10:00:00\n"
        } else {
            "built Nov 25 2026 11:30:00\n"
        },
    );
    let lang = if a { "C" } else { "en_US.UTF-8" };
    let mut obj_c = compile(
        "//src:c",
        "src/c.c",
        "src/c.o",
        &[PATH, ("LANG", lang)],
        &format!("messages in {lang}\n"),
    );
    obj_c.local = true;
    let obj_main = compile("//src:app", "src/main.c", "src/main.o", &[PATH], "");
    let archive = spawn(
        "//src:b",
        "CppArchive",
        &["ar", "rcsD", "libb.a", "b.o"],
        &[PATH],
        vec![out_of(&obj_b)],
        "src/libb.a",
        "",
    );
    let libab = spawn(
        "//src:ab",
        "CppLink",
        &["external/toolchain/bin/cc", "-shared", "-o", "libab.so"],
        &[PATH],
        vec![out_of(&obj_a), out_of(&archive), tool()],
        "src/libab.so",
        "",
    );
    let libc = spawn(
        "//src:c",
        "CppLink",
        &["external/toolchain/bin/cc", "-shared", "-o", "libc.so"],
        &[PATH],
        vec![out_of(&obj_c), tool()],
        "src/libc.so",
        "",
    );
    let app = spawn(
        "//src:app",
        "CppLink",
        &["external/toolchain/bin/cc", "-o", "app"],
        &[PATH],
        vec![out_of(&obj_main), out_of(&libab), out_of(&libc), tool()],
        "src/app",
        "",
    );
    let test = spawn(
        "//src:app_test",
        "TestRunner",
        &["src/app", "--test"],
        &[PATH],
        vec![out_of(&app)],
        "src/app_test/test.log",
        "",
    );
    let stamp = if a {
        "--stamp=1764064800"
    } else {
        "--stamp=1764070200"
    };
    let mut version = spawn(
        "//src:version",
        "Genrule",
        &["/bin/bash", "-c", "tools/stamp.sh", stamp],
        &[PATH],
        vec![source("tools/stamp.sh")],
        "src/version.h",
        stamp,
    );
    version.local = true;
    let obj_v = spawn(
        "//src:v",
        "CppCompile",
        &["external/toolchain/bin/cc", "-c", "src/v.c"],
        &[PATH],
        vec![source("src/v.c"), out_of(&version), tool()],
        "src/v.o",
        "",
    );
    let mut base = vec![
        version, obj_a, obj_b, obj_c, obj_main, obj_v, archive, libab, libc, app, test,
    ];
    if !a {
        base.push(spawn(
            "//src:docs",
            "Genrule",
            &["tools/docs.sh"],
            &[PATH],
            vec![source("tools/docs.sh")],
            "src/docs.html",
            "",
        ));
    }
    base.into_iter().chain(filler_spawns(filler))
}

/// Identical work for scale: nine compiles, then a link of those nine.
fn filler_spawns(n: usize) -> impl Iterator<Item = Spawn> {
    let mut objects: Vec<(String, Vec<u8>, bool)> = Vec::new();
    (0..n).map(move |i| {
        let pkg = format!("gen/p{}", i / 1000);
        if i % 10 == 9 {
            let inputs = std::mem::take(&mut objects);
            spawn(
                &format!("//{pkg}:lib{i}"),
                "CppLink",
                &["external/toolchain/bin/cc", "-shared"],
                &[PATH],
                inputs,
                &format!("{pkg}/lib{i}.so"),
                "",
            )
        } else {
            let src = format!("{pkg}/t{i}.c");
            let s = spawn(
                &format!("//{pkg}:t{i}"),
                "CppCompile",
                &["external/toolchain/bin/cc", "-c", &src],
                &[PATH],
                vec![source(&src), source("src/util.h"), tool()],
                &format!("{pkg}/t{i}.o"),
                "",
            );
            objects.push(out_of(&s));
            s
        }
    })
}

fn hex_digest(data: &[u8]) -> (String, i64) {
    (Digest::of(data), data.len() as i64)
}

/// The action key: a digest of everything that goes into the cache key.
fn action_digest(s: &Spawn) -> (String, i64) {
    let mut h = blake3::Hasher::new();
    for a in &s.args {
        h.update(a.as_bytes());
        h.update(&[0]);
    }
    for (k, v) in &s.env {
        h.update(format!("{k}={v}\0").as_bytes());
    }
    for (p, c, _) in &s.inputs {
        h.update(format!("{p}\0{}\0", Digest::of(c)).as_bytes());
    }
    (h.finalize().to_hex().to_string(), 142)
}

// Bazel's JSON log: proto3 JSON mapping of SpawnExec, field order as in
// spawn.proto, int64 as strings.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpawn<'a> {
    command_args: &'a [String],
    environment_variables: Vec<JsonNameValue<'a>>,
    inputs: Vec<JsonFile<'a>>,
    listed_outputs: Vec<&'a str>,
    remotable: bool,
    cacheable: bool,
    mnemonic: &'a str,
    actual_outputs: Vec<JsonFile<'a>>,
    runner: &'a str,
    remote_cacheable: bool,
    target_label: &'a str,
    digest: JsonDigest,
    metrics: JsonMetrics,
}

#[derive(Serialize)]
struct JsonNameValue<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonFile<'a> {
    path: &'a str,
    digest: JsonDigest,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    is_tool: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonDigest {
    hash: String,
    size_bytes: String,
    hash_function_name: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonMetrics {
    total_time: &'static str,
    input_files: String,
}

fn json_digest((hash, size): (String, i64)) -> JsonDigest {
    JsonDigest {
        hash,
        size_bytes: size.to_string(),
        hash_function_name: "BLAKE3",
    }
}

/// Write `--execution_log_json_file` output: pretty-printed objects, one
/// after another.
pub fn write_bazel_json(spawns: impl Iterator<Item = Spawn>, w: &mut dyn Write) -> io::Result<()> {
    for s in spawns {
        let mut inputs: Vec<&(String, Vec<u8>, bool)> = s.inputs.iter().collect();
        inputs.sort_by(|x, y| x.0.cmp(&y.0));
        let j = JsonSpawn {
            command_args: &s.args,
            environment_variables: s
                .env
                .iter()
                .map(|(name, value)| JsonNameValue { name, value })
                .collect(),
            inputs: inputs
                .iter()
                .map(|(path, data, is_tool)| JsonFile {
                    path,
                    digest: json_digest(hex_digest(data)),
                    is_tool: *is_tool,
                })
                .collect(),
            listed_outputs: s.outputs.iter().map(|o| o.0.as_str()).collect(),
            remotable: true,
            cacheable: true,
            mnemonic: &s.mnemonic,
            actual_outputs: s
                .outputs
                .iter()
                .map(|(path, data)| JsonFile {
                    path,
                    digest: json_digest(hex_digest(data)),
                    is_tool: false,
                })
                .collect(),
            runner: "linux-sandbox",
            remote_cacheable: true,
            target_label: &s.label,
            digest: json_digest(action_digest(&s)),
            metrics: JsonMetrics {
                total_time: "0.120s",
                input_files: s.inputs.len().to_string(),
            },
        };
        serde_json::to_writer_pretty(&mut *w, &j)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// Uncompressed bytes per zstd frame: small logs are one frame, large ones
/// several (both are valid zstd streams).
const FRAME: usize = 4 << 20;

struct CompactWriter<'w> {
    out: &'w mut dyn Write,
    buf: Vec<u8>,
    next_id: u32,
    files: HashMap<(String, String), u32>,
    tool_set: u32,
    header_set: u32,
}

impl CompactWriter<'_> {
    /// Write an entry. As Bazel 7.4+ does, only entries that others can
    /// refer to get an id, and ids are consecutive.
    fn entry(&mut self, t: Type) -> io::Result<u32> {
        let referable = !matches!(
            t,
            Type::Invocation(_) | Type::Spawn(_) | Type::SymlinkAction(_)
        );
        let id = if referable {
            self.next_id += 1;
            self.next_id
        } else {
            0
        };
        let e = ExecLogEntry {
            id,
            r#type: Some(t),
        };
        e.encode_length_delimited(&mut self.buf)
            .map_err(io::Error::other)?;
        if self.buf.len() >= FRAME {
            self.flush()?;
        }
        Ok(id)
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            ruzstd::encoding::compress(
                self.buf.as_slice(),
                &mut *self.out,
                ruzstd::encoding::CompressionLevel::Fastest,
            );
            self.buf.clear();
        }
        Ok(())
    }

    fn file(&mut self, path: &str, data: &[u8]) -> io::Result<u32> {
        let (hash, size) = hex_digest(data);
        let key = (path.to_owned(), hash.clone());
        if let Some(&id) = self.files.get(&key) {
            return Ok(id);
        }
        let id = self.entry(Type::File(entry::File {
            path: path.to_owned(),
            digest: Some(PbDigest {
                hash,
                size_bytes: size,
                hash_function_name: String::new(),
            }),
        }))?;
        self.files.insert(key, id);
        Ok(id)
    }
}

/// Write `--execution_log_compact_file` output: zstd-compressed,
/// varint-delimited `ExecLogEntry` messages, every entry after those it
/// refers to.
pub fn write_bazel_compact(
    spawns: impl Iterator<Item = Spawn>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut w = CompactWriter {
        out,
        buf: Vec::new(),
        next_id: 0,
        files: HashMap::new(),
        tool_set: 0,
        header_set: 0,
    };
    w.entry(Type::Invocation(entry::Invocation {
        hash_function_name: "BLAKE3".to_owned(),
        workspace_runfiles_directory: "_main".to_owned(),
        sibling_repository_layout: false,
        id: "00000000-0000-4000-8000-000000000000".to_owned(),
    }))?;
    let (p, d, _) = tool();
    let cc = w.file(&p, &d)?;
    w.tool_set = w.entry(Type::InputSet(entry::InputSet {
        input_ids: vec![cc],
        transitive_set_ids: vec![],
    }))?;
    let (p, d, _) = source("src/util.h");
    let header = w.file(&p, &d)?;
    w.header_set = w.entry(Type::InputSet(entry::InputSet {
        input_ids: vec![header],
        transitive_set_ids: vec![w.tool_set],
    }))?;
    for s in spawns {
        let mut direct = Vec::new();
        let (mut uses_tool, mut uses_header) = (false, false);
        for (path, data, is_tool) in &s.inputs {
            if *is_tool {
                uses_tool = true;
            } else if path == "src/util.h" {
                uses_header = true;
            } else {
                direct.push(w.file(path, data)?);
            }
        }
        let mut transitive = Vec::new();
        if uses_header {
            transitive.push(w.header_set);
        } else if uses_tool {
            transitive.push(w.tool_set);
        }
        let input_set_id = w.entry(Type::InputSet(entry::InputSet {
            input_ids: direct,
            transitive_set_ids: transitive,
        }))?;
        let mut outputs = Vec::new();
        for (path, data) in &s.outputs {
            let id = w.file(path, data)?;
            outputs.push(entry::Output {
                r#type: Some(output::Type::OutputId(id)),
            });
        }
        let (hash, size) = action_digest(&s);
        w.entry(Type::Spawn(entry::Spawn {
            args: s.args.clone(),
            env_vars: s
                .env
                .iter()
                .map(|(name, value)| EnvironmentVariable {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            platform: Some(Platform { properties: vec![] }),
            input_set_id,
            tool_set_id: if uses_tool { w.tool_set } else { 0 },
            outputs,
            target_label: s.label.clone(),
            mnemonic: s.mnemonic.clone(),
            runner: "linux-sandbox".to_owned(),
            remotable: true,
            cacheable: true,
            remote_cacheable: true,
            digest: Some(PbDigest {
                hash,
                size_bytes: size,
                hash_function_name: String::new(),
            }),
            timeout_millis: 0,
            ..entry::Spawn::default()
        }))?;
    }
    w.flush()
}

#[derive(Serialize)]
struct Buck2Record<'a> {
    reason: &'static str,
    identity: &'a str,
    reproducer: Buck2Reproducer<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(tag = "executor", content = "details")]
enum Buck2Reproducer<'a> {
    CacheQuery {
        digest: &'a str,
    },
    Re {
        digest: &'a str,
        platform_properties: std::collections::BTreeMap<&'a str, &'a str>,
    },
    Local {
        command: &'a [String],
        env: std::collections::BTreeMap<&'a str, &'a str>,
    },
}

/// Write `buck2 log what-ran --format json` output: a cache query, then the
/// execution (RE with its action digest, or local with argv and env).
pub fn write_buck2(spawns: impl Iterator<Item = Spawn>, w: &mut dyn Write) -> io::Result<()> {
    for s in spawns {
        let file = s.outputs[0]
            .0
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let label = s.label.replacen("//", "root//", 1);
        let identity = format!(
            "{label} (prelude//platforms:default) ({} {file})",
            s.mnemonic.to_lowercase()
        );
        let (hash, size) = action_digest(&s);
        let digest = format!("{hash}:{size}");
        let query = Buck2Record {
            reason: "build",
            identity: &identity,
            reproducer: Buck2Reproducer::CacheQuery { digest: &digest },
            duration: None,
        };
        let reproducer = if s.local {
            Buck2Reproducer::Local {
                command: &s.args,
                env: s
                    .env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect(),
            }
        } else {
            Buck2Reproducer::Re {
                digest: &digest,
                platform_properties: [("OSFamily", "linux")].into_iter().collect(),
            }
        };
        let run = Buck2Record {
            reason: "build",
            identity: &identity,
            reproducer,
            duration: Some("0.1s"),
        };
        for record in [query, run] {
            serde_json::to_writer(&mut *w, &record)?;
            w.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// Write each spawn's outputs under `dir`, as a build's output tree.
pub fn write_outputs(spawns: impl Iterator<Item = Spawn>, dir: &Path) -> io::Result<()> {
    for s in spawns {
        for (path, data) in &s.outputs {
            let p = dir.join(path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(p, data)?;
        }
    }
    Ok(())
}

/// The protobuf wire format written by hand, for compact logs of layouts
/// and contents the generator above does not make (other field numbers,
/// unknown fields, hostile shapes).
pub mod wire {
    pub fn varint(mut n: u64, out: &mut Vec<u8>) {
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// A varint field.
    pub fn uint(field: u32, n: u64, out: &mut Vec<u8>) {
        varint(u64::from(field) << 3, out);
        varint(n, out);
    }

    /// A length-delimited field.
    pub fn bytes(field: u32, b: &[u8], out: &mut Vec<u8>) {
        varint(u64::from(field) << 3 | 2, out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }

    /// An `ExecLogEntry` with payload `field` (0: no id).
    pub fn entry(id: u32, field: u32, body: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        if id != 0 {
            uint(1, u64::from(id), &mut e);
        }
        bytes(field, body, &mut e);
        e
    }

    /// An `ExecLogEntry.File` with a digest of size 5.
    pub fn file(path: &str, hash: &str) -> Vec<u8> {
        let mut d = Vec::new();
        bytes(1, hash.as_bytes(), &mut d);
        uint(2, 5, &mut d);
        let mut f = Vec::new();
        bytes(1, path.as_bytes(), &mut f);
        bytes(2, &d, &mut f);
        f
    }

    /// A compact log: the entries, length-delimited, zstd-compressed.
    pub fn log(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut plain = Vec::new();
        for e in entries {
            varint(e.len() as u64, &mut plain);
            plain.extend_from_slice(e);
        }
        ruzstd::encoding::compress_to_vec(
            plain.as_slice(),
            ruzstd::encoding::CompressionLevel::Fastest,
        )
    }
}
