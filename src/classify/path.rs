//! Absolute paths in text: exact occurrences of known build roots, and
//! path-shaped tokens when the roots are not known.

/// Bytes that may appear inside a path component as toolchains print them.
fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'+' | b'~' | b'@' | b'%')
}

fn is_path_byte(c: u8) -> bool {
    is_name_byte(c) || c == b'/'
}

/// May an absolute path start at `i` (which holds `/`)? Not inside another
/// word or path, except right after a one-letter flag (`-I/usr/include`).
fn starts_path(text: &[u8], i: usize) -> bool {
    match i.checked_sub(1).map(|p| text[p]) {
        None => true,
        Some(prev) if !is_path_byte(prev) => true,
        Some(prev) => prev.is_ascii_alphabetic() && i >= 2 && text[i - 2] == b'-',
    }
}

/// The end of the URL whose `//` is at `i` (`http://host/x`): a URL is
/// not a path, whatever its path part looks like. `file://` URLs give
/// their path back: `None` then.
fn url_end(text: &[u8], i: usize) -> Option<usize> {
    let scheme_end = i.checked_sub(1).filter(|&p| text[p] == b':')?;
    let scheme_start = text[..scheme_end]
        .iter()
        .rposition(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
        .map_or(0, |p| p + 1);
    if text[scheme_start..scheme_end].eq_ignore_ascii_case(b"file") {
        return None;
    }
    let end = text[i..]
        .iter()
        .position(|&c| c.is_ascii_whitespace() || matches!(c, b'"' | b'\'' | b'<' | b'>'))
        .map_or(text.len(), |p| i + p);
    Some(end)
}

/// Absolute path tokens of at least two components (`/tmp/x`), as ranges.
/// URLs are skipped; the path of a `file://` URL is a path.
pub(crate) fn scan(text: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'/' && text.get(i + 1) == Some(&b'/') {
            // `scheme://…` is a URL; a `//` elsewhere starts no path either
            // (the path of `file:///x` starts at its third slash).
            i = url_end(text, i).unwrap_or(i + 1);
            continue;
        }
        let file_url = i >= 3 && text[i - 3..i] == *b"://";
        if text[i] == b'/' && (starts_path(text, i) || file_url) {
            let mut end = i;
            let mut components = 0;
            while end < text.len() && is_path_byte(text[end]) {
                if text[end] == b'/' && text.get(end + 1).is_some_and(|&c| is_name_byte(c)) {
                    components += 1;
                }
                end += 1;
            }
            if components >= 2 {
                out.push((i, end));
                i = end;
                continue;
            }
            i = end.max(i + 1);
            continue;
        }
        i += 1;
    }
    out
}

/// How two paths that differ differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathChange {
    /// A directory part differs: a build path (`/tmp/a/src/x.c` against
    /// `/tmp/b/src/x.c`).
    Directory,
    /// Only the last component differs (`…/<guid>.psmdcp`, `test1.py`
    /// against `test2.py`); `random` when the part that differs looks like
    /// a random token rather than a word or a counter.
    LastComponent { random: bool },
}

/// A directory part differs, or only the last component. A last
/// component is a file name (not the build directory itself, as in
/// `DW_AT_comp_dir`) when both names end in the same extension.
pub(crate) fn change(a: &[u8], b: &[u8]) -> PathChange {
    let (ca, cb) = (a.rsplit_once_slash(), b.rsplit_once_slash());
    if ca.0 == cb.0 && same_extension(ca.1, cb.1) {
        return PathChange::LastComponent {
            random: random_pair(ca.1, cb.1),
        };
    }
    PathChange::Directory
}

/// `x.py` and `y.py`: a shared `.ext` of word characters.
fn same_extension(a: &[u8], b: &[u8]) -> bool {
    fn ext(n: &[u8]) -> Option<&[u8]> {
        n.iter()
            .rposition(|&c| c == b'.')
            .filter(|&p| p > 0)
            .map(|p| &n[p..])
            .filter(|e| e.len() > 1 && e[1..].iter().all(u8::is_ascii_alphanumeric))
    }
    ext(a).is_some() && ext(a) == ext(b)
}

trait SplitSlash {
    fn rsplit_once_slash(&self) -> (&[u8], &[u8]);
}

impl SplitSlash for [u8] {
    /// (directory with its trailing `/`, last component).
    fn rsplit_once_slash(&self) -> (&[u8], &[u8]) {
        match self.iter().rposition(|&c| c == b'/') {
            Some(p) => (&self[..=p], &self[p + 1..]),
            None => (&self[..0], self),
        }
    }
}

