//! The report's two SVG charts, drawn with plotters' SVG backend: no font
//! library (text stays `<text>` for the browser to set) and no bitmap.
//! Axes and labels are drawn in `currentColor`, so the page's colour
//! scheme (light or dark) colours them.

use plotters::prelude::*;

use super::model::{Ranked, Trend};

/// The colours of the charted targets, readable on light and dark.
pub const PALETTE: [&str; 7] = [
    "#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#9c755f", "#76b7b2",
];

/// Drawn in this colour, replaced by `currentColor` afterwards.
const INK: RGBColor = RGBColor(1, 2, 3);
const GRID: RGBColor = RGBColor(128, 128, 128);

fn rgb(hex: &str) -> RGBColor {
    let c = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("80"), 16).unwrap_or(128);
    RGBColor(c(1), c(3), c(5))
}

/// The colour of the `i`-th charted series (0: all targets, in ink).
pub fn series_colour(i: usize) -> &'static str {
    match i {
        0 => "currentColor",
        i => PALETTE[(i - 1) % PALETTE.len()],
    }
}

fn paint(i: usize) -> RGBColor {
    match i {
        0 => INK,
        i => rgb(PALETTE[(i - 1) % PALETTE.len()]),
    }
}

/// Plotters writes black as `#000000` and our ink as `#010203`.
fn finish(svg: String) -> String {
    svg.replace("#010203", "currentColor")
        .replace("#000000", "currentColor")
}

/// Reproducibility (0–100 %) per bucket, one line per charted series, a
/// dot per bucket with completed runs. `None` when plotters fails.
pub fn trend_svg(trend: &Trend) -> Option<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 300)).into_drawing_area();
        let n = trend.buckets.len().max(1);
        let labels = trend.buckets.clone();
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(52)
            .build_cartesian_2d(-0.4f64..(n as f64 - 0.6), 0f64..105.0)
            .ok()?;
        let label_every = n.div_ceil(7).max(1);
        chart
            .configure_mesh()
            .x_labels(n.min(60))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() > 0.01 || i < 0.0 {
                    return String::new();
                }
                let i = i as usize;
                match labels.get(i) {
                    Some(d) if i.is_multiple_of(label_every) => d.get(5..).unwrap_or(d).to_owned(),
                    _ => String::new(),
                }
            })
            .y_labels(6)
            .y_label_formatter(&|y| format!("{y:.0}%"))
            .label_style(("sans-serif", 15).into_font().color(&INK))
            .axis_style(INK.mix(0.6))
            .bold_line_style(GRID.mix(0.25))
            .light_line_style(TRANSPARENT)
            .disable_x_mesh()
            .draw()
            .ok()?;
        for (i, name) in trend.charted.iter().enumerate() {
            let Some(series) = trend.series.iter().find(|s| &s.target == name) else {
                continue;
            };
            let colour = paint(i);
            let width = if i == 0 { 3 } else { 2 };
            let xy: Vec<(f64, f64)> = series
                .points
                .iter()
                .map(|p| (p.bucket as f64, p.rate * 100.0))
                .collect();
            chart
                .draw_series(LineSeries::new(xy.clone(), colour.stroke_width(width)))
                .ok()?;
            chart
                .draw_series(xy.into_iter().map(|p| Circle::new(p, 4, colour.filled())))
                .ok()?;
        }
        root.present().ok()?;
    }
    Some(finish(svg))
}

/// Causes as horizontal bars: artifacts affected, the top `max` causes.
pub fn causes_svg(causes: &[Ranked], max: usize) -> Option<String> {
    let shown: Vec<&Ranked> = causes.iter().take(max).collect();
    if shown.is_empty() {
        return None;
    }
    let n = shown.len();
    let top = shown.iter().map(|c| c.artifacts).max().unwrap_or(1).max(1);
    let mut svg = String::new();
    {
        let height = 64 + 32 * n as u32;
        let root = SVGBackend::with_string(&mut svg, (640, height)).into_drawing_area();
        let names: Vec<String> = shown.iter().map(|c| c.name.replace('_', " ")).collect();
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(140)
            .build_cartesian_2d(0u64..top + top.div_ceil(10), (0..n).into_segmented())
            .ok()?;
        chart
            .configure_mesh()
            .y_labels(n)
            // The first cause at the top: row `i` is drawn at `n - 1 - i`.
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => n
                    .checked_sub(1 + *i)
                    .and_then(|k| names.get(k))
                    .cloned()
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc("artifacts affected")
            .axis_desc_style(("sans-serif", 14).into_font().color(&INK))
            .x_labels(6)
            .x_label_formatter(&|x| format!("{x}"))
            .label_style(("sans-serif", 15).into_font().color(&INK))
            .axis_style(INK.mix(0.6))
            .bold_line_style(GRID.mix(0.25))
            .light_line_style(TRANSPARENT)
            .disable_y_mesh()
            .draw()
            .ok()?;
        chart
            .draw_series(
                Histogram::horizontal(&chart)
                    .style(rgb(PALETTE[0]).filled())
                    .margin(6)
                    .data(
                        shown
                            .iter()
                            .enumerate()
                            .map(|(i, c)| (n - 1 - i, c.artifacts)),
                    ),
            )
            .ok()?;
        root.present().ok()?;
    }
    Some(finish(svg))
}
