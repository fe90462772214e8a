//! One Bazel spawn as a reader sees it, borrowed from the log (JSON,
//! binary and compact readers all produce a [`SpawnView`]), and the rules
//! that make the formats agree: how an empty file's digest, an unresolved
//! symlink, a tree artifact and an action's name are read whatever the
//! layout.

use std::borrow::Cow;

use super::sha256::sha256;

pub(crate) type Str<'a> = Cow<'a, str>;

/// A digest as logged: hex hash, size, and the hash function when the
/// message names it.
#[derive(Clone, Debug, Default)]
pub(crate) struct DigestView<'a> {
    pub(crate) hash: Str<'a>,
    pub(crate) size: i64,
    pub(crate) function: Str<'a>,
}

/// An input or output file of a `SpawnExec` (JSON, binary).
#[derive(Clone, Debug, Default)]
pub(crate) struct FileView<'a> {
    pub(crate) path: Str<'a>,
    pub(crate) digest: Option<DigestView<'a>>,
    pub(crate) tool: bool,
    /// Set for unresolved symlinks (Bazel 5 and later).
    pub(crate) symlink: Str<'a>,
}

/// A compact log's spawn output: an entry id, or a declared path that was
/// not produced.
#[derive(Clone, Debug)]
pub(crate) enum OutputRef<'a> {
    Id(u32),
    Invalid(Str<'a>),
}

/// The inputs of a spawn: listed (JSON, binary) or input sets (compact).
#[derive(Clone, Debug)]
pub(crate) enum InputsView<'a> {
    Flat(Vec<FileView<'a>>),
    Sets { input_set: u32, tool_set: u32 },
}

impl Default for InputsView<'_> {
    fn default() -> Self {
        InputsView::Flat(Vec::new())
    }
}

/// The outputs of a spawn: listed and actual (JSON, binary), or entries
/// (compact).
#[derive(Clone, Debug)]
pub(crate) enum OutputsView<'a> {
    Listed {
        listed: Vec<Str<'a>>,
        actual: Vec<FileView<'a>>,
    },
    Entries(Vec<OutputRef<'a>>),
}

impl Default for OutputsView<'_> {
    fn default() -> Self {
        OutputsView::Listed {
            listed: Vec::new(),
            actual: Vec::new(),
        }
    }
}

/// Everything a Bazel log says about one spawn.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpawnView<'a> {
    pub(crate) label: Str<'a>,
    /// Bazel before 5 logs no label; its progress message names the target.
    pub(crate) progress: Str<'a>,
    pub(crate) mnemonic: Str<'a>,
    pub(crate) args: Vec<Str<'a>>,
    pub(crate) env: Vec<(Str<'a>, Str<'a>)>,
    pub(crate) platform: Vec<(Str<'a>, Str<'a>)>,
    pub(crate) inputs: InputsView<'a>,
    pub(crate) outputs: OutputsView<'a>,
    pub(crate) runner: Str<'a>,
    pub(crate) cache_hit: bool,
    pub(crate) status: Str<'a>,
    pub(crate) exit_code: i32,
    pub(crate) cacheable: bool,
    pub(crate) remotable: bool,
    pub(crate) remote_cacheable: bool,
    pub(crate) timeout_millis: i64,
    /// The action-cache key (remote or disk cache only).
    pub(crate) digest: Option<DigestView<'a>>,
}

impl SpawnView<'_> {
    /// The target label: logged, or read from the progress message.
    pub(crate) fn label(&self) -> Option<&str> {
        if !self.label.is_empty() {
            return Some(&self.label);
        }
        label_in_message(&self.progress)
    }

    /// Whether the spawn was answered by a cache rather than executed.
    pub(crate) fn hit(&self) -> bool {
        self.cache_hit || runner_is_hit(&self.runner)
    }
}

/// Bazel 4 logs `remoteCacheHit` only for remote caches and says `remote
/// cache hit` for disk-cache hits too (bazel#8192); later versions log
/// `cacheHit` and say `disk cache hit`.
pub(crate) fn runner_is_hit(runner: &str) -> bool {
    runner.ends_with("cache hit")
}

