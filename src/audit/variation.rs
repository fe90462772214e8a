//! What each run of an audit is given: the values of every variation per
//! run (one table per variation), the system tools a variation needs, the
//! plan of which variations are applied, and the descriptions users read,
//! which are written from the same tables so they cannot drift from what
//! runs.

use std::collections::BTreeSet;
use std::process::Command;

use crate::finding::{Canary, Variation};

/// A system program a variation needs, and the Debian package that
/// provides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemTool {
    pub program: &'static str,
    pub package: &'static str,
}

pub const BWRAP: SystemTool = SystemTool {
    program: "bwrap",
    package: "bubblewrap",
};
pub const FAKETIME: SystemTool = SystemTool {
    program: "faketime",
    package: "faketime",
};
pub const DISORDERFS: SystemTool = SystemTool {
    program: "disorderfs",
    package: "disorderfs",
};
pub const TASKSET: SystemTool = SystemTool {
    program: "taskset",
    package: "util-linux",
};
pub const SETARCH: SystemTool = SystemTool {
    program: "setarch",
    package: "util-linux",
};
pub const LOCALEDEF: SystemTool = SystemTool {
    program: "localedef",
    package: "libc-bin (and locales for the sources)",
};
pub const DOMAINNAME: SystemTool = SystemTool {
    program: "domainname",
    package: "hostname",
};
pub const SETPRIV: SystemTool = SystemTool {
    program: "setpriv",
    package: "util-linux",
};
/// For `--trace`.
pub const STRACE: SystemTool = SystemTool {
    program: "strace",
    package: "strace",
};

/// Every system tool an audit uses.
pub const SYSTEM_TOOLS: [SystemTool; 9] = [
    BWRAP, FAKETIME, DISORDERFS, TASKSET, SETARCH, LOCALEDEF, DOMAINNAME, SETPRIV, STRACE,
];

/// The tools a variation needs besides the sandbox.
pub fn needs(v: Variation) -> &'static [SystemTool] {
    match v {
        Variation::Time => &[FAKETIME],
        Variation::Locale => &[LOCALEDEF],
        Variation::Hostname => &[BWRAP],
        Variation::Domain => &[BWRAP, DOMAINNAME, SETPRIV],
        Variation::FileOrder => &[DISORDERFS],
        Variation::NumCpus => &[TASKSET],
        Variation::Aslr => &[SETARCH],
        Variation::BuildPath | Variation::Timezone | Variation::Umask | Variation::Env => &[],
    }
}

/// Run k's clock starts `k × CLOCK_SHIFT` after run A's: years apart, and
/// every field of a calendar date differs.
pub const CLOCK_SHIFT: i64 = (3 * 365 + 47) * 86_400 + 5 * 3600 + 13 * 60 + 7;
/// `TZ` per run: run A gets the first, variant k the k-th (cycling).
pub const TIMEZONES: [&str; 4] = [
    "UTC",
    "Pacific/Kiritimati",
    "America/St_Johns",
    "Asia/Kathmandu",
];
/// `LC_ALL`/`LANG` per run.
pub const LOCALES: [&str; 4] = ["C.UTF-8", "fr_FR.UTF-8", "tr_TR.UTF-8", "de_DE.UTF-8"];
/// The umask per run.
pub const UMASKS: [u32; 4] = [0o022, 0o002, 0o077, 0o027];
/// Where compiled locales appear inside the sandbox.
pub const SANDBOX_LOCALES: &str = "/tmp/twice/locales";
/// Where `--trace` writes inside the sandbox.
pub const SANDBOX_TRACE: &str = "/tmp/twice/trace";
/// Where the source tree and homes appear inside the sandbox.
pub const SANDBOX_BASE: &str = "/tmp/twice";

fn pick<T: Copy>(values: &[T], k: usize) -> T {
    values[k % values.len()]
}

/// The value one run gets for one variation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// Not varied in this audit: the user's environment as it is.
    Inherit,
    /// Run A's value.
    Control,
    /// Variant `k` (run B is 1).
    Variant(usize),
}

impl Value {
    /// The index into a variation's table of values.
    fn index(self) -> Option<usize> {
        match self {
            Value::Inherit => None,
            Value::Control => Some(0),
            Value::Variant(k) => Some(k),
        }
    }

    /// `name` for run A, `name-variant-k` for the others: directory and
    /// host names that differ in length too.
    fn suffixed(self, name: &str) -> String {
        match self {
            Value::Variant(k) => format!("{name}-variant-{k}"),
            _ => name.to_owned(),
        }
    }
}

