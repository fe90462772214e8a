//! Which deliberate variation of an audit triggers a finding, and how that
//! was established: the variations, the canary values they plant, and the
//! attribution a finding carries.

use std::fmt;

use serde::Serialize;

/// One deliberate difference between two builds of an audit.
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

    /// The name used on the command line, in reports and in baselines.
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
}

impl fmt::Display for Variation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value an audit plants in each run and can recognise in the outputs:
/// run A's value on side A and run B's on side B pins a difference to the
/// variation that set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Canary {
    /// The absolute path of the source tree.
    BuildRoot,
    /// A reading of the clock, in any encoding.
    Clock,
    Hostname,
    /// The NIS domain name.
    Domain,
    /// `USER` and `LOGNAME`.
    User,
    /// The home directory.
    Home,
    /// The name of the time zone (`TZ`).
    TimeZone,
    /// The locale name (`LC_ALL`, `LANG`).
    Locale,
    /// The umask as text (`0022`).
    Umask,
    /// The extra environment variable an audit adds to the varied run.
    ExtraVariable,
}

impl Canary {
    /// The variation that plants this canary.
    pub fn variation(self) -> Variation {
        match self {
            Canary::BuildRoot => Variation::BuildPath,
            Canary::Clock => Variation::Time,
            Canary::Hostname => Variation::Hostname,
            Canary::Domain => Variation::Domain,
            Canary::User | Canary::Home | Canary::ExtraVariable => Variation::Env,
            Canary::TimeZone => Variation::Timezone,
            Canary::Locale => Variation::Locale,
            Canary::Umask => Variation::Umask,
        }
    }
}

impl fmt::Display for Canary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Canary::BuildRoot => "build root",
            Canary::Clock => "clock",
            Canary::Hostname => "hostname",
            Canary::Domain => "domain",
            Canary::User => "user",
            Canary::Home => "home",
            Canary::TimeZone => "time zone",
            Canary::Locale => "locale",
            Canary::Umask => "umask",
            Canary::ExtraVariable => "environment variable",
        })
    }
}

/// The variation(s) a finding is pinned to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Attribution {
    /// One variation, or two when only the pair together triggers it.
    /// Empty with `by: inherent` (it differs with nothing varied).
    pub variations: Vec<Variation>,
    pub by: AttributedBy,
}

impl Attribution {
    pub fn one(variation: Variation, by: AttributedBy) -> Attribution {
        Attribution {
            variations: vec![variation],
            by,
        }
    }

    pub fn inherent() -> Attribution {
        Attribution {
            variations: Vec::new(),
            by: AttributedBy::Inherent,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributedBy {
    /// Side A holds run A's value of the variation and side B run B's:
    /// certain.
    Canary,
    /// Reruns with subsets of the variations reproduce it exactly when
    /// these are varied.
    Bisect,
    /// The kind of difference points at the variation (records reordered
    /// while the file order varied), without proof.
    Likely,
    /// It differs even between two runs with nothing varied: randomness or
    /// scheduling inside the build.
    Inherent,
}

impl fmt::Display for Attribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by = match self.by {
            AttributedBy::Canary => "canary",
            AttributedBy::Bisect => "bisect",
            AttributedBy::Likely => "likely",
            AttributedBy::Inherent => "differs with nothing varied",
        };
        if self.variations.is_empty() {
            return f.write_str(by);
        }
        for (i, v) in self.variations.iter().enumerate() {
            if i > 0 {
                f.write_str(" + ")?;
            }
            f.write_str(v.name())?;
        }
        write!(f, " ({by})")
    }
}