/// The label in a progress message: `Executing genrule //:stamp_h`,
/// `Executing genrule //:flavor_tool [for host]`, `Testing
/// //pkg:t (shard 1 of 2)`, `Compiling @repo//x:y.cc`. C++ messages
/// (`Compiling hello.cc`, `Linking libgreet.a`) name no target.
pub(crate) fn label_in_message(msg: &str) -> Option<&str> {
    msg.split_whitespace().find_map(|word| {
        let at = word.find("//")?;
        // `@repo//` and `@@repo//` belong to the label; anything else before
        // `//` means the word is not a label (a URL, a path).
        let head = &word[..at];
        if !(head.is_empty() || head.starts_with('@') && !head.contains('/')) {
            return None;
        }
        let label = word.trim_end_matches([']', ')', ',', ';', ':']);
        (label.len() > at + 2 || label.ends_with("//")).then_some(label)
    })
}

/// How well an output names its action: 0 for real outputs, 1 for the ones
/// a person does not look for (C++ `.d` dependency files, a test's side
/// outputs), so that a compile is named by its object file and a test by
/// what it produced.
pub(crate) fn output_rank(path: &str) -> u8 {
    const TEST_SIDE: [&str; 9] = [
        "test.xml",
        "test.exited_prematurely",
        "test.infrastructure_failure",
        "test.warnings",
        "test.unused_runfiles_log",
        "test.cache_status",
        "test.shard",
        "test.outputs/",
        "test.outputs_manifest/",
    ];
    if path.ends_with(".d") {
        return 1;
    }
    if let Some(at) = path.find("/testlogs/")
        && let Some(slash) = path[at + 10..].find('/')
    {
        let name = &path[at + 10 + slash + 1..];
        if TEST_SIDE.iter().any(|s| name.starts_with(s)) || name.starts_with("test.raw_splitlogs") {
            return 1;
        }
    }
    0
}

/// Empty content under the hash functions Bazel and Buck2 offer (first 8
/// bytes): SHA-256, SHA-1, MD5, BLAKE3, SHA-384, SHA-512.
const EMPTY_PREFIXES: [&str; 6] = [
    "e3b0c44298fc1c14",
    "da39a3ee5e6b4b0d",
    "d41d8cd98f00b204",
    "af1349b9f5f9a1a6",
    "38b060a751ac9638",
    "cf83e1357eefb8bd",
];

/// The fingerprint every empty file gets, whichever way its log says so
/// (`spawn.proto`: the digest "may be omitted for empty files").
pub(crate) const EMPTY_FP: u64 = 0xe3b0_c442_98fc_1c14;

/// Whether a digest is that of empty content.
pub(crate) fn is_empty_digest(hash: &str, size: i64) -> bool {
    size == 0
        && (hash.is_empty()
            || EMPTY_PREFIXES
                .iter()
                .any(|p| hash.len() >= 16 && hash[..16].eq_ignore_ascii_case(p)))
}

/// The first 8 bytes of a hex hash; other strings are hashed.
pub(crate) fn hex_fp(hash: &str) -> u64 {
    let b = hash.as_bytes();
    if b.len() >= 16 {
        let mut v = 0u64;
        let mut ok = true;
        for &c in &b[..16] {
            match (c as char).to_digit(16) {
                Some(d) => v = v << 4 | u64::from(d),
                None => ok = false,
            }
        }
        if ok {
            return v;
        }
    }
    let h = blake3::hash(b);
    let mut x = [0u8; 8];
    x.copy_from_slice(&h.as_bytes()[..8]);
    u64::from_be_bytes(x)
}

/// The fingerprint of a file's content as logged; empty files agree.
pub(crate) fn file_fp(d: Option<&DigestView<'_>>) -> u64 {
    match d {
        None => EMPTY_FP,
        Some(d) if is_empty_digest(&d.hash, d.size) => EMPTY_FP,
        Some(d) => hex_fp(&d.hash),
    }
}

/// The digest Bazel gives an unresolved symlink: the hash of its target
/// path with the first byte inverted, under the log's hash function
/// (SHA-256 when it is not BLAKE3). Its first 8 bytes.
pub(crate) fn symlink_fp(target: &str, function: &str) -> u64 {
    let mut h = if function.eq_ignore_ascii_case("BLAKE3") {
        *blake3::hash(target.as_bytes()).as_bytes()
    } else {
        sha256(target.as_bytes())
    };
    h[0] ^= 0xff;
    let mut x = [0u8; 8];
    x.copy_from_slice(&h[..8]);
    u64::from_be_bytes(x)
}

