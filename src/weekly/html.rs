//! The report as one self-contained HTML page: inline style, inline SVG
//! charts, an optional inline script that sorts tables on a click. Nothing
//! is fetched (no fonts, scripts, styles or images from elsewhere), every
//! table is plain HTML readable without the script, and the colours follow
//! the reader's light or dark scheme.
//!
//! Hand-written rather than templated: every piece of text from the
//! history goes through [`esc`], which is the only way text reaches the
//! page.

use std::fmt::Write as _;
use std::io::Write;

use super::charts::{causes_svg, series_colour, trend_svg};
use super::model::{FindingEntry, Listed, RunPoint, WeeklyReport};
use super::{bytes, percent, points, short, status_word, when};

/// Rows of a findings list shown open; the rest of the list is folded.
const VISIBLE_ROWS: usize = 10;

/// Causes drawn in the bar chart (the table lists all).
const CAUSES_CHARTED: usize = 10;

const STYLE: &str = r#"
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --card: #f6f8fa; --good: #1a7f37; --bad: #cf222e; --accent: #0969da; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --card: #151b23;
    --good: #3fb950; --bad: #f85149; --accent: #4493f8; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1180px; padding: 20px 16px 40px; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h2 .count { color: var(--muted); font-weight: normal; }
p.period, p.note, .muted { color: var(--muted); }
p.note { margin: 4px 0 8px; font-size: 0.9rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(165px, 1fr)); gap: 10px; margin-top: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .big { font-size: 1.7rem; font-weight: 650; line-height: 1.2; font-variant-numeric: tabular-nums; }
.card .what { font-size: 0.9rem; }
.card .delta { font-size: 0.85rem; color: var(--muted); }
.up { color: var(--good); } .down { color: var(--bad); }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top;
  white-space: nowrap; }
th { font-weight: 600; }
td.wrap { white-space: normal; min-width: 12rem; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.hint { white-space: normal; min-width: 16rem; color: var(--muted); }
code { font: 0.85em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
.status-identical { color: var(--good); } .status-differs, .status-failed, .status-incomplete { color: var(--bad); }
figure.chart { margin: 8px 0; max-width: 700px; }
figure.chart svg { display: block; width: 100%; height: auto; color: var(--fg); }
ul.legend { list-style: none; padding: 0; margin: 4px 0 0; display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 0.9rem; }
ul.legend .swatch { display: inline-block; width: 14px; height: 4px; margin-right: 6px; vertical-align: middle; border-radius: 2px; }
details { margin-top: 8px; } summary { cursor: pointer; color: var(--accent); }
th[data-sort] { cursor: pointer; } th[data-sort]:hover { color: var(--accent); }
footer { margin-top: 40px; font-size: 0.85rem; color: var(--muted); }
@media (max-width: 600px) { body { padding: 12px 10px 32px; } h1 { font-size: 1.35rem; }
  .card .big { font-size: 1.4rem; } th, td { padding: 5px 6px; }
  figure.chart { overflow-x: auto; } figure.chart svg { min-width: 500px; } }
"#;

/// Sorts a table by the clicked column (numbers by `data-v`); the page
/// reads the same without it.
const SCRIPT: &str = r#"
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.setAttribute("data-sort", "");
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0], i = th.cellIndex;
    var dir = th.getAttribute("data-dir") === "asc" ? -1 : 1;
    th.setAttribute("data-dir", dir === 1 ? "asc" : "desc");
    var key = function (row) {
      var c = row.cells[i], v = c.hasAttribute("data-v") ? c.getAttribute("data-v") : c.textContent;
      var n = parseFloat(v);
      return isNaN(n) || !c.hasAttribute("data-v") ? v.toLowerCase() : n;
    };
    Array.prototype.slice.call(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b);
      return (x > y ? 1 : x < y ? -1 : 0) * dir;
    }).forEach(function (row) { body.appendChild(row); });
  });
});
"#;

/// Text for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A table under construction: header cells, then rows of cells.
struct Tab {
    html: String,
}

