//! Attribution by canary: each run's values of the variations are known
//! (its build path, clock, host name, user, home, umask, time zone,
//! locale), so a difference whose A side holds run A's value and whose B
//! side holds run B's value is that variation's doing, with certainty.

use std::collections::BTreeSet;

use super::build::Run;
use super::variation::{self, Plan, Value};
use crate::classify::{Canaries, CanaryValue};
use crate::finding::{
    AttributedBy, Attribution, Canary, Cause, Decoded, Evidence, Excerpt, Finding, MetadataField,
    TimestampEncoding, Variation,
};

/// What the classifier should recognise when comparing run `a` with run
/// `b`: their build roots, and the names each run was given.
pub(super) fn canaries(plan: &Plan, a: &Run, b: &Run) -> Canaries {
    let bytes = |p: &std::path::Path| p.as_os_str().as_encoded_bytes().to_vec();
    let roots = (a.build_dir != b.build_dir).then(|| (bytes(&a.build_dir), bytes(&b.build_dir)));
    let mut values = Vec::new();
    let mut push = |what: Canary, x: Vec<u8>, y: Vec<u8>| {
        if x != y && !x.is_empty() && !y.is_empty() {
            values.push(CanaryValue { what, a: x, b: y });
        }
    };
    push(Canary::Home, bytes(&a.home), bytes(&b.home));
    let named_b = plan.named_canaries(&b.spec);
    for (canary, x) in plan.named_canaries(&a.spec) {
        if let Some((_, y)) = named_b.iter().find(|(c, _)| *c == canary) {
            push(canary, x.into_bytes(), y.clone().into_bytes());
        }
    }
    Canaries { roots, values }
}

/// How far outside a run's clock window a decoded time may fall: dates
/// without a time of day decode to midnight, and local times without a zone
/// decode as if UTC (up to 14 hours off).
const SLACK: i64 = 86_400 + 15 * 3600;

fn one(v: Variation, by: AttributedBy) -> Option<Attribution> {
    Some(Attribution::one(v, by))
}

/// Attribute every finding a canary explains.
pub(super) fn by_canary(findings: &mut [Finding], plan: &Plan, a: &Run, b: &Run) {
    for f in findings.iter_mut().filter(|f| f.variation.is_none()) {
        f.variation = canary(f, plan, a, b);
    }
}

fn canary(f: &Finding, plan: &Plan, a: &Run, b: &Run) -> Option<Attribution> {
    let active = &plan.active;
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
        Cause::Environment { what } => one(what.variation(), AttributedBy::Canary),
        Cause::Timestamp { encoding } => timestamp(f, *encoding, active, a, b),
        Cause::Metadata {
            field: MetadataField::Mode,
        }
        | Cause::ExecutableBit
            if active.contains(&Variation::Umask) =>
        {
            umask(f, plan, a, b)
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
        _ => other(f, plan, a, b),
    }
}

fn timestamp(
    f: &Finding,
    encoding: TimestampEncoding,
    active: &BTreeSet<Variation>,
    a: &Run,
    b: &Run,
) -> Option<Attribution> {
    // Only the time zone differs between the runs (the clock is not
    // varied, as on a remote executor whose workers cannot fake it): local
    // times that each sit on their run's clock in its own zone are the
    // zone's doing.
    let varied = |v: Variation| active.contains(&v) && b.spec.varied.contains(&v);
    let zone_only =
        varied(Variation::Timezone) && !varied(Variation::Time) && a.utc_offsets != b.utc_offsets;
    let (Some(Decoded::Time(ta)), Some(Decoded::Time(tb))) = (&f.a.decoded, &f.b.decoded) else {
        // A time of day alone (`__TIME__`): on each run's clock, in its
        // local time, it is a canary; otherwise a guess when the clock was
        // varied.
        if let (Some(x), Some(y)) = (time_of_day(&f.a), time_of_day(&f.b))
            && on_local_clock(x, a)
            && on_local_clock(y, b)
        {
            let v = if zone_only {
                Variation::Timezone
            } else {
                Variation::Time
            };
            return one(v, AttributedBy::Canary);
        }
        let varied = b.spec.varied.contains(&Variation::Time) && active.contains(&Variation::Time);
        return varied
            .then_some(())
            .and(one(Variation::Time, AttributedBy::Likely));
    };
    if zone_only && on_zone_clock(*ta, a) && on_zone_clock(*tb, b) {
        return one(Variation::Timezone, AttributedBy::Canary);
    }
    let slack = if encoding == TimestampEncoding::FileMtime {
        5
    } else {
        SLACK
    };
    (in_clock(*ta, a, slack) && in_clock(*tb, b, slack))
        .then_some(())
        .and(one(Variation::Time, AttributedBy::Canary))
}

/// Causes with no canary of their own: the extra variable in side B, a
/// mode that differs by the umask, a clock reading in another field.
fn other(f: &Finding, plan: &Plan, a: &Run, b: &Run) -> Option<Attribution> {
    if let Value::Variant(k) = plan.value(&b.spec, Variation::Env)
        && contains(&excerpt_bytes(&f.b), variation::noise(k).as_bytes())
    {
        return one(Canary::ExtraVariable.variation(), AttributedBy::Canary);
    }
    match (&f.a.decoded, &f.b.decoded) {
        (Some(Decoded::Mode(_)), Some(Decoded::Mode(_)))
            if plan.active.contains(&Variation::Umask) =>
        {
            umask(f, plan, a, b)
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

/// Modes that differ only in bits the two runs' umasks treat differently.
fn umask(f: &Finding, plan: &Plan, a: &Run, b: &Run) -> Option<Attribution> {
    let (Some(Decoded::Mode(ma)), Some(Decoded::Mode(mb))) = (&f.a.decoded, &f.b.decoded) else {
        return None;
    };
    let mask = |r: &Run| variation::umask(plan.value(&r.spec, Variation::Umask)).unwrap_or(0);
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
/// faked, in one of its offsets from UTC?
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

/// A local time read as if UTC that lies on the run's real clock shifted
/// by one of its offsets from UTC (a whole day of slack for a date alone,
/// which decodes to midnight).
fn on_zone_clock(t: i64, r: &Run) -> bool {
    const TOLERANCE: i64 = 5;
    let before = if t.rem_euclid(86_400) == 0 {
        86_400
    } else {
        TOLERANCE
    };
    let (start, end) = r.real;
    r.utc_offsets
        .iter()
        .any(|off| t >= start + off - before && t <= end + off + TOLERANCE)
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
