//! SARIF 2.1.0 for code scanning (GitHub's `upload-sarif`, GitLab, Azure
//! DevOps), written with our own small serde structs: the subset of the
//! schema that `twice` fills, nothing generated.
//!
//! Shape (FIELD-NOTES "CI conventions"):
//! - one run for all the reports rendered together (one per target of
//!   `twice audit --all`), so any number of targets stays within GitHub's
//!   20 runs per upload; each report is one `invocation`, each result names
//!   its target in its properties;
//! - one rule per cause (`twice/timestamp`, `twice/build_path`, …), its
//!   help text the fix hints, default level `error`;
//! - one result per root finding. Consequences (offsets shifted by a longer
//!   path, a build-id over changed bytes) are folded into their root's
//!   result (`properties.consequences`), not results of their own: they go
//!   away when the root is fixed, and as results they would bury the roots
//!   under GitHub's display limits. A consequence with no root found is a
//!   result, since nothing else stands for it;
//! - `partialFingerprints` from the finding fingerprints (independent of
//!   paths, dates and offsets), so alerts de-duplicate across runs;
//! - with a baseline, `baselineState`: `new` (level `error`), `unchanged`
//!   (level `warning`, with an external suppression naming the baseline
//!   file), and `absent` (level `note`) for accepted findings that no
//!   longer occur;
//! - every result has a location whose URI is the top-level artifact,
//!   relative to the repository (to the audited source tree; for `twice
//!   diff`, to the compared trees), with a `region` where the offset is in
//!   that file (bytes, fields, lines) and else the whole file (members of
//!   archives have their offsets in the member), logical locations for the
//!   archive member, section and field, and the problem's source lines as
//!   related locations (GitHub shows them where the message links them);
//! - at most [`MAX_RESULTS`] results, the most important first; how many
//!   were left out is in the run's properties.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use serde::Serialize;

use super::Report;
use super::ci::{self, Indexed, Item};
use crate::finding::{BaselineState, Finding, Location, Text};

/// GitHub keeps 25,000 results per run and shows the top 5,000: keep those.
pub const MAX_RESULTS: usize = 5_000;

/// Consequences listed in a result's properties (all are counted).
const LISTED_CONSEQUENCES: usize = 20;

/// Source lines of a problem attached to each of its results.
const LISTED_SOURCES: usize = 5;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const FINGERPRINT_KEY: &str = "twiceFingerprint/v1";
const SRCROOT: &str = "%SRCROOT%";

/// Render the reports as one SARIF 2.1.0 log with one run.
pub fn render_sarif(reports: &[Report], out: &mut dyn Write) -> io::Result<()> {
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![run(reports)],
    };
    serde_json::to_writer_pretty(&mut *out, &log)?;
    out.write_all(b"\n")
}

fn run(reports: &[Report]) -> Run {
    let indexed = ci::index(reports);
    let ranked = ci::ranked(&indexed);
    let fixed: Vec<(&Indexed, &super::BaselineEntry)> = indexed
        .iter()
        .flat_map(|at| at.fixed().iter().map(move |e| (at, e)))
        .collect();
    let total = ranked.len() + fixed.len();
    let kept_findings = ranked.len().min(MAX_RESULTS);
    let kept_fixed = fixed.len().min(MAX_RESULTS - kept_findings);

    let mut rules = Rules::default();
    let mut results: Vec<SarifResult> = ranked
        .iter()
        .take(kept_findings)
        .map(|item| finding_result(item, &mut rules))
        .collect();
    results.extend(
        fixed
            .iter()
            .take(kept_fixed)
            .map(|(at, entry)| fixed_result(at, entry, &mut rules)),
    );
    // Rule indexes follow first use; sort the rules by id and renumber so
    // the output does not depend on which result came first.
    let (rules, renumber) = rules.finish();
    for r in &mut results {
        r.rule_index = renumber[r.rule_index];
    }

    Run {
        tool: Tool {
            driver: Driver {
                name: "twice",
                version: super::ToolInfo::this().version,
                semantic_version: super::ToolInfo::this().version,
                rules,
            },
        },
        invocations: indexed.iter().map(invocation).collect(),
        results,
        properties: RunProperties {
            results_total: total,
            results_dropped: total - kept_findings - kept_fixed,
            result_limit: MAX_RESULTS,
        },
    }
}