impl Tab {
    fn new(class: &str, headers: &[(&str, bool)]) -> Tab {
        let mut html = format!("<div class=\"scroll\"><table class=\"{class}\"><thead><tr>");
        for (h, num) in headers {
            let _ = write!(
                html,
                "<th{}>{}</th>",
                if *num { " class=\"num\"" } else { "" },
                esc(h)
            );
        }
        html.push_str("</tr></thead><tbody>");
        Tab { html }
    }

    fn row(&mut self, cells: &[Cell]) {
        self.html.push_str("<tr>");
        for c in cells {
            self.html.push_str(&c.0);
        }
        self.html.push_str("</tr>");
    }

    fn end(mut self) -> String {
        self.html.push_str("</tbody></table></div>");
        self.html
    }
}

/// One `<td>`, its content already escaped.
struct Cell(String);

fn text(t: &str) -> Cell {
    Cell(format!("<td>{}</td>", esc(t)))
}

fn code(t: &str) -> Cell {
    Cell(format!("<td><code>{}</code></td>", esc(t)))
}

fn hint(t: &str) -> Cell {
    Cell(format!("<td class=\"hint\">{}</td>", esc(t)))
}

/// A number cell shown as `shown`, sorted by `value`.
fn num(value: f64, shown: &str) -> Cell {
    Cell(format!(
        "<td class=\"num\" data-v=\"{value}\">{}</td>",
        esc(shown)
    ))
}

fn count(n: u64) -> Cell {
    num(n as f64, &n.to_string())
}

fn status(s: &str) -> Cell {
    Cell(format!(
        "<td class=\"status-{}\">{}</td>",
        esc(s),
        esc(status_word(s))
    ))
}

fn run_point(p: Option<&RunPoint>) -> String {
    match p {
        Some(p) => format!(
            "run {} <code>{}</code> {}",
            p.run,
            esc(&short(p.commit.as_deref())),
            esc(&when(&p.started_at))
        ),
        None => "–".to_owned(),
    }
}

fn delta_class(change: Option<f64>) -> &'static str {
    match change {
        Some(c) if c.round() > 0.0 => "up",
        Some(c) if c.round() < 0.0 => "down",
        _ => "",
    }
}

pub fn render_html(r: &WeeklyReport, out: &mut dyn Write) -> std::io::Result<()> {
    let mut s = String::with_capacity(64 * 1024);
    let day = |t: &str| t.get(..10).unwrap_or(t).to_owned();
    let title = format!(
        "Determinism report {} – {}",
        day(&r.period.since),
        day(&r.period.until)
    );
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n<title>{}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    let _ = write!(
        s,
        "<header><h1>Determinism report</h1><p class=\"period\">{} – {} ({:.0} days, UTC), \
         compared with the {:.0} days before",
        esc(&when(&r.period.since)),
        esc(&when(&r.period.until)),
        r.period.days,
        r.previous.days
    );
    if !r.targets_filter.is_empty() {
        let _ = write!(s, " · targets: {}", esc(&r.targets_filter.join(", ")));
    }
    s.push_str("</p></header>\n");
    cards(r, &mut s);
    broken(r, &mut s);
    trend(r, &mut s);
    targets(r, &mut s);
    findings(
        &mut s,
        "new",
        "New findings",
        "first seen in this period",
        &r.new_findings,
        ("first seen", |f| run_point(f.first_run.as_ref())),
    );
    findings(
        &mut s,
        "fixed",
        "Fixed findings",
        "seen in the previous period, in no run of this one",
        &r.fixed_findings,
        ("last bad → first good", |f| {
            format!(
                "{}<br>→ {}",
                run_point(f.last_bad.as_ref()),
                run_point(f.first_good.as_ref())
            )
        }),
    );
    findings(
        &mut s,
        "flaky",
        "Flaky findings",
        "present in some runs and absent in others of one target at one clean commit",
        &r.flaky_findings,
        ("came and went", |f| {
            f.flaky.map_or_else(String::new, |k| {
                format!(
                    "in {} of {} runs at {} commit(s)",
                    k.runs_with, k.runs_at_commits, k.commits
                )
            })
        }),
    );
    causes(r, &mut s);
    audits(r, &mut s);
    cost(r, &mut s);
    let _ = write!(
        s,
        "<footer>{} {} · report schema {} · period {} – {}</footer>\n<script>{SCRIPT}</script>\n\
         </body>\n</html>\n",
        esc(r.tool.name),
        esc(r.tool.version),
        r.schema_version,
        esc(&r.period.since),
        esc(&r.period.until)
    );
    out.write_all(s.as_bytes())
}

