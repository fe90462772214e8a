//! Timestamp encodings: recognisers for the text forms toolchains print and
//! decoders for the binary forms they store.

use crate::finding::TimestampEncoding;

/// The build times `twice` accepts when it reads a bare number as one:
/// 2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z. Fixed bounds, never the
/// clock `twice` runs at, so the same bytes classify the same way on any
/// date (issue 12, class 1).
pub(crate) const PLAUSIBLE: (i64, i64) = (946_684_800, 4_102_444_800);

/// A recognised timestamp in a text: `start..end` and, when the text holds a
/// full date, the seconds since the epoch it denotes (zone-less forms read as
/// UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeToken {
    pub start: usize,
    pub end: usize,
    pub encoding: TimestampEncoding,
    pub epoch: Option<i64>,
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];
const WEEKDAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date and time of an epoch second: (year, month, day, h, m, s).
pub(crate) fn civil_from_epoch(epoch: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (secs / 3600) as u32,
        (secs / 60 % 60) as u32,
        (secs % 60) as u32,
    )
}

/// Format an epoch second as ISO 8601 UTC.
pub fn format_epoch(epoch: i64) -> String {
    let (y, mo, d, h, mi, s) = civil_from_epoch(epoch);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

pub(crate) fn epoch_of(year: i64, month: u32, day: u32, h: u32, m: u32, s: u32) -> i64 {
    days_from_civil(year, month, day) * 86_400 + i64::from(h * 3600 + m * 60 + s)
}

pub(crate) fn valid_date(year: i64, month: u32, day: u32) -> bool {
    (1970..=2200).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// A small cursor over bytes for the recognisers; every method fails softly.
struct Cur<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// Exactly `n` ASCII digits (`None` past `u32::MAX`: ten digits such
    /// as an `ar` size field of 9999999999 used to overflow here).
    fn digits(&mut self, n: usize) -> Option<u32> {
        let part = self.s.get(self.i..self.i + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = part.iter().try_fold(0u32, |v, &d| {
            v.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })?;
        self.i += n;
        Some(value)
    }

    /// One or two digits.
    fn digits_1_2(&mut self) -> Option<u32> {
        self.digits(2).or_else(|| self.digits(1))
    }

    fn word(&mut self, words: &[&[u8; 3]]) -> Option<u32> {
        let part = self.s.get(self.i..self.i + 3)?;
        let idx = words.iter().position(|w| &w[..] == part)?;
        self.i += 3;
        Some(idx as u32)
    }

    /// `HH:MM:SS`
    fn hms(&mut self) -> Option<(u32, u32, u32)> {
        let h = self.digits(2)?;
        self.eat(b':')?;
        let m = self.digits(2)?;
        self.eat(b':')?;
        let s = self.digits(2)?;
        (h < 24 && m < 60 && s < 61).then_some((h, m, s))
    }

    fn try_<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let at = self.i;
        let r = f(self);
        if r.is_none() {
            self.i = at;
        }
        r
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

/// Find every timestamp in `text`, left to right, without overlaps.
pub(crate) fn scan(text: &[u8], window: (i64, i64)) -> Vec<TimeToken> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let boundary = i == 0 || !is_word(text[i - 1]);
        if boundary && let Some(tok) = recognise_at(text, i, window) {
            i = tok.end;
            out.push(tok);
            continue;
        }
        i += 1;
    }
    out
}

fn recognise_at(text: &[u8], at: usize, window: (i64, i64)) -> Option<TimeToken> {
    let first = text[at];
    let found = if first.is_ascii_digit() {
        rfc2822(text, at)
            .or_else(|| iso8601(text, at))
            .or_else(|| tex_date(text, at))
            .or_else(|| epoch_decimal(text, at, window))
            .or_else(|| ctime(text, at))
            .or_else(|| time_of_day(text, at))
    } else if first.is_ascii_uppercase() {
        rfc2822(text, at)
            .or_else(|| asctime(text, at))
            .or_else(|| cdate(text, at))
    } else {
        None
    };
    // A token that ends in a digit must end at a word boundary too
    // ("2026-11-25x" is not a date); one ending in a zone name ("…Z") may not.
    found.filter(|t| {
        let ends_in_digit = text[t.end - 1].is_ascii_digit();
        !ends_in_digit || text.get(t.end).is_none_or(|&c| !is_word(c))
    })
}

fn token(
    start: usize,
    end: usize,
    encoding: TimestampEncoding,
    epoch: Option<i64>,
) -> Option<TimeToken> {
    Some(TimeToken {
        start,
        end,
        encoding,
        epoch,
    })
}

/// `2026-11-25`, `2026-11-25T13:45:12`, with optional fraction and zone.
fn iso8601(text: &[u8], at: usize) -> Option<TimeToken> {
    let mut c = Cur { s: text, i: at };
    let year = i64::from(c.digits(4)?);
    c.eat(b'-')?;
    let month = c.digits(2)?;
    c.eat(b'-')?;
    let day = c.digits(2)?;
    if !valid_date(year, month, day) {
        return None;
    }
    let time = c.try_(|c| {
        match c.peek()? {
            b'T' | b' ' => c.i += 1,
            _ => return None,
        }
        let h = c.digits(2)?;
        c.eat(b':')?;
        let m = c.digits(2)?;
        let s = c
            .try_(|c| c.eat(b':').and_then(|_| c.digits(2)))
            .unwrap_or(0);
        (h < 24 && m < 60 && s < 61).then_some((h, m, s))
    });
    let (h, m, s) = time.unwrap_or((0, 0, 0));
    let mut offset = 0i64;
    if time.is_some() {
        c.try_(|c| {
            c.eat(b'.').or_else(|| c.eat(b','))?;
            let start = c.i;
            while c.peek().is_some_and(|d| d.is_ascii_digit()) {
                c.i += 1;
            }
            (c.i > start).then_some(())
        });
        if c.eat(b'Z').is_none() {
            offset = c.try_(zone_offset).unwrap_or(0);
        }
    }
    let epoch = epoch_of(year, month, day, h, m, s) - offset;
    token(at, c.i, TimestampEncoding::Iso8601, Some(epoch))
}

/// `+0100`, `+01:00`, `-05`: seconds east of UTC.
fn zone_offset(c: &mut Cur<'_>) -> Option<i64> {
    let sign = match c.peek()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    c.i += 1;
    let h = c.digits(2)?;
    c.eat(b':');
    let m = c.digits(2).unwrap_or(0);
    (h < 24 && m < 60).then(|| sign * i64::from(h * 3600 + m * 60))
}

/// `Wed, 25 Nov 2026 13:45:12 +0000` (the weekday is optional).
fn rfc2822(text: &[u8], at: usize) -> Option<TimeToken> {
    let mut c = Cur { s: text, i: at };
    c.try_(|c| {
        c.word(&WEEKDAYS)?;
        c.eat(b',')?;
        c.eat(b' ')
    });
    let day = c.digits_1_2()?;
    c.eat(b' ')?;
    let month = c.word(&MONTHS)? + 1;
    c.eat(b' ')?;
    let year = i64::from(c.digits(4)?);
    c.eat(b' ')?;
    let h = c.digits(2)?;
    c.eat(b':')?;
    let m = c.digits(2)?;
    let s = c
        .try_(|c| c.eat(b':').and_then(|_| c.digits(2)))
        .unwrap_or(0);
    if !valid_date(year, month, day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let offset = c
        .try_(|c| {
            c.eat(b' ')?;
            zone_offset(c).or_else(|| {
                ["GMT", "UTC", "UT"]
                    .iter()
                    .find(|z| c.s[c.i..].starts_with(z.as_bytes()))
                    .map(|z| {
                        c.i += z.len();
                        0
                    })
            })
        })
        .unwrap_or(0);
    let epoch = epoch_of(year, month, day, h, m, s) - offset;
    token(at, c.i, TimestampEncoding::Rfc2822, Some(epoch))
}

/// `Wed Nov 25 13:45:12 2026` and `date`'s `Wed Nov 25 13:45:12 UTC 2026`.
fn asctime(text: &[u8], at: usize) -> Option<TimeToken> {
    let mut c = Cur { s: text, i: at };
    c.word(&WEEKDAYS)?;
    c.eat(b' ')?;
    let month = c.word(&MONTHS)? + 1;
    c.eat(b' ')?;
    c.eat(b' ');
    let day = c.digits_1_2()?;
    c.eat(b' ')?;
    let (h, m, s) = c.hms()?;
    c.eat(b' ')?;
    // An optional zone before the year: an abbreviation (`UTC`, `CET`) or,
    // for zones without one, a numeric offset (`+14`, `-0330`).
    let mut offset = 0;
    c.try_(|c| {
        let start = c.i;
        while c.peek().is_some_and(|d| d.is_ascii_uppercase()) {
            c.i += 1;
        }
        (c.i - start >= 2 && c.i - start <= 5).then_some(())?;
        c.eat(b' ')
    });
    c.try_(|c| {
        let sign = match c.peek()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        c.i += 1;
        let hours = i64::from(c.digits(2)?);
        let minutes = c.try_(|c| c.digits(2)).map_or(0, i64::from);
        c.eat(b' ')?;
        offset = sign * (hours * 3600 + minutes * 60);
        Some(())
    });
    let year = i64::from(c.digits(4)?);
    if !valid_date(year, month, day) {
        return None;
    }
    let epoch = epoch_of(year, month, day, h, m, s) - offset;
    token(at, c.i, TimestampEncoding::Asctime, Some(epoch))
}

/// `__DATE__`: `Nov 25 2026`, day padded with a space (`Nov  5 2026`).
fn cdate(text: &[u8], at: usize) -> Option<TimeToken> {
    let mut c = Cur { s: text, i: at };
    let month = c.word(&MONTHS)? + 1;
    c.eat(b' ')?;
    c.eat(b' ');
    let day = c.digits_1_2()?;
    c.eat(b' ')?;
    let year = i64::from(c.digits(4)?);
    if !valid_date(year, month, day) {
        return None;
    }
    let epoch = epoch_of(year, month, day, 0, 0, 0);
    token(at, c.i, TimestampEncoding::CDate, Some(epoch))
}

/// `__TIME__`: `13:45:12`.
fn ctime(text: &[u8], at: usize) -> Option<TimeToken> {
    let mut c = Cur { s: text, i: at };
    c.hms()?;
    token(at, c.i, TimestampEncoding::CTime, None)
}

/// `HH:MM` alone: not part of `HH:MM:SS`, of a `file:line:column`
/// position or of a longer number.
fn time_of_day(text: &[u8], at: usize) -> Option<TimeToken> {
    if at > 0 && text.get(at - 1) == Some(&b':') {
        return None;
    }
    let mut c = Cur { s: text, i: at };
    let h = c.digits(2)?;
    c.eat(b':')?;
    let m = c.digits(2)?;
    if h > 23 || m > 59 || c.peek() == Some(b':') {
        return None;
    }
    token(at, c.i, TimestampEncoding::TimeOfDay, None)
}

/// TeX's `\year.\month.\day:\time` as dvips writes it: `2017.07.14:0240`.
fn tex_date(text: &[u8], at: usize) -> Option<TimeToken> {
    let mut c = Cur { s: text, i: at };
    let year = i64::from(c.digits(4)?);
    c.eat(b'.')?;
    let month = c.digits(2)?;
    c.eat(b'.')?;
    let day = c.digits(2)?;
    c.eat(b':')?;
    let h = c.digits(2)?;
    let m = c.digits(2)?;
    if !valid_date(year, month, day) || h > 23 || m > 59 {
        return None;
    }
    let epoch = epoch_of(year, month, day, h, m, 0);
    token(at, c.i, TimestampEncoding::TexDate, Some(epoch))
}

/// Ten decimal digits within the plausible window.
fn epoch_decimal(text: &[u8], at: usize, window: (i64, i64)) -> Option<TimeToken> {
    let mut c = Cur { s: text, i: at };
    let v = i64::from(c.digits(10)?);
    if c.peek().is_some_and(|d| d.is_ascii_digit()) || !(window.0..=window.1).contains(&v) {
        return None;
    }
    token(at, c.i, TimestampEncoding::EpochDecimal, Some(v))
}

/// Decode an MS-DOS `(time, date)` pair, little-endian words in that order
/// (as zip stores them). `None` when a field is out of range.
pub(crate) fn dos_datetime(time: u16, date: u16) -> Option<i64> {
    let year = 1980 + i64::from(date >> 9);
    let month = u32::from((date >> 5) & 0xf);
    let day = u32::from(date & 0x1f);
    let h = u32::from(time >> 11);
    let m = u32::from((time >> 5) & 0x3f);
    let s = u32::from(time & 0x1f) * 2;
    if !valid_date(year, month, day) || h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(epoch_of(year, month, day, h, m, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: (i64, i64) = PLAUSIBLE;

    fn kinds(text: &str) -> Vec<(TimestampEncoding, &str)> {
        scan(text.as_bytes(), WINDOW)
            .into_iter()
            .map(|t| (t.encoding, &text[t.start..t.end]))
            .collect()
    }

    #[test]
    fn civil_round_trip() {
        for epoch in [0, 951_782_400, 1_764_078_312, 4_102_444_800] {
            let (y, mo, d, h, mi, s) = civil_from_epoch(epoch);
            assert_eq!(epoch_of(y, mo, d, h, mi, s), epoch);
        }
        assert_eq!(format_epoch(1_764_078_312), "2025-11-25T13:45:12Z");
    }

    #[test]
    fn recognises_text_forms() {
        use TimestampEncoding::*;
        assert_eq!(
            kinds("built Nov 25 2026 at 13:45:12."),
            vec![(CDate, "Nov 25 2026"), (CTime, "13:45:12")]
        );
        assert_eq!(kinds("Nov  5 2026"), vec![(CDate, "Nov  5 2026")]);
        assert_eq!(
            kinds("t=2026-11-25T13:45:12.123+01:00;"),
            vec![(Iso8601, "2026-11-25T13:45:12.123+01:00")]
        );
        assert_eq!(kinds("date 2026-11-25 x"), vec![(Iso8601, "2026-11-25")]);
        assert_eq!(
            kinds("Date: Wed, 25 Nov 2026 13:45:12 +0000"),
            vec![(Rfc2822, "Wed, 25 Nov 2026 13:45:12 +0000")]
        );
        assert_eq!(
            kinds("Wed Nov 25 13:45:12 UTC 2026"),
            vec![(Asctime, "Wed Nov 25 13:45:12 UTC 2026")]
        );
        assert_eq!(
            kinds("at Thu Jan 10 20:31:18 +14 2030."),
            vec![(Asctime, "Thu Jan 10 20:31:18 +14 2030")]
        );
        let t = scan(b"Wed Nov 25 09:45:12 -0330 2026", WINDOW);
        assert_eq!(t[0].epoch, Some(epoch_of(2026, 11, 25, 13, 15, 12)));
        assert_eq!(
            kinds("epoch 1764078312\n"),
            vec![(EpochDecimal, "1764078312")]
        );
    }

    #[test]
    fn recognises_times_of_day_and_tex_dates() {
        use TimestampEncoding::*;
        assert_eq!(kinds("started 02:40\n"), vec![(TimeOfDay, "02:40")]);
        assert_eq!(kinds("at 02:40:00."), vec![(CTime, "02:40:00")]);
        assert!(kinds("x.c:10:20: error").is_empty(), "a position");
        assert!(kinds("ratio 16:9, 123:45").is_empty());
        assert_eq!(
            kinds("%DVIPSSource:  TeX output 2017.07.14:0240"),
            vec![(TexDate, "2017.07.14:0240")]
        );
        let t = scan(b"2017.07.15:0241", WINDOW);
        assert_eq!(t[0].epoch, Some(1_500_086_460));
    }

    #[test]
    fn ignores_look_alikes() {
        assert!(kinds("v1.2.3 12345678901 0x1764078312 abc1764078312").is_empty());
        assert!(kinds("2026-13-45 99:99:99").is_empty());
        assert!(kinds("Novel 25 2026").is_empty());
    }

    #[test]
    fn epoch_zones_are_applied() {
        let t = scan(b"2026-11-25T14:45:12+01:00", WINDOW);
        assert_eq!(t[0].epoch, Some(epoch_of(2026, 11, 25, 13, 45, 12)));
    }
}
