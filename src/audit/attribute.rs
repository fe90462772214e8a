//! Attribution by canary: each run's values of the variations are known
//! (its build path, clock, host name, user, home, umask), so a difference
//! whose A side holds run A's value and whose B side holds run B's value is
//! that variation's doing, with certainty.

use std::collections::BTreeSet;

use super::{Run, UMASKS, Value, Variation, pick};
use crate::finding::{
    AttributedBy, Attribution, Cause, Decoded, Evidence, Excerpt, Finding, MetadataField,
    TimestampEncoding,
};

pub(super) fn host_name(v: Value) -> String {
    match v {
        Value::Variant(k) => format!("twice-host-variant-{k}"),
        _ => "twice-host-a".to_owned(),
    }
}

pub(super) fn domain_name(v: Value) -> String {
    match v {
        Value::Variant(k) => format!("twice-domain-variant-{k}"),
        _ => "twice-domain-a".to_owned(),
    }
}

pub(super) fn user_name(v: Value) -> String {
    match v {
        Value::Variant(k) => format!("twice-user-variant-{k}"),
        _ => "twice-user-a".to_owned(),
    }
}

/// The extra variable's value in variant `k`: fixed per variant, so
/// reruns reproduce it.
pub(super) fn noise(k: usize) -> String {
    let digest = blake3::hash(format!("twice-audit-noise-{k}").as_bytes());
    digest.to_hex()[..16].to_owned()
}

/// How far outside a run's clock window a decoded time may fall: dates
/// without a time of day decode to midnight, and local times without a zone
/// decode as if UTC (up to 14 hours off).
const SLACK: i64 = 86_400 + 15 * 3600;

fn one(v: Variation, by: AttributedBy) -> Option<Attribution> {
    Some(Attribution {
        variations: vec![v.name()],
        by,
    })
}

/// Attribute every finding a canary explains.
pub(super) fn by_canary(findings: &mut [Finding], a: &Run, b: &Run, active: &BTreeSet<Variation>) {
    for f in findings.iter_mut().filter(|f| f.variation.is_none()) {
        f.variation = canary(f, a, b, active);
    }
}

fn canary(f: &Finding, a: &Run, b: &Run, active: &BTreeSet<Variation>) -> Option<Attribution> {
    match &f.cause {
        Cause::BuildPath { exact: true } => one(Variation::BuildPath, AttributedBy::Canary),
        Cause::BuildPath { exact: false } => {
            let home = |e: &Evidence, r: &Run| {
                contains(&excerpt_bytes(e), r.home.as_os_str().as_encoded_bytes())
            };
            (home(&f.a, a) && home(&f.b, b))
                .then_some(())
                .and(one(Variation::Env, AttributedBy::Canary))
        }
        Cause::Environment { what } => match what.as_str() {
            "hostname" => one(Variation::Hostname, AttributedBy::Canary),
            "domain" => one(Variation::Domain, AttributedBy::Canary),
            "time zone" => one(Variation::Timezone, AttributedBy::Canary),
            "locale" => one(Variation::Locale, AttributedBy::Canary),
            "umask" => one(Variation::Umask, AttributedBy::Canary),
            _ => one(Variation::Env, AttributedBy::Canary),
        },
        Cause::Timestamp { encoding } => {
            let (Some(Decoded::Time(ta)), Some(Decoded::Time(tb))) = (&f.a.decoded, &f.b.decoded)
            else {
                // A time of day alone (`__TIME__`): on each run's clock, in
                // its local time, it is a canary; otherwise a guess when the
                // clock was varied.
                if let (Some(x), Some(y)) = (time_of_day(&f.a), time_of_day(&f.b))
                    && on_local_clock(x, a)
                    && on_local_clock(y, b)
                {
                    return one(Variation::Time, AttributedBy::Canary);
                }
                let varied =
                    b.spec.varied.contains(&Variation::Time) && active.contains(&Variation::Time);
                return varied
                    .then_some(())
                    .and(one(Variation::Time, AttributedBy::Likely));
            };
            let slack = if *encoding == TimestampEncoding::FileMtime {
                5
            } else {
                SLACK
            };
            (in_clock(*ta, a, slack) && in_clock(*tb, b, slack))
                .then_some(())
                .and(one(Variation::Time, AttributedBy::Canary))
        }
        Cause::Metadata {
            field: MetadataField::Mode,
        }
        | Cause::ExecutableBit
            if active.contains(&Variation::Umask) =>
        {
            umask(f, a, b)
        }
        // Set and dict order in .pyc follows the hash seed, not the file
        // system; --bisect tells those apart.
        Cause::Ordering { .. }
            if active.contains(&Variation::FileOrder)
                && !f.artifact.to_string().ends_with(".pyc") =>
        {
            one(Variation::FileOrder, AttributedBy::Likely)
        }
        Cause::Consequence { .. } => None,
        _ => {
            if let Value::Variant(k) = b_env(b, active)
                && contains(&excerpt_bytes(&f.b), super::attribute::noise(k).as_bytes())
            {
                return one(Variation::Env, AttributedBy::Canary);
            }
            match (&f.a.decoded, &f.b.decoded) {
                (Some(Decoded::Mode(_)), Some(Decoded::Mode(_)))
                    if active.contains(&Variation::Umask) =>
                {
                    umask(f, a, b)
                }
                // Clock readings under other causes (an `ar` member's date).
                (Some(Decoded::Time(ta)), Some(Decoded::Time(tb)))
                    if in_clock(*ta, a, SLACK) && in_clock(*tb, b, SLACK) =>
                {
                    one(Variation::Time, AttributedBy::Canary)
                }
                _ => None,
            }
        }
    }
}