fn finding_result(item: &Item<'_, '_>, rules: &mut Rules) -> SarifResult {
    let (at, f) = (item.at, item.finding);
    let rule = rules.index_of(f.cause.name(), Some(f.hint));
    let consequences = at.consequences(f);
    let sources: Vec<&super::SourceRef> = item
        .problem
        .map(|(_, p)| p.sources.iter().take(LISTED_SOURCES).collect())
        .unwrap_or_default();
    let mut text = format!(
        "{} differs between the builds: {}",
        f.artifact,
        ci::describe(f)
    );
    if let Some(v) = &f.variation {
        text.push_str(&format!(" (varied: {v})"));
    }
    if !consequences.is_empty() {
        text.push_str(&format!("; {}", ci::follow(consequences.len())));
    }
    let related: Vec<RelatedLocation> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| source_location(at, i + 1, s))
        .collect();
    if !related.is_empty() {
        let links: Vec<String> = sources
            .iter()
            .zip(&related)
            .map(|(s, r)| format!("[{}:{}]({})", link_text(&s.file), s.line, r.id))
            .collect();
        text.push_str(&format!("; from {}", links.join(", ")));
    }
    text.push('.');
    let (level, baseline_state, suppressions) = match (f.baseline, &at.report.baseline) {
        (Some(BaselineState::Known), Some(b)) => (
            "warning",
            Some("unchanged"),
            Some(vec![Suppression {
                kind: "external",
                status: "accepted",
                justification: format!("accepted in the baseline {}", b.path.lossy()),
            }]),
        ),
        (Some(BaselineState::Known), None) => ("warning", Some("unchanged"), None),
        (Some(BaselineState::New), _) => ("error", Some("new"), None),
        (None, _) => ("error", None, None),
    };
    SarifResult {
        rule_id: rule_id(f.cause.name()),
        rule_index: rule,
        level,
        message: Message { text },
        locations: vec![artifact_location(at, f)],
        related_locations: related,
        partial_fingerprints: fingerprint(at, &f.fingerprint.to_string()),
        baseline_state,
        suppressions,
        properties: ResultProperties {
            target: at.target().map(str::to_owned),
            problem: item.problem.map(|(_, p)| p.id.to_string()),
            attribution: f.variation.as_ref().map(ToString::to_string),
            consequences: consequences.len(),
            consequence_list: consequences
                .iter()
                .take(LISTED_CONSEQUENCES)
                .map(|c| ci::describe_at(c))
                .collect(),
            fix: Some(f.hint),
        },
    }
}

fn fixed_result(at: &Indexed<'_>, e: &super::BaselineEntry, rules: &mut Rules) -> SarifResult {
    let rule = rules.index_of(&e.cause, None);
    let path = at.path(ci::entry_top(e).as_bytes());
    let text = format!(
        "{} no longer differs ({}: {}): it is fixed; `twice baseline update` removes it from the baseline.",
        e.artifact, e.cause, e.evidence
    );
    SarifResult {
        rule_id: rule_id(&e.cause),
        rule_index: rule,
        level: "note",
        message: Message {
            text: printable(&text),
        },
        locations: vec![SarifLocation {
            physical_location: physical(&path, None),
            logical_locations: Vec::new(),
        }],
        related_locations: Vec::new(),
        partial_fingerprints: fingerprint(at, &e.fingerprint),
        baseline_state: Some("absent"),
        suppressions: None,
        properties: ResultProperties {
            target: at.target().map(str::to_owned),
            problem: None,
            attribution: None,
            consequences: 0,
            consequence_list: Vec::new(),
            fix: None,
        },
    }
}

fn printable(s: &str) -> String {
    crate::finding::printable(s).into_owned()
}

