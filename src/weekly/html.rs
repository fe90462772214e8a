//! The self-contained HTML page.
use std::io::Write;

use super::model::WeeklyReport;

pub fn render_html(_r: &WeeklyReport, _out: &mut dyn Write) -> std::io::Result<()> {
    Ok(())
}