fn cards(r: &WeeklyReport, s: &mut String) {
    let o = &r.overall.counts;
    s.push_str("<section class=\"cards\" aria-label=\"Summary\">");
    let mut card = |big: String, what: &str, delta: String, class: &str| {
        let _ = write!(
            s,
            "<div class=\"card\"><div class=\"big\">{}</div><div class=\"what\">{}</div>\
             <div class=\"delta {class}\">{}</div></div>",
            esc(&big),
            esc(what),
            esc(&delta)
        );
    };
    card(
        percent(o.rate),
        "of audits reproducible",
        format!(
            "{} vs previous period ({})",
            points(o.change_points),
            percent(o.previous_rate)
        ),
        delta_class(o.change_points),
    );
    card(
        format!("{} / {}", r.overall.targets_reproducible, r.overall.targets),
        "targets reproducible now",
        "by their latest completed audit".to_owned(),
        "",
    );
    card(
        o.runs.to_string(),
        "audits",
        format!("{} completed, {} failed", o.completed, o.failed),
        "",
    );
    card(
        r.new_findings.total.to_string(),
        "new findings",
        format!(
            "{} fixed · {} flaky",
            r.fixed_findings.total, r.flaky_findings.total
        ),
        "",
    );
    card(
        bytes(r.cache_cost.total_bytes),
        "stored again by caches",
        "output bytes that differed".to_owned(),
        "",
    );
    s.push_str("</section>\n");
}

fn broken(r: &WeeklyReport, s: &mut String) {
    if r.broken.is_empty() {
        return;
    }
    let _ = write!(
        s,
        "<section id=\"broken\"><h2>Needs a look <span class=\"count\">{}</span></h2>\
         <p class=\"note\">Targets whose latest completed audit is not reproducible: look between \
         the last good and the first bad commit.</p>",
        r.broken.len()
    );
    let mut t = Tab::new(
        "sortable",
        &[
            ("target", false),
            ("last good", false),
            ("first bad", false),
            ("broken since", false),
        ],
    );
    for b in &r.broken {
        let since = if b.in_period {
            format!("{} (new)", when(&b.first_bad.started_at))
        } else {
            when(&b.first_bad.started_at)
        };
        t.row(&[
            code(&b.target),
            Cell(format!(
                "<td>{}</td>",
                match &b.last_good {
                    Some(g) => run_point(Some(g)),
                    None => "never reproducible".to_owned(),
                }
            )),
            Cell(format!("<td>{}</td>", run_point(Some(&b.first_bad)))),
            text(&since),
        ]);
    }
    s.push_str(&t.end());
    s.push_str("</section>\n");
}

fn trend(r: &WeeklyReport, s: &mut String) {
    let tr = &r.trend;
    let unit = if tr.bucket_seconds > 86_400 {
        "week"
    } else {
        "day"
    };
    let _ = write!(
        s,
        "<section id=\"trend\"><h2>Reproducibility per {unit}</h2>\
         <p class=\"note\">Share of completed audits whose outputs were identical; a dot per {unit} \
         with audits. Drawn: all targets, and the targets whose reproducibility moved most.</p>"
    );
    if let Some(svg) = trend_svg(tr) {
        let _ = write!(
            s,
            "<figure class=\"chart\" id=\"trend-chart\" role=\"img\" aria-label=\"Reproducibility \
             per {unit}\">{svg}</figure>"
        );
    }
    s.push_str("<ul class=\"legend\">");
    for (i, name) in tr.charted.iter().enumerate() {
        let _ = write!(
            s,
            "<li><span class=\"swatch\" style=\"background:{}\"></span>{}</li>",
            series_colour(i),
            esc(name)
        );
    }
    s.push_str("</ul><details><summary>The numbers</summary>");
    let mut headers: Vec<(&str, bool)> = vec![("target", false)];
    let days: Vec<String> = tr
        .buckets
        .iter()
        .map(|d| d.get(5..).unwrap_or(d).to_owned())
        .collect();
    headers.extend(days.iter().map(|d| (d.as_str(), true)));
    let mut t = Tab::new("trend", &headers);
    for series in &tr.series {
        let mut cells = vec![code(&series.target)];
        for b in 0..tr.buckets.len() {
            cells.push(match series.points.iter().find(|p| p.bucket == b) {
                Some(p) => num(
                    p.rate,
                    &format!(
                        "{} ({}/{})",
                        percent(Some(p.rate)),
                        p.reproducible,
                        p.completed
                    ),
                ),
                None => text(""),
            });
        }
        t.row(&cells);
    }
    s.push_str(&t.end());
    s.push_str("</details></section>\n");
}

