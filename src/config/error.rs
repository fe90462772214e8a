//! What is wrong with a `twice.toml`, and where.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A syntax error, an unknown key, a bad value.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: no target `{name}` (targets: {known}){hint}", path.display())]
    MissingTarget {
        path: PathBuf,
        name: String,
        known: String,
        hint: String,
    },
}

impl ConfigError {
    /// An error at byte `offset` of `text`.
    pub(super) fn at(path: &Path, text: &str, offset: usize, message: String) -> ConfigError {
        let (line, column) = line_col(text, offset);
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// The toml crate's message, its first line only, with a "did you mean"
/// for an unknown field.
pub(super) fn with_suggestion(message: &str) -> String {
    let message = message.lines().next().unwrap_or(message).trim().to_owned();
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message;
    };
    let Some((field, expected)) = rest.split_once('`') else {
        return message;
    };
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    match closest(field, &known) {
        Some(s) => format!("{message} (did you mean `{s}`?)"),
        None => message,
    }
}

/// The candidate nearest to `word` by edit distance, if it is near.
pub(super) fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min()
        .map(|(_, c)| c)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_and_positions() {
        assert_eq!(closest("runz", &["runs", "vary"]), Some("runs"));
        assert_eq!(closest("xyz", &["runs", "vary"]), None);
        assert_eq!(line_col("a\nbc\nd", 4), (2, 3));
        assert_eq!(
            with_suggestion("unknown field `runz`, expected `command` or `runs`"),
            "unknown field `runz`, expected `command` or `runs` (did you mean `runs`?)"
        );
    }
}
