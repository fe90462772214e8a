//! The facts of an audit that its report does not hold: when it ran, for
//! how long, under which target name, at which commit, on which host. A
//! recorded audit stores them; `twice audit --format json` writes them into
//! the report's `context`, so a report made on a CI runner can be imported
//! elsewhere with them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::time::format_time;

/// Where and when an audit ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunContext {
    /// When the audit started, UTC: `2026-01-05T10:00:00Z`.
    pub started_at: String,
    /// Wall-clock seconds of the whole audit.
    pub seconds: f64,
    /// The name the audit is recorded under.
    pub target: String,
    /// The audited directory relative to the repository root (`.` for the
    /// root); absent outside a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitFacts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// The state of the repository an audit built from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitFacts {
    /// The commit checked out (absent before the first commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The branch checked out (absent when detached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Tracked files differ from the commit.
    pub dirty: bool,
}

impl RunContext {
    /// The context of an audit of `source` that started at `started_at`
    /// and took `seconds`: the repository facts come from running `git`
    /// (absent when it is missing or `source` is not in a repository).
    pub fn gather(
        source: &Path,
        target: Option<&str>,
        started_at: i64,
        seconds: f64,
    ) -> RunContext {
        let source = source
            .canonicalize()
            .unwrap_or_else(|_| source.to_path_buf());
        let workdir = repository_root(&source).map(|root| match source.strip_prefix(&root) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => ".".to_owned(),
        });
        let git = workdir.as_ref().and_then(|_| git_facts(&source));
        let target = match target {
            Some(t) => t.to_owned(),
            None => workdir
                .clone()
                .unwrap_or_else(|| source.to_string_lossy().into_owned()),
        };
        RunContext {
            started_at: format_time(started_at),
            seconds,
            target,
            workdir,
            git,
            host: host_name(),
        }
    }
}

/// The nearest directory at or above `dir` that holds a `.git` (a directory
/// in a clone, a file in a worktree or submodule).
pub fn repository_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

/// Commit, branch and dirtiness from one `git status` (porcelain v2 with
/// branch headers; untracked files do not make a tree dirty).
fn git_facts(dir: &Path) -> Option<GitFacts> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "status",
            "--porcelain=v2",
            "--branch",
            "--untracked-files=no",
            "--ignore-submodules=dirty",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(parse_status(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_status(status: &str) -> GitFacts {
    let mut facts = GitFacts {
        commit: None,
        branch: None,
        dirty: false,
    };
    for line in status.lines() {
        if let Some(oid) = line.strip_prefix("# branch.oid ") {
            facts.commit = (oid != "(initial)").then(|| oid.to_owned());
        } else if let Some(head) = line.strip_prefix("# branch.head ") {
            facts.branch = (head != "(detached)").then(|| head.to_owned());
        } else if !line.starts_with('#') && !line.is_empty() {
            facts.dirty = true;
        }
    }
    facts
}

fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_v2_status_gives_commit_branch_and_dirtiness() {
        let clean = "# branch.oid 0123abcd\n# branch.head main\n# branch.upstream origin/main\n";
        assert_eq!(
            parse_status(clean),
            GitFacts {
                commit: Some("0123abcd".into()),
                branch: Some("main".into()),
                dirty: false
            }
        );
        let dirty = "# branch.oid (initial)\n# branch.head (detached)\n1 .M N... 100644 100644 100644 a b src/x.c\n";
        assert_eq!(
            parse_status(dirty),
            GitFacts {
                commit: None,
                branch: None,
                dirty: true
            }
        );
    }
}