pub fn time_zone(v: Value) -> Option<&'static str> {
    v.index().map(|k| pick(&TIMEZONES, k))
}

pub fn locale(v: Value) -> Option<&'static str> {
    v.index().map(|k| pick(&LOCALES, k))
}

pub fn umask(v: Value) -> Option<u32> {
    v.index().map(|k| pick(&UMASKS, k))
}

pub fn host_name(v: Value) -> String {
    match v {
        Value::Variant(_) => v.suffixed("twice-host"),
        _ => "twice-host-a".to_owned(),
    }
}

pub fn domain_name(v: Value) -> String {
    match v {
        Value::Variant(_) => v.suffixed("twice-domain"),
        _ => "twice-domain-a".to_owned(),
    }
}

pub fn user_name(v: Value) -> String {
    match v {
        Value::Variant(_) => v.suffixed("twice-user"),
        _ => "twice-user-a".to_owned(),
    }
}

/// The directory (under [`SANDBOX_BASE`]) holding the source tree.
pub fn build_dir_name(v: Value) -> String {
    v.suffixed("build")
}

/// The home directory's name (under [`SANDBOX_BASE`]).
pub fn home_name(v: Value) -> String {
    v.suffixed("home")
}

/// The extra variable's value in variant `k`: fixed per variant, so reruns
/// reproduce it.
pub fn noise(k: usize) -> String {
    let digest = blake3::hash(format!("twice-audit-noise-{k}").as_bytes());
    digest.to_hex()[..16].to_owned()
}

/// How far run k's clock is shifted.
pub fn clock_shift(v: Value) -> Option<i64> {
    match v {
        Value::Variant(k) => Some(CLOCK_SHIFT * i64::try_from(k).unwrap_or(1)),
        _ => None,
    }
}

/// The umask as `umask` prints it.
pub fn umask_text(mask: u32) -> String {
    format!("{mask:04o}")
}

/// One build to run: which variations take their varied value, and which
/// variant of them.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub label: String,
    pub varied: BTreeSet<Variation>,
    pub variant: usize,
}

impl RunSpec {
    /// The audit's k-th run: run A (k = 0) varies nothing, the others vary
    /// every variation in `active`.
    pub fn nth(k: usize, active: &BTreeSet<Variation>) -> RunSpec {
        RunSpec {
            label: run_label(k),
            varied: if k == 0 {
                BTreeSet::new()
            } else {
                active.clone()
            },
            variant: k.max(1),
        }
    }
}

/// `A`, `B`, … `Z`, then `R26`, `R27`, …
pub fn run_label(k: usize) -> String {
    match u8::try_from(k) {
        Ok(k) if k < 26 => char::from(b'A' + k).to_string(),
        _ => format!("R{k}"),
    }
}

/// Which variations an audit applies.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub active: BTreeSet<Variation>,
}

impl Plan {
    pub fn value(&self, spec: &RunSpec, v: Variation) -> Value {
        if !self.active.contains(&v) {
            Value::Inherit
        } else if spec.varied.contains(&v) {
            Value::Variant(spec.variant)
        } else {
            Value::Control
        }
    }

    /// The canary values run `spec` carries for the variations that set
    /// names (the build root, home and clock are known from the run).
    pub fn named_canaries(&self, spec: &RunSpec) -> Vec<(Canary, String)> {
        let mut out = Vec::new();
        let mut push = |canary: Canary, v: Variation, f: &dyn Fn(Value) -> Option<String>| {
            if let Some(text) = f(self.value(spec, v)) {
                out.push((canary, text));
            }
        };
        let named = |f: fn(Value) -> String| move |v: Value| (v != Value::Inherit).then(|| f(v));
        push(Canary::Hostname, Variation::Hostname, &named(host_name));
        push(Canary::Domain, Variation::Domain, &named(domain_name));
        push(Canary::User, Variation::Env, &named(user_name));
        push(Canary::TimeZone, Variation::Timezone, &|v| {
            time_zone(v).map(str::to_owned)
        });
        push(Canary::Locale, Variation::Locale, &|v| {
            locale(v).map(str::to_owned)
        });
        push(Canary::Umask, Variation::Umask, &|v| {
            umask(v).map(umask_text)
        });
        out
    }
}