/// The fingerprint, with the target when there is one: the same artifact
/// audited by two targets is two alerts.
fn fingerprint(at: &Indexed<'_>, fp: &str) -> BTreeMap<&'static str, String> {
    let value = match at.target() {
        Some(t) => format!("{t}:{fp}"),
        None => fp.to_owned(),
    };
    BTreeMap::from([(FINGERPRINT_KEY, value)])
}

fn rule_id(cause: &str) -> String {
    format!("twice/{cause}")
}

/// The location of a finding: the top-level file, a region where the
/// finding's offsets are offsets in that file, and the logical place.
fn artifact_location(at: &Indexed<'_>, f: &Finding) -> SarifLocation {
    let path = at.path(&f.artifact.first().0);
    // Offsets of members are offsets in the member: for them, and for
    // findings about the file as a whole, the region is the whole file.
    let region = (f.artifact.depth() == 0)
        .then(|| region(&f.location))
        .flatten()
        .or_else(|| {
            at.size(&f.artifact.top()).map(|len| Region {
                byte_offset: Some(0),
                byte_length: Some(len),
                ..Region::default()
            })
        });
    SarifLocation {
        physical_location: physical(&path, region),
        logical_locations: logical(f).into_iter().collect(),
    }
}

fn region(loc: &Location) -> Option<Region> {
    match loc {
        Location::Bytes { a, .. } => Some(Region {
            byte_offset: Some(a.at),
            byte_length: Some(a.len),
            ..Region::default()
        }),
        Location::Field { at: Some(at), .. } => Some(Region {
            byte_offset: Some(*at),
            ..Region::default()
        }),
        Location::Lines { a, .. } if a.start >= 1 => Some(Region {
            start_line: Some(a.start),
            end_line: (a.count > 1).then(|| a.start + a.count - 1),
            ..Region::default()
        }),
        _ => None,
    }
}

/// The archive members, then the fields of the location, innermost last.
fn logical(f: &Finding) -> Option<LogicalLocation> {
    let mut parts: Vec<(String, &'static str)> = Vec::new();
    let joined = f.artifact.joined();
    for seg in joined.split(|&c| c == b'!').skip(1) {
        parts.push((Text::new(seg).lossy().into_owned(), "module"));
    }
    match &f.location {
        Location::Field { path, .. } => {
            for p in path {
                let kind = if p.starts_with("DW_AT_") {
                    "attribute"
                } else if p.starts_with("section ") {
                    "section"
                } else {
                    "element"
                };
                parts.push((printable(p), kind));
            }
        }
        Location::Metadata { field } => parts.push((field.to_string(), "attribute")),
        _ => {}
    }
    let (name, kind) = parts.last()?.clone();
    let mut full = f.artifact.first().lossy().into_owned();
    for (p, _) in &parts {
        full.push_str(" > ");
        full.push_str(p);
    }
    Some(LogicalLocation {
        name,
        fully_qualified_name: full,
        kind,
    })
}

fn source_location(at: &Indexed<'_>, id: usize, s: &super::SourceRef) -> RelatedLocation {
    let certainty = match s.certainty {
        super::Certainty::Certain => "source",
        super::Certainty::Likely => "likely source",
    };
    let region = Region {
        start_line: (s.line >= 1).then_some(s.line),
        ..Region::default()
    };
    let region = region.start_line.is_some().then_some(region);
    let physical_location = if s.file.0.starts_with(b"/") {
        PhysicalLocation {
            artifact_location: ArtifactLocation {
                uri: format!("file://{}", encode_uri(&s.file.0)),
                uri_base_id: None,
            },
            region,
        }
    } else {
        physical(&at.path(&s.file.0), region)
    };
    RelatedLocation {
        id,
        physical_location,
        message: Message {
            text: format!("{certainty}: {}", s.text.lossy()),
        },
    }
}

fn physical(path: &[u8], region: Option<Region>) -> PhysicalLocation {
    PhysicalLocation {
        artifact_location: ArtifactLocation {
            uri: encode_uri(path),
            uri_base_id: Some(SRCROOT),
        },
        region,
    }
}

/// A relative path as a URI reference (RFC 3986): every byte but the
/// unreserved characters and `/` percent-encoded, so spaces, `:`, `#`, `%`
/// and non-UTF-8 bytes survive.
fn encode_uri(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A path as the text of a Markdown-style link in a SARIF message:
/// brackets escaped (SARIF 3.11.6).
fn link_text(t: &Text) -> String {
    t.lossy().replace('[', "\\[").replace(']', "\\]")
}

fn invocation(at: &Indexed<'_>) -> Invocation {
    let r = at.report;
    let mut notes: Vec<Notification> = r
        .unreadable
        .iter()
        .map(|u| Notification {
            level: "error",
            message: Message {
                text: format!(
                    "could not read {} on side {}: {}",
                    u.path.lossy(),
                    u.side,
                    printable(&u.reason)
                ),
            },
        })
        .collect();
    if let Some(info) = &r.audit {
        notes.extend(info.warnings.iter().map(|w| Notification {
            level: "warning",
            message: Message {
                text: w.to_string(),
            },
        }));
    }
    Invocation {
        execution_successful: r.verdict() != super::Verdict::Incomplete,
        exit_code: r.verdict().exit_code(),
        tool_execution_notifications: notes,
        properties: InvocationProperties {
            target: at.target().map(str::to_owned),
            name: at.label(),
            command: r.envelope.command.name(),
            verdict: r.verdict(),
            findings: r.summary.findings,
            problems: r.summary.problems,
            new: r.baseline.as_ref().map(|b| b.new),
            known: r.baseline.as_ref().map(|b| b.known),
            fixed: r.baseline.as_ref().map(|b| b.fixed.len()),
        },
    }
}

/// The rules used, in order of first use, and the fix hints seen for each.
#[derive(Default)]
struct Rules {
    order: Vec<String>,
    hints: BTreeMap<String, BTreeSet<&'static str>>,
}

impl Rules {
    fn index_of(&mut self, cause: &str, hint: Option<&'static str>) -> usize {
        let i = match self.order.iter().position(|c| c == cause) {
            Some(i) => i,
            None => {
                self.order.push(cause.to_owned());
                self.order.len() - 1
            }
        };
        let hints = self.hints.entry(cause.to_owned()).or_default();
        hints.extend(hint);
        i
    }

    /// The rules sorted by id, and the new index of each old one.
    fn finish(self) -> (Vec<Rule>, Vec<usize>) {
        let mut sorted: Vec<&String> = self.order.iter().collect();
        sorted.sort();
        let renumber = self
            .order
            .iter()
            .map(|c| sorted.iter().position(|s| *s == c).expect("a used rule"))
            .collect();
        let rules = sorted
            .into_iter()
            .map(|cause| {
                let hints: Vec<&str> = self
                    .hints
                    .get(cause)
                    .map(|h| h.iter().copied().collect())
                    .unwrap_or_default();
                rule(cause, &hints)
            })
            .collect();
        (rules, renumber)
    }
}

fn rule(cause: &str, hints: &[&str]) -> Rule {
    let summary = describe_cause(cause);
    let help = if hints.is_empty() {
        format!("{summary}. Compare the two builds' outputs with `twice diff`.")
    } else {
        hints.join("\n\n")
    };
    Rule {
        id: rule_id(cause),
        name: cause
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect(),
        short_description: Message {
            text: format!("{summary}."),
        },
        full_description: Message {
            text: format!(
                "{summary}. A build output that differs between two builds of the same sources \
                 misses content-addressed caches and is rebuilt downstream."
            ),
        },
        help: Message { text: help },
        default_configuration: Configuration { level: "error" },
        properties: RuleProperties {
            tags: ["reproducibility", "non-determinism"],
            precision: "high",
        },
    }
}

/// What each cause means, for a rule's description. Unknown names (from a
/// newer baseline file) get a generic one.
fn describe_cause(cause: &str) -> &'static str {
    match cause {
        "timestamp" => "The build embeds a clock reading",
        "build_path" => "The build embeds the absolute build directory",
        "ordering" => "The build writes the same records in another order",
        "only_in" => "An output exists in one build only",
        "file_type" => "An output is a file in one build and not in the other",
        "executable_bit" => "The executable bit of an output differs",
        "symlink_target" => "A symlink points at different targets",
        "metadata" => "File-system metadata of an output differs",
        "unknown" => "Output bytes differ and no detector explains them",
        "consequence" => "A difference that follows from an unexplained change",
        "unparsed" => "An output could not be parsed; its bytes differ",
        "limit" => "A comparison limit was reached inside a differing output",
        "environment" => "The build embeds a value of the build machine's environment",
        "compressor" => "Archive members compress differently with equal content",
        "marshal_refs" => "Marshalled Python values are encoded differently",
        "hash_order" => "Set or dict elements follow the hash seed's order",
        "permissions" => "Permission bits of archive members differ",
        "suspicious" => "An archive structure that extracting tools may mishandle",
        "toolchain" => "The compiler, linker or their flags differ",
        "build_id_only" => "Only the GNU build-id differs",
        "archive_header" => "ar member headers carry dates, owners or modes",
        "random_seed" => "Names embed a per-compilation random value",
        _ => "Build outputs differ between two builds",
    }
}

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize)]
struct Run {
    tool: Tool,
    invocations: Vec<Invocation>,
    results: Vec<SarifResult>,
    properties: RunProperties,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProperties {
    /// Results before the limit.
    results_total: usize,
    results_dropped: usize,
    result_limit: usize,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    name: String,
    short_description: Message,
    full_description: Message,
    help: Message,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: [&'static str; 2],
    precision: &'static str,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Message {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    exit_code: u8,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
    properties: InvocationProperties,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Message,
}

#[derive(Serialize)]
struct InvocationProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    name: String,
    command: &'static str,
    verdict: super::Verdict,
    findings: u64,
    problems: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    new: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    known: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixed: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Message,
    locations: Vec<SarifLocation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<RelatedLocation>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressions: Option<Vec<Suppression>>,
    properties: ResultProperties,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attribution: Option<String>,
    consequences: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    consequence_list: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<&'static str>,
}

#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    status: &'static str,
    justification: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RelatedLocation {
    id: usize,
    physical_location: PhysicalLocation,
    message: Message,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    #[serde(skip_serializing_if = "Option::is_none")]
    start_line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    byte_offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    byte_length: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    name: String,
    fully_qualified_name: String,
    kind: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_percent_encode_all_but_unreserved() {
        assert_eq!(encode_uri(b"dist/a b#1:%.whl"), "dist/a%20b%231%3A%25.whl");
        assert_eq!(encode_uri(b"x/\xff~_-."), "x/%FF~_-.");
    }

    #[test]
    fn rule_names_are_pascal_case() {
        assert_eq!(rule("build_path", &[]).name, "BuildPath");
        assert_eq!(rule("timestamp", &["h"]).help.text, "h");
    }
}
