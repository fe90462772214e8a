//! Lines of checksum manifests: a digest of another file and that file's
//! name, as `md5sum`/`sha256sum` print them (Debian's `DEBIAN/md5sums`,
//! `SHA256SUMS`), as `--tag` prints them (`SHA256 (path) = …`), and as
//! jar manifests record them (`Name:` then `SHA-256-Digest:`). A line
//! whose only change is its digest follows from the change of the file it
//! names (issue 12, class 7); whether that file differs is settled once
//! the whole comparison is known (`Cx::emit_digest`).
#![deny(clippy::indexing_slicing)]

/// Hex digest lengths of MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512.
const HEX_LENGTHS: [usize; 6] = [32, 40, 56, 64, 96, 128];

/// (digest, path) of a coreutils checksum line: `<hex>  <path>` or
/// `<hex> *<path>`.
fn coreutils(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let space = line.iter().position(|&c| c == b' ')?;
    let (digest, rest) = (line.get(..space)?, line.get(space + 1..)?);
    if !HEX_LENGTHS.contains(&digest.len()) || !digest.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let path = rest
        .strip_prefix(b" ")
        .or_else(|| rest.strip_prefix(b"*"))?;
    (!path.is_empty()).then_some((digest, path))
}

/// (digest, path) of a BSD-style tagged line: `SHA256 (path) = <hex>`.
fn tagged(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let open = line.iter().position(|&c| c == b'(')?;
    let algorithm = line.get(..open)?.strip_suffix(b" ")?;
    if algorithm.is_empty()
        || !algorithm
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    {
        return None;
    }
    let close = line.windows(4).rposition(|w| w == b") = ")?;
    let path = line.get(open + 1..close)?;
    let digest = line.get(close + 4..)?;
    (!path.is_empty() && !digest.is_empty() && digest.iter().all(u8::is_ascii_alphanumeric))
        .then_some((digest, path))
}

/// The `Name:` of the jar manifest section line `i` is in, with its
/// continuation lines (a line starting with a space continues the one
/// before, manifests wrap at 72 bytes).
fn jar_name(lines: &[&[u8]], i: usize) -> Option<Vec<u8>> {
    let mut k = i;
    while k > 0 {
        k -= 1;
        let line = lines.get(k)?;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        if let Some(name) = line.strip_prefix(b"Name: ") {
            let mut out = name.to_vec();
            for next in lines.get(k + 1..i)? {
                let next = next.strip_suffix(b"\r").unwrap_or(next);
                match next.strip_prefix(b" ") {
                    Some(more) => out.extend_from_slice(more),
                    None => break,
                }
            }
            return Some(out);
        }
    }
    None
}

/// A jar manifest digest line: `SHA-256-Digest: <base64>`.
fn jar_digest(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let colon = line.windows(9).position(|w| w == b"-Digest: ")?;
    let key = line.get(..colon)?;
    (!key.is_empty() && !key.contains(&b' ')).then(|| line.get(colon + 9..))?
}

/// When line `i` of `a` and line `j` of `b` are the same checksum
/// manifest line but for the digest, the file the digest is of.
pub(crate) fn digest_target(a: &[&[u8]], i: usize, b: &[&[u8]], j: usize) -> Option<Vec<u8>> {
    let (x, y) = (*a.get(i)?, *b.get(j)?);
    if x == y {
        return None;
    }
    for parse in [coreutils, tagged] {
        if let (Some((dx, px)), Some((dy, py))) = (parse(x), parse(y)) {
            return (px == py && dx != dy && dx.len() == dy.len()).then(|| px.to_vec());
        }
    }
    let (dx, dy) = (jar_digest(x)?, jar_digest(y)?);
    let key = |l: &[u8]| {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        l.get(..l.len() - jar_digest(l).map_or(0, <[u8]>::len))
            .map(<[u8]>::to_vec)
    };
    if dx == dy || key(x) != key(y) {
        return None;
    }
    let (nx, ny) = (jar_name(a, i)?, jar_name(b, j)?);
    (nx == ny).then_some(nx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(a: &[&str], i: usize, b: &[&str], j: usize) -> Option<String> {
        let a: Vec<&[u8]> = a.iter().map(|l| l.as_bytes()).collect();
        let b: Vec<&[u8]> = b.iter().map(|l| l.as_bytes()).collect();
        digest_target(&a, i, &b, j).map(|t| String::from_utf8(t).unwrap())
    }

    #[test]
    fn coreutils_and_tagged_lines_name_their_file() {
        let md5 = |h: char| format!("{}  usr/share/demo/data.txt", h.to_string().repeat(32));
        assert_eq!(
            target(&[&md5('a')], 0, &[&md5('b')], 0).as_deref(),
            Some("usr/share/demo/data.txt")
        );
        let tag = |h: char| format!("SHA256 (data.txt) = {}", h.to_string().repeat(64));
        assert_eq!(
            target(&[&tag('1')], 0, &[&tag('2')], 0).as_deref(),
            Some("data.txt")
        );
        // Another file name is not a digest change.
        let other = format!("{}  usr/share/demo/other.txt", "b".repeat(32));
        assert_eq!(target(&[&md5('a')], 0, &[&other], 0), None);
        assert_eq!(target(&["plain text"], 0, &["other text"], 0), None);
    }

    #[test]
    fn jar_sections_name_their_entry() {
        let a = [
            "Manifest-Version: 1.0",
            "",
            "Name: res/data.txt",
            "SHA-256-Digest: AAAA=",
        ];
        let b = [
            "Manifest-Version: 1.0",
            "",
            "Name: res/data.txt",
            "SHA-256-Digest: BBBB=",
        ];
        assert_eq!(target(&a, 3, &b, 3).as_deref(), Some("res/data.txt"));
        // Manifests end their lines with CR LF.
        let a = ["Name: res/data.txt\r", "SHA-256-Digest: wo9iVUPA+/h4=\r"];
        let b = ["Name: res/data.txt\r", "SHA-256-Digest: 4fxZPTuj+djN=\r"];
        assert_eq!(target(&a, 1, &b, 1).as_deref(), Some("res/data.txt"));
        let wrapped = [
            "Name: res/a-very-long-na",
            " me.txt",
            "SHA-256-Digest: AAAA=",
        ];
        let wrapped_b = [
            "Name: res/a-very-long-na",
            " me.txt",
            "SHA-256-Digest: CCCC=",
        ];
        assert_eq!(
            target(&wrapped, 2, &wrapped_b, 2).as_deref(),
            Some("res/a-very-long-name.txt")
        );
    }
}