/// What the variation changes between the runs, written from the tables
/// above for `runs` runs (`A`, `B`, …).
pub fn describe(v: Variation, runs: usize) -> String {
    let per_run = |f: &dyn Fn(Value) -> String| -> String {
        let parts: Vec<String> = (0..runs.max(2))
            .map(|k| {
                let value = if k == 0 {
                    Value::Control
                } else {
                    Value::Variant(k)
                };
                format!("{} in run {}", f(value), run_label(k))
            })
            .collect();
        parts.join(", ")
    };
    match v {
        Variation::BuildPath => format!(
            "the absolute path of the source tree: {}",
            per_run(&|v| format!("{SANDBOX_BASE}/{}/src", build_dir_name(v)))
        ),
        Variation::Time => format!(
            "the wall clock (libfaketime; file mtimes stay real): {}",
            per_run(&|v| match clock_shift(v) {
                None => "the real clock".to_owned(),
                Some(s) => format!("{} later", human_duration(s)),
            })
        ),
        Variation::Timezone => format!(
            "TZ: {}",
            per_run(&|v| time_zone(v).unwrap_or_default().to_owned())
        ),
        Variation::Locale => format!(
            "LC_ALL/LANG/LANGUAGE (compiled with localedef on first use): {}",
            per_run(&|v| locale(v).unwrap_or_default().to_owned())
        ),
        Variation::Umask => format!(
            "the umask: {}",
            per_run(&|v| umask(v).map(umask_text).unwrap_or_default())
        ),
        Variation::Env => format!(
            "USER/LOGNAME and HOME: {}; the varied runs also get TWICE_AUDIT_NOISE",
            per_run(&|v| format!("{} with {SANDBOX_BASE}/{}", user_name(v), home_name(v)))
        ),
        Variation::Hostname => format!("the host name (a UTS namespace): {}", per_run(&host_name)),
        Variation::Domain => format!(
            "the NIS domain name (a UTS namespace): {}",
            per_run(&domain_name)
        ),
        Variation::FileOrder => format!(
            "directory listing order of the source tree (disorderfs): {}",
            per_run(&|v| match v {
                Value::Variant(1) => "reversed".to_owned(),
                Value::Variant(_) => "shuffled".to_owned(),
                _ => "natural".to_owned(),
            })
        ),
        Variation::NumCpus => format!(
            "the CPUs the build may use, so nproc differs: {}",
            per_run(&|v| match v {
                Value::Variant(_) => "one CPU".to_owned(),
                _ => "all CPUs".to_owned(),
            })
        ),
        Variation::Aslr => format!(
            "address space layout randomisation: {}",
            per_run(&|v| match v {
                Value::Variant(_) => "on".to_owned(),
                _ => "off (setarch -R)".to_owned(),
            })
        ),
    }
}

