//! The variations an audit applies between runs: what each changes, what it
//! needs from the system, and the values each run gets.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

/// One deliberate difference between two builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Variation {
    BuildPath,
    Time,
    Timezone,
    Locale,
    Umask,
    Env,
    Hostname,
    Domain,
    FileOrder,
    NumCpus,
    Aslr,
}

/// A system tool a variation needs, and the Debian package that provides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tool {
    pub program: &'static str,
    pub package: &'static str,
}

pub const BWRAP: Tool = Tool {
    program: "bwrap",
    package: "bubblewrap",
};
pub const FAKETIME: Tool = Tool {
    program: "faketime",
    package: "faketime",
};
pub const DISORDERFS: Tool = Tool {
    program: "disorderfs",
    package: "disorderfs",
};
pub const TASKSET: Tool = Tool {
    program: "taskset",
    package: "util-linux",
};
pub const SETARCH: Tool = Tool {
    program: "setarch",
    package: "util-linux",
};
pub const LOCALEDEF: Tool = Tool {
    program: "localedef",
    package: "libc-bin (and locales for the sources)",
};
pub const DOMAINNAME: Tool = Tool {
    program: "domainname",
    package: "hostname",
};

impl Variation {
    pub const ALL: [Variation; 11] = [
        Variation::BuildPath,
        Variation::Time,
        Variation::Timezone,
        Variation::Locale,
        Variation::Umask,
        Variation::Env,
        Variation::Hostname,
        Variation::Domain,
        Variation::FileOrder,
        Variation::NumCpus,
        Variation::Aslr,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variation::BuildPath => "build_path",
            Variation::Time => "time",
            Variation::Timezone => "timezone",
            Variation::Locale => "locale",
            Variation::Umask => "umask",
            Variation::Env => "env",
            Variation::Hostname => "hostname",
            Variation::Domain => "domain",
            Variation::FileOrder => "file_order",
            Variation::NumCpus => "num_cpus",
            Variation::Aslr => "aslr",
        }
    }

    pub fn from_name(name: &str) -> Option<Variation> {
        Variation::ALL.into_iter().find(|v| v.name() == name)
    }

    /// In the default set. `num_cpus` and `aslr` are left out: the first
    /// halves the build's parallelism, and both rarely change outputs by
    /// themselves (`--vary all` adds them).
    pub fn in_default(self) -> bool {
        !matches!(self, Variation::NumCpus | Variation::Aslr)
    }

    /// What the variation changes between run A and run B.
    pub fn describe(self) -> &'static str {
        match self {
            Variation::BuildPath => {
                "the absolute path of the source tree (different directories of different lengths)"
            }
            Variation::Time => {
                "the wall clock: run B's starts about three years, 47 days and 5 hours after run A's \
                 (libfaketime; file mtimes stay real)"
            }
            Variation::Timezone => "TZ: UTC in run A, Pacific/Kiritimati (UTC+14) in run B",
            Variation::Locale => {
                "LC_ALL/LANG/LANGUAGE: C.UTF-8 in run A, fr_FR.UTF-8 in run B (compiled on first use)"
            }
            Variation::Umask => "the umask: 0022 in run A, 0002 in run B",
            Variation::Env => {
                "HOME, USER and LOGNAME differ, and run B gets an extra variable TWICE_AUDIT_NOISE"
            }
            Variation::Hostname => "the host name (a UTS namespace)",
            Variation::Domain => "the NIS domain name (a UTS namespace)",
            Variation::FileOrder => {
                "directory listing order of the source tree (disorderfs: natural in run A, reversed in run B)"
            }
            Variation::NumCpus => {
                "the CPUs the build may use (all in run A, one in run B), so nproc differs"
            }
            Variation::Aslr => {
                "address space layout randomisation: off in run A (setarch -R), on in run B"
            }
        }
    }

    /// The tools the variation needs besides the sandbox.
    pub fn needs(self) -> &'static [Tool] {
        match self {
            Variation::Time => &[FAKETIME],
            Variation::Locale => &[LOCALEDEF],
            Variation::Hostname => &[BWRAP],
            Variation::Domain => &[BWRAP, DOMAINNAME],
            Variation::FileOrder => &[DISORDERFS],
            Variation::NumCpus => &[TASKSET],
            Variation::Aslr => &[SETARCH],
            Variation::BuildPath | Variation::Timezone | Variation::Umask | Variation::Env => &[],
        }
    }
}

impl fmt::Display for Variation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
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
}