/// Do two names differ in a part that looks random (a `mktemp` suffix, a
/// GUID, a hash) rather than in a word or a counter? The differing parts,
/// after their common prefix and suffix, are equally long, at least four
/// characters of `[A-Za-z0-9]`, and each has a digit or mixed case.
pub(crate) fn random_pair(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return false;
    }
    let (prefix, suffix) = super::common_ends(a, b);
    let (xa, xb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    // A counter or a version (`test1`/`test2`, `1.0`/`1.1`) differs in a
    // character or two; a random token in most of its characters.
    if xa.len() < 3 || xb.len() < 3 {
        return false;
    }
    // A random token usually starts where the names start to differ: take
    // the whole alphanumeric run around the difference.
    let widen = |name: &[u8], start: usize, end: usize| -> (usize, usize) {
        let alnum = |c: &u8| c.is_ascii_alphanumeric();
        let s = name[..start]
            .iter()
            .rposition(|c| !alnum(c))
            .map_or(0, |p| p + 1);
        let e = name[end..]
            .iter()
            .position(|c| !alnum(c))
            .map_or(name.len(), |p| end + p);
        (s, e)
    };
    let (sa, ea) = widen(a, prefix, prefix + xa.len());
    let (sb, eb) = widen(b, prefix, prefix + xb.len());
    let (ta, tb) = (&a[sa..ea], &b[sb..eb]);
    let token = |t: &[u8]| {
        t.len() >= 4
            && t.iter().all(u8::is_ascii_alphanumeric)
            && (t.iter().any(u8::is_ascii_digit)
                || (t.iter().any(u8::is_ascii_uppercase) && t.iter().any(u8::is_ascii_lowercase)))
    };
    ta.len() == tb.len() && token(ta) && token(tb)
}

/// Every occurrence of `root` in `text` that is a whole path prefix: not
/// preceded by a path byte and not followed by a name byte (so `/tmp/a` does
/// not match inside `/var/tmp/a` or `/tmp/ab`).
pub(crate) fn find_root(text: &[u8], root: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if root.is_empty() || root.len() > text.len() {
        return out;
    }
    let mut i = 0;
    while let Some(pos) = find(&text[i..], root) {
        let start = i + pos;
        let end = start + root.len();
        let before_ok = start == 0 || !is_path_byte(text[start - 1]);
        let after_ok = text.get(end).is_none_or(|&c| !is_name_byte(c));
        if before_ok && after_ok {
            out.push((start, end));
            i = end;
        } else {
            i = start + 1;
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > haystack.len() {
        return None;
    }
    let first = needle[0];
    let last_start = haystack.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        let pos = haystack[i..=last_start].iter().position(|&c| c == first)?;
        let at = i + pos;
        if &haystack[at..at + needle.len()] == needle {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(text: &str) -> Vec<&str> {
        scan(text.as_bytes())
            .into_iter()
            .map(|(s, e)| &text[s..e])
            .collect()
    }

    #[test]
    fn finds_absolute_paths() {
        assert_eq!(
            paths("main.o: /tmp/a1/src/main.c /usr/include/stdio.h"),
            vec!["/tmp/a1/src/main.c", "/usr/include/stdio.h"]
        );
        assert_eq!(paths("-I/build/x/include"), vec!["/build/x/include"]);
        assert_eq!(
            paths("\"/home/u/.cargo/registry/src\""),
            vec!["/home/u/.cargo/registry/src"]
        );
    }

    #[test]
    fn skips_relative_and_short() {
        assert!(paths("src/main.c a/b/c 1/2 /x and/or").is_empty());
    }

    #[test]
    fn urls_are_not_paths() {
        assert!(paths("xmlns=\"http://www.w3.org/2003/05/soap-envelope\"").is_empty());
        assert!(paths("see https://example.org/a/b and //x/y").is_empty());
        assert_eq!(paths("file:///build/a/x.c"), vec!["/build/a/x.c"]);
    }

    #[test]
    fn a_changed_last_component_is_not_a_build_path() {
        assert_eq!(
            change(b"/tmp/a/src/x.c", b"/tmp/bb/src/x.c"),
            PathChange::Directory
        );
        // A build directory itself (DW_AT_comp_dir) differs in its last part.
        assert_eq!(
            change(b"/build/a", b"/build/second-run-b"),
            PathChange::Directory
        );
        assert_eq!(
            change(b"test1.py", b"test2.py"),
            PathChange::LastComponent { random: false }
        );
        assert_eq!(
            change(
                b"/package/services/metadata/core-properties/3f2a9c1d8e7b4a6f.psmdcp",
                b"/package/services/metadata/core-properties/9b81e0c4d2a34f57.psmdcp"
            ),
            PathChange::LastComponent { random: true }
        );
        assert!(random_pair(b"tmp.TyCgZ2", b"tmp.b0DMbr"));
        assert!(!random_pair(b"foo-1.0.tar.gz", b"foo-1.1.tar.gz"));
        assert!(!random_pair(b"alpha.txt", b"gamma.txt"));
    }

    #[test]
    fn roots_match_whole_prefixes_only() {
        let text = b"/tmp/a/x /tmp/ab/y /var/tmp/a/z /tmp/a";
        assert_eq!(find_root(text, b"/tmp/a"), vec![(0, 6), (32, 38)]);
    }
}
