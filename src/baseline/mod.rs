//! The baseline file: accepted findings, one per line, sorted, so that a
//! diff of it reads well in review. Tab-separated: fingerprint, target,
//! artifact, cause, one line of evidence (its place and cause, never values
//! that change between runs). `#` starts a comment.
//!
//! For example (tabs shown as `→`):
//! `8e3447a2…→demo→out/libdemo.a→ordering→member order: ordering (4 records moved)`.

use std::path::{Path, PathBuf};

use crate::report::{BaselineEntry, Report, baseline_entry, is_root};

/// The baseline file looked for beside `twice.toml`.
pub const FILE_NAME: &str = "twice-baseline.txt";

const HEADER: &str = "# twice baseline: accepted findings, one per line (fingerprint, target, artifact, cause, evidence).\n\
# Regenerate with `twice baseline update`; remove lines as differences get fixed.\n";

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read the baseline {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the baseline {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: not a baseline entry (fingerprint, target, artifact, cause, evidence separated by tabs)", path.display())]
    Malformed { path: PathBuf, line: usize },
}

/// The entries a report would add to a baseline: its root findings.
pub fn entries(report: &Report, target: &str) -> Vec<BaselineEntry> {
    report
        .findings
        .iter()
        .filter(|f| is_root(f))
        .map(|f| baseline_entry(f, target))
        .collect()
}

/// The file's text for `entries`, sorted and without duplicates.
pub fn render(entries: &[BaselineEntry]) -> String {
    let mut sorted: Vec<&BaselineEntry> = entries.iter().collect();
    sorted.sort_by(|x, y| {
        (
            &x.target,
            &x.artifact,
            &x.cause,
            &x.evidence,
            &x.fingerprint,
        )
            .cmp(&(
                &y.target,
                &y.artifact,
                &y.cause,
                &y.evidence,
                &y.fingerprint,
            ))
    });
    sorted.dedup_by(|x, y| x.target == y.target && x.fingerprint == y.fingerprint);
    let mut out = String::from(HEADER);
    for e in sorted {
        let field = |s: &str| s.replace(['\t', '\n', '\r'], " ");
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            field(&e.fingerprint),
            field(&e.target),
            field(&e.artifact),
            field(&e.cause),
            field(&e.evidence)
        ));
    }
    out
}

/// Parse a baseline file's text.
pub fn parse(path: &Path, text: &str) -> Result<Vec<BaselineEntry>, BaselineError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(5, '\t');
        let mut next = || parts.next().map(str::to_owned);
        let (Some(fingerprint), Some(target), Some(artifact), Some(cause)) =
            (next(), next(), next(), next())
        else {
            return Err(BaselineError::Malformed {
                path: path.to_path_buf(),
                line: i + 1,
            });
        };
        let evidence = next().unwrap_or_default();
        if fingerprint.len() != 32 || !fingerprint.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(BaselineError::Malformed {
                path: path.to_path_buf(),
                line: i + 1,
            });
        }
        out.push(BaselineEntry {
            fingerprint,
            target,
            artifact,
            cause,
            evidence,
        });
    }
    Ok(out)
}

/// Read a baseline file; a missing file is an empty baseline.
pub fn load(path: &Path) -> Result<Vec<BaselineEntry>, BaselineError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(BaselineError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Write `entries` to `path`, replacing the entries of `targets` and
/// keeping the other targets' lines.
pub fn update(
    path: &Path,
    targets: &[String],
    entries: &[BaselineEntry],
) -> Result<usize, BaselineError> {
    let mut all: Vec<BaselineEntry> = load(path)?
        .into_iter()
        .filter(|e| !targets.contains(&e.target))
        .collect();
    all.extend(entries.iter().cloned());
    let text = render(&all);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| BaselineError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(all.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(fp: char, target: &str, artifact: &str) -> BaselineEntry {
        BaselineEntry {
            fingerprint: fp.to_string().repeat(32),
            target: target.into(),
            artifact: artifact.into(),
            cause: "timestamp".into(),
            evidence: "line 2: timestamp (ISO 8601)".into(),
        }
    }

    #[test]
    fn render_sorts_and_parse_reads_back() {
        let e = [
            entry('b', "t", "z"),
            entry('a', "t", "a"),
            entry('a', "t", "a"),
        ];
        let text = render(&e);
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 2);
        let back = parse(Path::new("b.txt"), &text).unwrap();
        assert_eq!(back[0].artifact, "a");
        assert_eq!(back[1].fingerprint, "b".repeat(32));
        assert!(matches!(
            parse(Path::new("b.txt"), "zz\tt\ta\n"),
            Err(BaselineError::Malformed { line: 1, .. })
        ));
    }

    #[test]
    fn update_keeps_other_targets() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("baseline.txt");
        update(&p, &["one".into()], &[entry('a', "one", "x")]).unwrap();
        update(&p, &["two".into()], &[entry('b', "two", "y")]).unwrap();
        update(&p, &["one".into()], &[entry('c', "one", "z")]).unwrap();
        let all = load(&p).unwrap();
        let fps: Vec<char> = all
            .iter()
            .map(|e| e.fingerprint.chars().next().unwrap())
            .collect();
        assert_eq!(fps, ['c', 'b']);
    }
}
