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

/// Absolute path tokens of at least two components (`/tmp/x`), as ranges.
pub(crate) fn scan(text: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'/' && starts_path(text, i) {
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
    fn roots_match_whole_prefixes_only() {
        let text = b"/tmp/a/x /tmp/ab/y /var/tmp/a/z /tmp/a";
        assert_eq!(find_root(text, b"/tmp/a"), vec![(0, 6), (32, 38)]);
    }
}