fn targets(r: &WeeklyReport, s: &mut String) {
    let _ = write!(
        s,
        "<section id=\"targets\"><h2>Targets <span class=\"count\">{}</span></h2>",
        r.targets.len()
    );
    if r.targets.is_empty() {
        s.push_str("<p class=\"note\">No audits in this period.</p></section>\n");
        return;
    }
    let mut t = Tab::new(
        "sortable",
        &[
            ("target", false),
            ("audits", true),
            ("reproducible", true),
            ("change", true),
            ("failed", true),
            ("latest", false),
            ("cache cost", true),
        ],
    );
    for x in &r.targets {
        t.row(&[
            code(&x.target),
            count(x.counts.runs),
            num(x.counts.rate.unwrap_or(-1.0), &percent(x.counts.rate)),
            Cell(format!(
                "<td class=\"num {}\" data-v=\"{}\">{}</td>",
                delta_class(x.counts.change_points),
                x.counts.change_points.unwrap_or(0.0),
                esc(&points(x.counts.change_points))
            )),
            count(x.counts.failed),
            match &x.latest {
                Some(l) => status(l),
                None => text("–"),
            },
            num(x.bytes_changed as f64, &bytes(x.bytes_changed)),
        ]);
    }
    s.push_str(&t.end());
    s.push_str("</section>\n");
}

fn findings(
    s: &mut String,
    id: &str,
    title: &str,
    note: &str,
    list: &Listed<FindingEntry>,
    (last_header, last): (&str, fn(&FindingEntry) -> String),
) {
    let _ = write!(
        s,
        "<section id=\"{id}\"><h2>{} <span class=\"count\">{}</span></h2><p class=\"note\">{}",
        esc(title),
        list.total,
        esc(note)
    );
    if list.total > list.shown.len() as u64 {
        let _ = write!(s, "; the first {} are listed", list.shown.len());
    }
    s.push_str(".</p>");
    if list.shown.is_empty() {
        s.push_str("</section>\n");
        return;
    }
    let headers = [
        ("target", false),
        ("artifact", false),
        ("cause", false),
        ("triggered by", false),
        ("runs", true),
        (last_header, false),
    ];
    let (first, rest) = list.shown.split_at(list.shown.len().min(VISIBLE_ROWS));
    s.push_str(&finding_table(&headers, first, last));
    if !rest.is_empty() {
        let _ = write!(
            s,
            "<details><summary>{} more</summary>{}</details>",
            rest.len(),
            finding_table(&headers, rest, last)
        );
    }
    s.push_str("</section>\n");
}

fn finding_table(
    headers: &[(&str, bool)],
    rows: &[FindingEntry],
    last: fn(&FindingEntry) -> String,
) -> String {
    let mut t = Tab::new("sortable", headers);
    for f in rows {
        t.row(&[
            code(&f.target),
            code(&f.artifact),
            Cell(format!(
                "<td class=\"wrap\" title=\"{}\">{}</td>",
                esc(&f.hint),
                esc(&f.cause_text)
            )),
            text(f.variation.as_deref().unwrap_or("–")),
            count(f.runs_in_period),
            Cell(format!("<td>{}</td>", last(f))),
        ]);
    }
    t.end()
}

