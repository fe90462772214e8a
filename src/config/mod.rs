//! `twice.toml`: named targets, defaults for all of them, ignore rules, and
//! where the baseline and the history live. Found by walking up from the
//! current directory (`--config FILE` overrides). Every error names the
//! file, line and column; an unknown key gets a "did you mean".
//!
//! ```toml
//! baseline = "twice-baseline.txt"
//!
//! [defaults]
//! vary = "default"
//! timeout = 600
//!
//! [targets.demo]
//! dir = "fixtures/demo"
//! command = ["make"]
//! outputs = ["out/**"]
//!
//! [[ignore]]
//! artifact = "out/dist/*.whl"
//! cause = "permissions"
//! reason = "wheel modes are normalised when we publish"
//! expires = 2027-06-30
//! ```
//!
//! Precedence when settings are resolved: command line, then `TWICE_*`
//! environment variables, then the target's table, then `[defaults]`, then
//! the built-in defaults.

mod error;

pub use error::ConfigError;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::tree::Glob;

/// The file name looked for.
pub const FILE_NAME: &str = "twice.toml";

/// A loaded `twice.toml`.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// Its directory: relative paths in it are relative to this.
    pub root: PathBuf,
    pub defaults: TargetSpec,
    pub targets: BTreeMap<String, TargetSpec>,
    pub ignore: Vec<IgnoreRule>,
    pub baseline: Option<PathBuf>,
    pub history: Option<PathBuf>,
    pub record: bool,
}

/// What one target (or `[defaults]`) says; unset fields fall through.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// A shell command line (`"make -j4"`, run with `sh -c`) or an argument
    /// vector (`["make", "-j4"]`).
    pub command: Option<CommandSpec>,
    /// The source tree, relative to the file's directory.
    pub dir: Option<PathBuf>,
    pub outputs: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    pub vary: Option<String>,
    pub runs: Option<usize>,
    /// Seconds.
    pub timeout: Option<f64>,
    pub bisect: Option<bool>,
    pub trace: Option<bool>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Bounds on the comparison (bytes and counts).
    #[serde(default)]
    pub limits: LimitSpec,
}

/// `[targets.NAME.limits]` / `[defaults.limits]`: what `--max-findings`,
/// `--max-unpacked`, `--max-member`, `--max-resident`, `--max-depth`,
/// `--max-members` and `--max-file` set on the command line (sizes in
/// bytes).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSpec {
    pub max_findings: Option<usize>,
    pub max_unpacked: Option<u64>,
    pub max_member: Option<u64>,
    pub max_resident: Option<u64>,
    pub max_depth: Option<usize>,
    pub max_members: Option<u64>,
    pub max_file: Option<u64>,
}

