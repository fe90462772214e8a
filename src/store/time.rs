//! Dates as the history stores them (seconds since the epoch, UTC) and as
//! people write them: `2026-01-05`, `2026-01-05T10:00:00Z`, `@1767607200`,
//! or a span back from now (`7d`, `12h`, `2w`, `90d`).

use crate::classify::timestamp::{civil_from_epoch, days_from_civil};

pub const DAY: i64 = 86_400;

/// `2026-01-05T10:00:00Z`.
pub fn format_time(epoch: i64) -> String {
    crate::classify::format_epoch(epoch)
}

/// `2026-01-05`.
pub fn format_date(epoch: i64) -> String {
    let (y, mo, d, ..) = civil_from_epoch(epoch);
    format!("{y:04}-{mo:02}-{d:02}")
}

/// A point in time: an absolute date or time (UTC), `@EPOCH`, or a span
/// back from `now`.
pub fn parse_when(text: &str, now: i64) -> Option<i64> {
    parse_time(text).or_else(|| parse_span(text).map(|span| now - span))
}

/// An absolute time: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]Z` (a space may
/// stand for `T`; the `Z` may be left out: times are UTC), or `@EPOCH`.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(epoch) = text.strip_prefix('@') {
        return epoch.parse().ok();
    }
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t.strip_suffix('Z').unwrap_or(t))),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let year: i64 = number(parts.next()?, 4)?;
    let month: u32 = number(parts.next()?, 2)?;
    let day: u32 = number(parts.next()?, 2)?;
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    let mut seconds = 0;
    if let Some(time) = time {
        let mut parts = time.split(':');
        let h: i64 = number(parts.next()?, 2)?;
        let m: i64 = number(parts.next()?, 2)?;
        let s: i64 = match parts.next() {
            Some(s) => number(s, 2)?,
            None => 0,
        };
        if parts.next().is_some() || h > 23 || m > 59 || s > 60 {
            return None;
        }
        seconds = h * 3600 + m * 60 + s;
    }
    Some(days_from_civil(year, month, day) * DAY + seconds)
}

/// A span of time: a count and a unit (`m`inutes, `h`ours, `d`ays,
/// `w`eeks), in seconds.
pub fn parse_span(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let count: i64 = text.get(..text.len() - 1)?.parse().ok()?;
    let scale = match unit {
        'm' => 60,
        'h' => 3600,
        'd' => DAY,
        'w' => 7 * DAY,
        _ => return None,
    };
    (count >= 0).then(|| count.checked_mul(scale)).flatten()
}

fn number<T: std::str::FromStr>(text: &str, digits: usize) -> Option<T> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_times_and_spans_parse() {
        let day = parse_time("2026-01-05").unwrap();
        assert_eq!(format_time(day), "2026-01-05T00:00:00Z");
        assert_eq!(parse_time("2026-01-05T10:30:00Z"), Some(day + 37_800));
        assert_eq!(parse_time("2026-01-05 10:30"), Some(day + 37_800));
        assert_eq!(parse_time("@1767607200"), Some(1_767_607_200));
        assert_eq!(parse_when("7d", day), Some(day - 7 * DAY));
        assert_eq!(parse_when("2w", day), Some(day - 14 * DAY));
        assert_eq!(parse_span("12h"), Some(43_200));
        assert_eq!(format_date(day + 5), "2026-01-05");
        for bad in [
            "",
            "7",
            "d",
            "-1d",
            "2026-13-01",
            "2026-02-30",
            "2026-1-5",
            "10:00",
            "x7d",
        ] {
            assert_eq!(parse_when(bad, day), None, "{bad}");
        }
    }
}
