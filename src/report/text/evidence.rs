//! One finding and its evidence, as text: values on one line, text lines
//! with the recognised token marked, bytes as a hex dump (capped unless
//! `--verbose`).

use std::fmt::Write as _;

use super::{Paint, Style};
use crate::classify::format_epoch;
use crate::finding::{Decoded, Evidence, Excerpt, Finding, Side, printable};

/// A finding: its place, cause, attribution and problem on one line, then
/// both sides' evidence.
pub(super) fn finding(f: &Finding, problem: Option<usize>, p: &Paint, st: Style, s: &mut String) {
    let fp = f.fingerprint.to_string();
    let mut tail = String::new();
    if let Some(v) = &f.variation {
        let _ = write!(tail, "  {}", p.cause(&v.to_string()));
    }
    if let Some(n) = problem {
        let _ = write!(tail, "  {}", p.dim(&format!("problem {n}")));
    }
    let _ = writeln!(
        s,
        "  {}: {}  {}{tail}",
        f.location,
        p.cause(&f.cause.to_string()),
        p.dim(&format!("[{}]", &fp[..8]))
    );
    if let (Some(a), Some(b)) = (one_line(&f.a), one_line(&f.b)) {
        let _ = writeln!(
            s,
            "    {} {}  {}  {} {}",
            p.side(Side::A, "A"),
            a,
            p.dim("→"),
            p.side(Side::B, "B"),
            b
        );
        return;
    }
    evidence(Side::A, &f.a, p, st, s);
    evidence(Side::B, &f.b, p, st, s);
    if let (Some(Decoded::Time(x)), Some(Decoded::Time(y))) = (&f.a.decoded, &f.b.decoded) {
        let _ = writeln!(
            s,
            "    {} {} → {}",
            p.dim("="),
            format_epoch(*x),
            format_epoch(*y)
        );
    }
}

fn evidence(side: Side, e: &Evidence, p: &Paint, st: Style, s: &mut String) {
    let tag = p.side(side, &side.to_string());
    let token = e.token.as_ref().map(|t| t.0.as_slice());
    match &e.excerpt {
        Excerpt::Absent => {
            let _ = writeln!(s, "    {tag} {}", p.dim("(absent)"));
        }
        Excerpt::Value { value } => {
            let _ = writeln!(s, "    {tag} {}", value.lossy());
        }
        Excerpt::Lines {
            first,
            lines,
            omitted,
        } => {
            for (i, line) in lines.iter().enumerate() {
                let text = highlight(&line.0, token, side, p);
                let _ = writeln!(s, "    {tag} {:>5} │ {text}", first + i as u64);
            }
            if *omitted > 0 {
                let _ = writeln!(
                    s,
                    "    {tag}       │ {}",
                    p.dim(&format!("… {omitted} more lines"))
                );
            }
            if lines.is_empty() && *omitted == 0 {
                let _ = writeln!(s, "    {tag}       │ {}", p.dim("(no lines)"));
            }
        }
        Excerpt::Bytes { at, bytes, mark } => {
            hexdump(
                side,
                *at,
                &bytes.0,
                mark.at as usize..(mark.at + mark.len) as usize,
                p,
                st,
                s,
            );
        }
    }
}

/// Show `line` with the first occurrence of `token` marked.
fn highlight(line: &[u8], token: Option<&[u8]>, side: Side, p: &Paint) -> String {
    let lossy = String::from_utf8_lossy(line);
    let text = printable(&lossy);
    let Some(token) = token.map(|t| printable(&String::from_utf8_lossy(t)).into_owned()) else {
        return text.into_owned();
    };
    match (p.on, token.is_empty(), text.find(token.as_str())) {
        (true, false, Some(at)) => format!(
            "{}{}{}",
            &text[..at],
            p.mark(side, &token),
            &text[at + token.len()..]
        ),
        _ => text.into_owned(),
    }
}

fn hexdump(
    side: Side,
    at: u64,
    bytes: &[u8],
    mark: std::ops::Range<usize>,
    p: &Paint,
    st: Style,
    s: &mut String,
) {
    let tag = p.side(side, &side.to_string());
    let base = at as usize;
    if bytes.is_empty() {
        let _ = writeln!(
            s,
            "    {tag} {base:08x}  {}",
            p.dim("(no bytes: the file ends here)")
        );
        return;
    }
    if bytes.iter().all(|&c| (0x20..0x7f).contains(&c)) {
        // A string: show it as text, the marked part highlighted.
        let text = String::from_utf8_lossy(bytes);
        let (x, y) = (mark.start.min(text.len()), mark.end.min(text.len()));
        if p.on {
            let _ = writeln!(
                s,
                "    {tag} {base:08x}  {}{}{}",
                &text[..x],
                p.mark(side, &text[x..y]),
                &text[y..]
            );
        } else {
            let _ = writeln!(s, "    {tag} {base:08x}  {text}");
            let _ = writeln!(s, "      {:8}  {}{}", "", " ".repeat(x), "^".repeat(y - x));
        }
        return;
    }
    let rows = bytes.len().div_ceil(16);
    // Without --verbose: the rows holding the marked bytes, at most two.
    let first_marked = mark.start / 16;
    let shown = if st.verbose {
        0..rows
    } else {
        first_marked.min(rows.saturating_sub(1))..(first_marked + 2).min(rows)
    };
    for (row, chunk) in bytes.chunks(16).enumerate() {
        if !shown.contains(&row) {
            continue;
        }
        let row_at = row * 16;
        let mut hex = String::new();
        let mut ascii = String::new();
        let mut carets = String::new();
        for (i, &b) in chunk.iter().enumerate() {
            let marked = mark.contains(&(row_at + i));
            let h = format!("{b:02x}");
            let c = if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '.'
            };
            if marked && p.on {
                hex.push_str(&p.mark(side, &h));
                ascii.push_str(&p.mark(side, &c.to_string()));
            } else {
                hex.push_str(&h);
                ascii.push(c);
            }
            hex.push(' ');
            carets.push_str(if marked { "^^ " } else { "   " });
        }
        for _ in chunk.len()..16 {
            hex.push_str("   ");
        }
        let _ = writeln!(s, "    {tag} {:08x}  {hex} │{ascii}│", base + row_at);
        if !p.on && carets.contains('^') {
            let _ = writeln!(s, "      {:8}  {}", "", carets.trim_end());
        }
    }
    if shown.len() < rows {
        let _ = writeln!(
            s,
            "    {tag} {}",
            p.dim(&format!("… {} more rows (--verbose)", rows - shown.len()))
        );
    }
}

/// Evidence that reads well on one line: a short value, or a recognised
/// token (with its decoded time).
pub(in crate::report) fn one_line(e: &Evidence) -> Option<String> {
    let short =
        |t: &[u8]| (t.len() <= 80).then(|| printable(&String::from_utf8_lossy(t)).into_owned());
    match (&e.excerpt, &e.token, &e.decoded) {
        (Excerpt::Absent, _, _) => Some("(absent)".to_owned()),
        (Excerpt::Value { value }, _, _) => short(&value.0),
        (Excerpt::Lines { lines, .. }, _, _) if lines.len() == 1 => short(&lines[0].0),
        (_, Some(token), Some(Decoded::Time(t))) => {
            short(&token.0).map(|x| format!("{x} ({})", format_epoch(*t)))
        }
        _ => None,
    }
}