fn causes(r: &WeeklyReport, s: &mut String) {
    s.push_str(
        "<section id=\"causes\"><h2>Causes</h2><p class=\"note\">Ranked by the targets, then the \
         artifacts they affect in this period, with the fix for their most frequent finding.</p>",
    );
    if r.causes.is_empty() {
        s.push_str("<p class=\"note\">No findings in this period.</p></section>\n");
        return;
    }
    if let Some(svg) = causes_svg(&r.causes, CAUSES_CHARTED) {
        let _ = write!(
            s,
            "<figure class=\"chart\" id=\"causes-chart\" role=\"img\" aria-label=\"Artifacts \
             affected per cause\">{svg}</figure>"
        );
    }
    let mut t = Tab::new(
        "sortable",
        &[
            ("cause", false),
            ("targets", true),
            ("artifacts", true),
            ("findings", true),
            ("fix", false),
        ],
    );
    for c in &r.causes {
        t.row(&[
            text(&c.name.replace('_', " ")),
            count(c.targets),
            count(c.artifacts),
            count(c.occurrences),
            hint(&c.hint),
        ]);
    }
    s.push_str(&t.end());
    s.push_str(
        "<h2>Triggered by</h2><p class=\"note\">The variation each finding was pinned to.</p>",
    );
    let mut t = Tab::new(
        "sortable",
        &[
            ("variation", false),
            ("targets", true),
            ("artifacts", true),
            ("findings", true),
            ("fix", false),
        ],
    );
    for v in &r.variations {
        t.row(&[
            text(&v.name),
            count(v.targets),
            count(v.artifacts),
            count(v.occurrences),
            hint(&v.hint),
        ]);
    }
    s.push_str(&t.end());
    s.push_str("</section>\n");
}

fn audits(r: &WeeklyReport, s: &mut String) {
    if !r.slowest.is_empty() {
        s.push_str("<section id=\"slowest\"><h2>Slowest audits</h2>");
        let mut t = Tab::new(
            "sortable",
            &[
                ("run", true),
                ("target", false),
                ("started", false),
                ("seconds", true),
                ("result", false),
                ("commit", false),
            ],
        );
        for a in &r.slowest {
            t.row(&[
                num(a.run as f64, &a.run.to_string()),
                code(&a.target),
                text(&when(&a.started_at)),
                num(a.seconds, &format!("{:.1}", a.seconds)),
                status(&a.status),
                code(&short(a.commit.as_deref())),
            ]);
        }
        s.push_str(&t.end());
        s.push_str("</section>\n");
    }
    if !r.failing.is_empty() {
        s.push_str(
            "<section id=\"failing\"><h2>Most often failing</h2><p class=\"note\">Audits that \
             were not reproducible, or whose build failed.</p>",
        );
        let mut t = Tab::new(
            "sortable",
            &[
                ("target", false),
                ("audits", true),
                ("not reproducible", true),
                ("build failed", true),
            ],
        );
        for f in &r.failing {
            t.row(&[
                code(&f.target),
                count(f.runs),
                count(f.not_reproducible),
                count(f.failed),
            ]);
        }
        s.push_str(&t.end());
        s.push_str("</section>\n");
    }
}

fn cost(r: &WeeklyReport, s: &mut String) {
    let _ = write!(
        s,
        "<section id=\"cost\"><h2>Cache cost <span class=\"count\">{}</span></h2><p class=\"note\">\
         Output bytes that differed between builds that should have been identical: what a \
         content-addressed cache stored and shipped again, and every action keyed on them \
         rebuilt.</p>",
        esc(&bytes(r.cache_cost.total_bytes))
    );
    if !r.cache_cost.targets.is_empty() {
        let mut t = Tab::new(
            "sortable",
            &[
                ("target", false),
                ("bytes", true),
                ("completed audits", true),
                ("per audit", true),
            ],
        );
        for c in &r.cache_cost.targets {
            t.row(&[
                code(&c.target),
                num(c.bytes as f64, &bytes(c.bytes)),
                count(c.runs),
                num(c.bytes_per_run as f64, &bytes(c.bytes_per_run)),
            ]);
        }
        s.push_str(&t.end());
    }
    s.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert_eq!(esc("a\u{1b}b"), "a\\u{1b}b");
    }
}
