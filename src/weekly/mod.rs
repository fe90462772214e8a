//! `twice report`: the determinism report of a period, its model built
//! once from the history ([`build`]), then rendered as a self-contained
//! HTML page with SVG charts, as compact Markdown, or as JSON; and the
//! `twice history` views (`list`, `show`). Renderers read only the model.

mod build;
mod charts;
mod html;
mod markdown;
mod model;
mod views;

pub use build::{ALL_TARGETS, WeeklyOptions, build};
pub use html::render_html;
pub use markdown::render_markdown;
pub use model::*;
pub use views::{render_run, render_run_json, render_run_list, render_run_list_json};

/// `0.5` as `50%`; no runs as `–`.
pub(crate) fn percent(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{:.0}%", r * 100.0),
        None => "–".to_owned(),
    }
}

/// A change in percentage points: `+5 pp`, `−3 pp`, `±0 pp`.
pub(crate) fn points(change: Option<f64>) -> String {
    match change {
        Some(c) if c.round() > 0.0 => format!("+{:.0} pp", c),
        Some(c) if c.round() < 0.0 => format!("−{:.0} pp", -c),
        Some(_) => "±0 pp".to_owned(),
        None => "–".to_owned(),
    }
}

pub(crate) use crate::report::human_bytes as bytes;

/// The first 10 characters of a commit.
pub(crate) fn short(commit: Option<&str>) -> String {
    commit.map_or_else(|| "–".to_owned(), |c| c.chars().take(10).collect())
}

/// A run's status in words.
pub(crate) fn status_word(status: &str) -> &str {
    match status {
        "identical" => "reproducible",
        "differs" => "not reproducible",
        "incomplete" => "incomplete",
        other => other,
    }
}

/// `2026-01-05T10:00:00Z` as `2026-01-05 10:00`.
pub(crate) fn when(time: &str) -> String {
    time.get(..16)
        .map_or_else(|| time.to_owned(), |t| t.replace('T', " "))
}