/// `3 years, 47 days, 5 h 13 min`: a clock shift for people.
fn human_duration(seconds: i64) -> String {
    let days = seconds / 86_400;
    let (years, days) = (days / 365, days % 365);
    let rest = seconds % 86_400;
    format!(
        "{years} years, {days} days, {} h {} min",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// The offset from UTC (seconds) in effect at `at` (epoch seconds) in
/// `zone`, from the system's tz database (`date`), or in the host's own
/// zone when `zone` is `None`. `None` when it cannot be read.
pub fn utc_offset_at(zone: Option<&str>, at: i64) -> Option<i64> {
    let mut cmd = Command::new("date");
    cmd.arg("-d").arg(format!("@{at}")).arg("+%z");
    if let Some(zone) = zone {
        cmd.env("TZ", zone);
    }
    let out = cmd.output().ok()?;
    parse_utc_offset(String::from_utf8_lossy(&out.stdout).trim())
}

/// `+0545` → 20700.
fn parse_utc_offset(text: &str) -> Option<i64> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, text.get(1..)?),
        b'-' => (-1, text.get(1..)?),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Parse `--vary`: a comma-separated list of `all`, `default`, `none`,
/// variation names, `+name` (add) and `-name` (remove). A list that starts
/// with `+` or `-` edits the default set; otherwise it builds a set from
/// nothing. Unknown names are errors.
pub fn parse_vary(spec: &str) -> Result<BTreeSet<Variation>, String> {
    let items: Vec<&str> = spec.split(',').map(str::trim).collect();
    if items.iter().any(|i| i.is_empty()) {
        return Err(format!(
            "--vary {spec:?}: empty item; use `none` to vary nothing"
        ));
    }
    let mut set = BTreeSet::new();
    if items
        .first()
        .is_some_and(|i| i.starts_with('+') || i.starts_with('-'))
    {
        set.extend(Variation::ALL.into_iter().filter(|v| v.in_default()));
    }
    for item in items {
        let (op, name) = match item.as_bytes().first() {
            Some(b'+') => ('+', &item[1..]),
            Some(b'-') => ('-', &item[1..]),
            _ => ('=', item),
        };
        let named: Vec<Variation> = match name {
            "all" => Variation::ALL.to_vec(),
            "default" => Variation::ALL
                .into_iter()
                .filter(|v| v.in_default())
                .collect(),
            "none" if op == '=' => Vec::new(),
            _ => match Variation::from_name(name) {
                Some(v) => vec![v],
                None => {
                    let known: Vec<&str> = Variation::ALL.iter().map(|v| v.name()).collect();
                    return Err(format!(
                        "--vary: unknown variation {name:?}; known: {}, and all, default, none",
                        known.join(", ")
                    ));
                }
            },
        };
        if op == '-' {
            for v in named {
                set.remove(&v);
            }
        } else {
            set.extend(named);
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(spec: &str) -> Vec<&'static str> {
        parse_vary(spec)
            .unwrap()
            .into_iter()
            .map(|v| v.name())
            .collect()
    }

    #[test]
    fn vary_sets() {
        assert_eq!(names("all").len(), 11);
        assert_eq!(names("default").len(), 9);
        assert!(!names("default").contains(&"aslr"));
        assert_eq!(names("time,umask"), ["time", "umask"]);
        let edited = names("+aslr,-time");
        assert!(edited.contains(&"aslr") && !edited.contains(&"time"));
        assert_eq!(edited.len(), 9);
        assert!(names("none").is_empty());
        assert_eq!(names("all,-file_order").len(), 10);
    }

    #[test]
    fn unknown_and_empty_items_are_errors() {
        let e = parse_vary("time,hostnmae").unwrap_err();
        assert!(e.contains("unknown variation \"hostnmae\""), "{e}");
        assert!(e.contains("build_path"));
        assert!(parse_vary("").is_err());
        assert!(parse_vary("time,").is_err());
        assert!(parse_vary("+none").is_err());
    }

    #[test]
    fn utc_offsets_parse() {
        assert_eq!(parse_utc_offset("+0000"), Some(0));
        assert_eq!(parse_utc_offset("+1400"), Some(50_400));
        assert_eq!(parse_utc_offset("-0330"), Some(-12_600));
        assert_eq!(parse_utc_offset("UTC"), None);
        assert_eq!(parse_utc_offset("+14"), None);
    }

    #[test]
    fn offsets_come_from_the_tz_database() {
        // 2026-01-15 and 2026-07-15, noon UTC.
        let (winter, summer) = (1_768_478_400, 1_784_116_800);
        assert_eq!(
            utc_offset_at(Some("Asia/Kathmandu"), winter),
            Some(5 * 3600 + 45 * 60)
        );
        assert_eq!(
            utc_offset_at(Some("Pacific/Kiritimati"), summer),
            Some(14 * 3600)
        );
        // Newfoundland: standard time in winter, daylight time in summer.
        assert_eq!(
            utc_offset_at(Some("America/St_Johns"), winter),
            Some(-(3 * 3600 + 1800))
        );
        assert_eq!(
            utc_offset_at(Some("America/St_Johns"), summer),
            Some(-(2 * 3600 + 1800))
        );
    }

    #[test]
    fn descriptions_follow_the_tables_for_every_run() {
        let d = describe(Variation::Timezone, 3);
        assert_eq!(
            d,
            "TZ: UTC in run A, Pacific/Kiritimati in run B, America/St_Johns in run C"
        );
        let d = describe(Variation::BuildPath, 2);
        assert!(
            d.contains("/tmp/twice/build/src in run A")
                && d.contains("/tmp/twice/build-variant-1/src in run B"),
            "{d}"
        );
        for v in Variation::ALL {
            assert!(describe(v, 2).contains("run B"), "{v}");
        }
    }

    #[test]
    fn named_canaries_differ_between_runs() {
        let plan = Plan {
            active: Variation::ALL.into_iter().collect(),
        };
        let a = plan.named_canaries(&RunSpec::nth(0, &plan.active));
        let b = plan.named_canaries(&RunSpec::nth(1, &plan.active));
        assert_eq!(a.len(), 6);
        for ((ca, va), (cb, vb)) in a.iter().zip(&b) {
            assert_eq!(ca, cb);
            assert_ne!(va, vb, "{ca}");
        }
    }
}
