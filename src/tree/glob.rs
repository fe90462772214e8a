//! Path patterns (`--output`, `--exclude`, ignore rules): `*` and `?`
//! within one path segment, `[abc]`,
//! `[a-z]` and `[!x]` classes, `**` for any number of segments. A pattern
//! without `/` matches the file name at any depth.

#[derive(Clone, Debug)]
pub struct Glob {
    segments: Vec<Vec<u8>>,
    anywhere: bool,
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let p = pattern.trim_start_matches("./");
        if p.is_empty() {
            return Err("empty pattern".to_owned());
        }
        if p.starts_with('/') {
            return Err(format!(
                "{pattern:?}: patterns are relative to the source tree"
            ));
        }
        if p.bytes().filter(|&c| c == b'[').count() != p.bytes().filter(|&c| c == b']').count() {
            return Err(format!("{pattern:?}: unbalanced [ ]"));
        }
        Ok(Glob {
            anywhere: !p.contains('/'),
            segments: p.split('/').map(|s| s.as_bytes().to_vec()).collect(),
        })
    }

    pub fn matches(&self, path: &[u8]) -> bool {
        let parts: Vec<&[u8]> = path.split(|&c| c == b'/').collect();
        if self.anywhere {
            return parts
                .last()
                .is_some_and(|name| segment(&self.segments[0], name));
        }
        let pat: Vec<&[u8]> = self.segments.iter().map(Vec::as_slice).collect();
        segments(&pat, &parts)
    }
}

fn segments(pat: &[&[u8]], parts: &[&[u8]]) -> bool {
    match pat.split_first() {
        None => parts.is_empty(),
        Some((&b"**", rest)) => (0..=parts.len()).any(|skip| segments(rest, &parts[skip..])),
        Some((p, rest)) => match parts.split_first() {
            Some((name, more)) => segment(p, name) && segments(rest, more),
            None => false,
        },
    }
}

/// One segment against one name; `*` never matches `/` (names have none).
fn segment(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|skip| segment(rest, &s[skip..])),
        Some((b'?', rest)) => !s.is_empty() && segment(rest, &s[1..]),
        Some((b'[', rest)) => {
            let Some(close) = rest.iter().skip(1).position(|&c| c == b']').map(|i| i + 1) else {
                return s.first() == Some(&b'[') && segment(rest, &s[1..]);
            };
            let Some((&c, tail)) = s.split_first() else {
                return false;
            };
            let (negate, class) = match rest[..close].split_first() {
                Some((b'!' | b'^', class)) => (true, class),
                _ => (false, &rest[..close]),
            };
            in_class(class, c) != negate && segment(&rest[close + 1..], tail)
        }
        Some((&c, rest)) => s.first() == Some(&c) && segment(rest, &s[1..]),
    }
}

fn in_class(class: &[u8], c: u8) -> bool {
    let mut i = 0;
    while i < class.len() {
        if i + 2 < class.len() && class[i + 1] == b'-' {
            if (class[i]..=class[i + 2]).contains(&c) {
                return true;
            }
            i += 3;
        } else {
            if class[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p).unwrap().matches(s.as_bytes())
    }

    #[test]
    fn globs() {
        assert!(m("dist/*.whl", "dist/pkg-1.0-py3-none-any.whl"));
        assert!(!m("dist/*.whl", "dist/sub/pkg.whl"));
        assert!(m("dist/**/*.whl", "dist/sub/pkg.whl"));
        assert!(m("dist/**/*.whl", "dist/pkg.whl"));
        assert!(m("*.o", "src/deep/hello.o"));
        assert!(m("lib?.a", "libx.a") && !m("lib?.a", "libxy.a"));
        assert!(m("[a-c]*.o", "build/b.o") && !m("[!a-c]*.o", "build/b.o"));
        assert!(m("**", "anything/at/all"));
        assert!(!m("out/*", "other/x"));
    }

    #[test]
    fn bad_patterns() {
        assert!(Glob::new("").is_err());
        assert!(Glob::new("/abs/*").is_err());
        assert!(Glob::new("x[ab").is_err());
    }
}