fn b_env(b: &Run, active: &BTreeSet<Variation>) -> Value {
    if active.contains(&Variation::Env) && b.spec.varied.contains(&Variation::Env) {
        Value::Variant(b.spec.variant)
    } else {
        Value::Inherit
    }
}

/// Modes that differ only in bits the two runs' umasks treat differently.
fn umask(f: &Finding, a: &Run, b: &Run) -> Option<Attribution> {
    let (Some(Decoded::Mode(ma)), Some(Decoded::Mode(mb))) = (&f.a.decoded, &f.b.decoded) else {
        return None;
    };
    let mask = |r: &Run| {
        if r.spec.varied.contains(&Variation::Umask) {
            pick(&UMASKS, r.spec.variant)
        } else {
            UMASKS[0]
        }
    };
    let differing = (ma ^ mb) & 0o777;
    let explained = mask(a) ^ mask(b);
    (differing != 0 && differing & !explained == 0)
        .then_some(())
        .and(one(Variation::Umask, AttributedBy::Canary))
}

/// `HH:MM:SS` in the evidence's token (or its marked bytes, or its
/// value), as seconds of the day.
fn time_of_day(e: &Evidence) -> Option<i64> {
    let raw: &[u8] = match (&e.token, &e.excerpt) {
        (Some(t), _) => &t.0,
        (None, Excerpt::Bytes { bytes, mark, .. }) => {
            let at = usize::try_from(mark.at).ok()?;
            let len = usize::try_from(mark.len).ok()?;
            bytes.0.get(at..at.checked_add(len)?)?
        }
        (None, Excerpt::Value { value }) => &value.0,
        _ => return None,
    };
    let text = std::str::from_utf8(raw).ok()?;
    let mut parts = text.trim().split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    (parts.next().is_none() && h < 24 && m < 60 && s < 61).then_some(h * 3600 + m * 60 + s)
}

/// Was `tod` (seconds of the day, local time) on the run's clock, real or
/// faked, in one of its possible offsets from UTC?
fn on_local_clock(tod: i64, r: &Run) -> bool {
    const DAY: i64 = 86_400;
    const TOLERANCE: i64 = 5;
    let (start, end) = r.real;
    let mut windows = vec![(start, end)];
    if let Some(s) = r.fake_start {
        windows.push((s, s + (end - start)));
    }
    windows.iter().any(|&(s, e)| {
        r.utc_offsets.iter().any(|off| {
            let from = (s + off - TOLERANCE).rem_euclid(DAY);
            let span = e - s + 2 * TOLERANCE;
            span >= DAY || (tod - from).rem_euclid(DAY) <= span
        })
    })
}

/// Within the run's real clock, or its faked one.
fn in_clock(t: i64, r: &Run, slack: i64) -> bool {
    let (start, end) = r.real;
    let within = |s: i64, e: i64| t >= s - slack && t <= e + slack;
    within(start, end) || r.fake_start.is_some_and(|s| within(s, s + (end - start)))
}

pub(super) fn excerpt_bytes(e: &Evidence) -> Vec<u8> {
    match &e.excerpt {
        Excerpt::Lines { lines, .. } => lines.iter().flat_map(|l| l.0.iter().copied()).collect(),
        Excerpt::Bytes { bytes, .. } => bytes.0.clone(),
        Excerpt::Value { value } => value.0.clone(),
        Excerpt::Absent => Vec::new(),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