/// A runfiles path as current Bazel names runfiles inputs,
/// `<exe>.runfiles/<repo>/<path>`: the tree, the repository directory and
/// the path below it.
pub(crate) fn split_runfiles(path: &str) -> Option<(&str, &str, &str)> {
    let at = path.find(".runfiles/")?;
    let tree = &path[..at + 9];
    let rest = &path[at + 10..];
    let (repo, rel) = rest.split_once('/')?;
    Some((tree, repo, rel))
}

/// The exec paths a runfiles path may stand for, most likely first: an
/// output of the tree's configuration, of another repository, or a source
/// file of the main or another repository.
pub(crate) fn runfiles_candidates(path: &str) -> Vec<String> {
    let Some((tree, repo, rel)) = split_runfiles(path) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(6);
    if let Some(bin) = tree.find("/bin/").map(|at| &tree[..at + 5]) {
        out.push(format!("{bin}{rel}"));
        out.push(format!("{bin}external/{repo}/{rel}"));
    }
    // `_main/external/<repo>/<path>`: legacy external runfiles.
    if let Some(ext) = rel.strip_prefix("external/") {
        out.push(format!("external/{ext}"));
    }
    out.push(rel.to_owned());
    out.push(format!("external/{repo}/{rel}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_progress_messages() {
        for (msg, want) in [
            ("Executing genrule //:stamp_h", Some("//:stamp_h")),
            (
                "Executing genrule //:flavor_tool [for host]",
                Some("//:flavor_tool"),
            ),
            ("Testing //pkg:t (shard 1 of 2)", Some("//pkg:t")),
            ("Compiling @repo//x:y.cc", Some("@repo//x:y.cc")),
            ("Linking nowhere //:dangling", Some("//:dangling")),
            ("Compiling hello.cc", None),
            ("Fetching https://example.com/x", None),
            ("", None),
        ] {
            assert_eq!(label_in_message(msg), want, "{msg}");
        }
    }

    #[test]
    fn side_outputs_rank_last() {
        assert_eq!(output_rank("bazel-out/k8/bin/_objs/h/h.pic.d"), 1);
        assert_eq!(output_rank("bazel-out/k8/bin/_objs/h/h.pic.o"), 0);
        assert_eq!(
            output_rank("bazel-out/k8/testlogs/t/test.exited_prematurely"),
            1
        );
        assert_eq!(output_rank("bazel-out/k8/testlogs/t/test.log"), 0);
        assert_eq!(
            output_rank("bazel-out/k8/testlogs/t/test.outputs/outputs.zip"),
            1
        );
    }

    #[test]
    fn empty_digests_agree_whatever_the_hash_function() {
        let sha = DigestView {
            hash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
            size: 0,
            function: "SHA-256".into(),
        };
        let blake = DigestView {
            hash: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262".into(),
            size: 0,
            function: "".into(),
        };
        assert_eq!(file_fp(Some(&sha)), EMPTY_FP);
        assert_eq!(file_fp(Some(&blake)), EMPTY_FP);
        assert_eq!(file_fp(None), EMPTY_FP);
        // A symlink's digest has size 0 but is not empty content.
        let link = DigestView {
            hash: "5fb2e9d9de28c6096d7c6ef5e3c4e7221d8bafca02859ca7adb4f9f4e77407cf".into(),
            size: 0,
            function: "SHA-256".into(),
        };
        assert_ne!(file_fp(Some(&link)), EMPTY_FP);
    }

    #[test]
    fn symlink_digests_match_what_bazel_4_logged() {
        // fixtures/bazel: //:dangling_target's input in logs/a.exec.json.
        assert_eq!(
            symlink_fp("/nonexistent/twice-fixture/1796223717424714404", "SHA-256"),
            hex_fp("5fb2e9d9de28c6096d7c6ef5e3c4e7221d8bafca02859ca7adb4f9f4e77407cf")
        );
    }

    #[test]
    fn runfiles_paths_map_to_exec_paths() {
        let c = runfiles_candidates(
            "bazel-out/k8-fastbuild/bin/data_test.runfiles/twice_fixture/test_data.txt",
        );
        assert_eq!(c[0], "bazel-out/k8-fastbuild/bin/test_data.txt");
        assert!(c.contains(&"test_data.txt".to_owned()));
        assert!(runfiles_candidates("src/a.c").is_empty());
    }
}