impl LimitSpec {
    fn over(&self, d: &LimitSpec) -> LimitSpec {
        LimitSpec {
            max_findings: self.max_findings.or(d.max_findings),
            max_unpacked: self.max_unpacked.or(d.max_unpacked),
            max_member: self.max_member.or(d.max_member),
            max_resident: self.max_resident.or(d.max_resident),
            max_depth: self.max_depth.or(d.max_depth),
            max_members: self.max_members.or(d.max_members),
            max_file: self.max_file.or(d.max_file),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CommandSpec {
    Shell(String),
    Argv(Vec<String>),
}

impl CommandSpec {
    /// The argument vector to run.
    pub fn argv(&self) -> Vec<std::ffi::OsString> {
        match self {
            CommandSpec::Shell(line) => vec!["/bin/sh".into(), "-c".into(), line.into()],
            CommandSpec::Argv(v) => v.iter().map(Into::into).collect(),
        }
    }
}

/// Findings to leave out of a report, with why, and until when.
#[derive(Clone, Debug)]
pub struct IgnoreRule {
    pub artifact: String,
    pub glob: Glob,
    /// A cause name (`timestamp`, `build_path`, …), or `*` for any.
    pub cause: String,
    pub reason: String,
    /// `YYYY-MM-DD`: after this day the rule stops applying.
    pub expires: Option<String>,
    /// Where the rule is, for messages.
    pub line: usize,
}

impl IgnoreRule {
    /// Does it still apply on `today` (`YYYY-MM-DD`)?
    pub fn active(&self, today: &str) -> bool {
        self.expires.as_deref().is_none_or(|e| today <= e)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    baseline: Option<PathBuf>,
    history: Option<PathBuf>,
    #[serde(default)]
    record: bool,
    #[serde(default)]
    defaults: TargetSpec,
    #[serde(default)]
    targets: BTreeMap<String, TargetSpec>,
    #[serde(default)]
    ignore: Vec<Spanned<RawIgnore>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIgnore {
    artifact: Option<Spanned<String>>,
    cause: Option<Spanned<String>>,
    reason: Option<String>,
    expires: Option<Spanned<toml::value::Datetime>>,
}

/// Find `twice.toml` in `start` or a directory above it, as a path relative
/// to `start` (`twice.toml`, `../twice.toml`, …): reports then name it and
/// the files beside it the same way wherever the checkout lives.
pub fn find(start: &Path) -> Option<PathBuf> {
    let mut up = PathBuf::new();
    for dir in start.ancestors() {
        if dir.join(FILE_NAME).is_file() {
            return Some(up.join(FILE_NAME));
        }
        up.push("..");
    }
    None
}

/// Read and check a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parse `text` as the configuration file `path`.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let at = |span: Option<std::ops::Range<usize>>, message: String| {
        ConfigError::at(path, text, span.map_or(0, |s| s.start), message)
    };
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let message = error::with_suggestion(e.message());
        at(e.span(), message)
    })?;
    let mut ignore = Vec::new();
    for rule in raw.ignore {
        let span = rule.span();
        let r = rule.into_inner();
        let line = error::line_col(text, span.start).0;
        let Some(artifact) = r.artifact else {
            return Err(at(
                Some(span),
                "an ignore rule needs `artifact` (a path pattern)".into(),
            ));
        };
        let glob = Glob::new(artifact.get_ref())
            .map_err(|e| at(Some(artifact.span()), format!("ignore rule: artifact {e}")))?;
        let cause = match r.cause {
            Some(c) => {
                let name = c.get_ref();
                if name != "*" && !crate::finding::Cause::NAMES.contains(&name.as_str()) {
                    let hint = error::closest(name, crate::finding::Cause::NAMES)
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    return Err(at(
                        Some(c.span()),
                        format!("ignore rule: unknown cause `{name}`{hint}"),
                    ));
                }
                name.clone()
            }
            None => "*".to_owned(),
        };
        let Some(reason) = r.reason.filter(|r| !r.trim().is_empty()) else {
            return Err(at(
                Some(span),
                "an ignore rule needs a `reason`: say why the difference is accepted".into(),
            ));
        };
        let expires = match r.expires {
            Some(d) => {
                let date = d.get_ref().date.ok_or_else(|| {
                    at(
                        Some(d.span()),
                        "`expires` must be a date (2027-06-30)".into(),
                    )
                })?;
                Some(format!(
                    "{:04}-{:02}-{:02}",
                    date.year, date.month, date.day
                ))
            }
            None => None,
        };
        ignore.push(IgnoreRule {
            artifact: artifact.into_inner(),
            glob,
            cause,
            reason,
            expires,
            line,
        });
    }
    for (name, t) in std::iter::once(("[defaults]", &raw.defaults))
        .chain(raw.targets.iter().map(|(n, t)| (n.as_str(), t)))
    {
        for pattern in t.outputs.iter().chain(&t.exclude).flatten() {
            Glob::new(pattern).map_err(|e| {
                let offset = text.find(pattern.as_str()).unwrap_or(0);
                ConfigError::at(path, text, offset, format!("target {name}: pattern {e}"))
            })?;
        }
    }
    let root = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok(Config {
        path: path.to_path_buf(),
        root,
        defaults: raw.defaults,
        targets: raw.targets,
        ignore,
        baseline: raw.baseline,
        history: raw.history,
        record: raw.record,
    })
}

impl Config {
    /// A target by name, or an error naming the known ones.
    pub fn target(&self, name: &str) -> Result<&TargetSpec, ConfigError> {
        self.targets.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.targets.keys().map(String::as_str).collect();
            let hint = error::closest(name, &names)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            ConfigError::MissingTarget {
                path: self.path.clone(),
                name: name.to_owned(),
                known: names.join(", "),
                hint,
            }
        })
    }

    /// The target's settings over the defaults.
    pub fn merged(&self, target: &TargetSpec) -> TargetSpec {
        let d = &self.defaults;
        let mut env = d.env.clone();
        env.extend(target.env.clone());
        TargetSpec {
            command: target.command.clone().or_else(|| d.command.clone()),
            dir: target.dir.clone().or_else(|| d.dir.clone()),
            outputs: target.outputs.clone().or_else(|| d.outputs.clone()),
            exclude: target.exclude.clone().or_else(|| d.exclude.clone()),
            vary: target.vary.clone().or_else(|| d.vary.clone()),
            runs: target.runs.or(d.runs),
            timeout: target.timeout.or(d.timeout),
            bisect: target.bisect.or(d.bisect),
            trace: target.trace.or(d.trace),
            env,
            limits: target.limits.over(&d.limits),
        }
    }

    /// A path from the file, taken relative to its directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() || self.root == Path::new(".") {
            p.to_path_buf()
        } else {
            self.root.join(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_found_relative_to_where_the_search_starts() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(find(&deep), None);
        std::fs::write(dir.path().join(FILE_NAME), "").unwrap();
        assert_eq!(find(&deep), Some(PathBuf::from("../../twice.toml")));
        assert_eq!(find(dir.path()), Some(PathBuf::from("twice.toml")));
        let config = parse(Path::new("../../twice.toml"), "").unwrap();
        assert_eq!(config.resolve(Path::new("x")), Path::new("../../x"));
        let config = parse(Path::new("twice.toml"), "").unwrap();
        assert_eq!(config.resolve(Path::new("x")), Path::new("x"));
    }

    fn parse_str(text: &str) -> Result<Config, String> {
        parse(Path::new("dir/twice.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn targets_defaults_and_ignore_rules() {
        let c = parse_str(
            "baseline = \"b.txt\"\n[defaults]\nvary = \"time\"\nruns = 3\n\
             [targets.demo]\ndir = \"fixtures/demo\"\ncommand = [\"make\"]\n\
             [targets.sh]\ncommand = \"make -j2 all\"\nruns = 2\nenv = { A = \"1\" }\n\
             [[ignore]]\nartifact = \"out/*.whl\"\ncause = \"permissions\"\nreason = \"normalised later\"\n\
             expires = 2027-06-30\n",
        )
        .unwrap();
        let demo = c.merged(c.target("demo").unwrap());
        assert_eq!(demo.vary.as_deref(), Some("time"));
        assert_eq!(demo.runs, Some(3));
        assert_eq!(demo.command.unwrap().argv(), ["make"]);
        let sh = c.merged(c.target("sh").unwrap());
        assert_eq!(sh.runs, Some(2));
        assert_eq!(
            sh.command.unwrap().argv(),
            ["/bin/sh", "-c", "make -j2 all"]
        );
        assert_eq!(c.ignore[0].expires.as_deref(), Some("2027-06-30"));
        assert!(c.ignore[0].active("2027-06-30"));
        assert!(!c.ignore[0].active("2027-07-01"));
        assert_eq!(c.resolve(Path::new("b.txt")), Path::new("dir/b.txt"));
    }

    #[test]
    fn errors_name_the_file_line_and_column() {
        let e = parse_str("[targets.a]\ncommand = \"make\"\nrunz = 3\n").unwrap_err();
        assert!(e.starts_with("dir/twice.toml:3:1: "), "{e}");
        assert!(e.contains("did you mean `runs`"), "{e}");
        let e = parse_str("[[ignore]]\nartifact = \"x\"\ncause = \"timestamp\"\n").unwrap_err();
        assert!(e.starts_with("dir/twice.toml:1:"), "{e}");
        assert!(e.contains("needs a `reason`"), "{e}");
        let e = parse_str("[[ignore]]\nartifact = \"x\"\ncause = \"timestmp\"\nreason = \"r\"\n")
            .unwrap_err();
        assert!(e.starts_with("dir/twice.toml:3:9: "), "{e}");
        assert!(e.contains("did you mean `timestamp`"), "{e}");
        let e = parse_str("[targets.a\n").unwrap_err();
        assert!(e.starts_with("dir/twice.toml:1:"), "{e}");
        let c = parse_str("[targets.demo]\ncommand = \"make\"\n").unwrap();
        let e = c.target("dmeo").unwrap_err().to_string();
        assert!(
            e.contains("no target `dmeo`") && e.contains("did you mean `demo`"),
            "{e}"
        );
    }
}
