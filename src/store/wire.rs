//! The JSON audit report (schema version 2) as the store reads it back:
//! only the fields the history keeps. The report model itself only
//! serializes; this is its reading for import.

use serde::Deserialize;

use super::RunContext;

#[derive(Debug, Deserialize)]
pub(crate) struct WireReport {
    pub verdict: String,
    pub tool: WireTool,
    #[serde(default)]
    pub artifacts: Vec<WireArtifact>,
    #[serde(default)]
    pub findings: Vec<WireFinding>,
    pub summary: WireSummary,
    pub audit: WireAudit,
    #[serde(default)]
    pub context: Option<RunContext>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireTool {
    pub version: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireSummary {
    pub findings: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireArtifact {
    pub artifact: WireName,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub a: Option<WireFacts>,
    #[serde(default)]
    pub b: Option<WireFacts>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireFacts {
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub digest: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireFinding {
    pub artifact: WireName,
    pub cause: serde_json::Map<String, serde_json::Value>,
    pub hint: String,
    pub fingerprint: String,
    #[serde(default)]
    pub variation: Option<WireAttribution>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireAttribution {
    pub variations: Vec<String>,
    pub by: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireAudit {
    pub source: WireName,
    pub command: Vec<WireName>,
    #[serde(default)]
    pub variations: Vec<WireVariation>,
    #[serde(default)]
    pub runs: Vec<WireRun>,
    #[serde(default)]
    pub bisect: Option<WireBisect>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireRun {
    pub seconds: f64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireBisect {
    pub builds: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireVariation {
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub reasons: Vec<WireReason>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireReason {
    pub kind: String,
}

/// A path or excerpt: a plain string, `{"text": …}`, or `{"hex": …}` for
/// bytes that are not UTF-8.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum WireName {
    Plain(String),
    Text { text: String },
    Hex { hex: String },
}

impl WireName {
    /// As stored: the text, or `hex:…` for bytes that are not UTF-8.
    pub fn into_string(self) -> String {
        match self {
            WireName::Plain(s) | WireName::Text { text: s } => s,
            WireName::Hex { hex } => format!("hex:{hex}"),
        }
    }
}

impl WireFinding {
    /// The attribution as the report's summary names it.
    pub fn variation_key(&self) -> String {
        match &self.variation {
            Some(v) if v.variations.is_empty() => "nothing varied".to_owned(),
            Some(v) => v.variations.join(" + "),
            None if self.cause.get("kind").and_then(|k| k.as_str()) == Some("consequence") => {
                "consequences".to_owned()
            }
            None => "unattributed".to_owned(),
        }
    }
}
