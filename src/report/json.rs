//! JSON: the report model as is, versioned by `schema_version`.

use std::io::Write;

use super::Report;

pub fn render_json(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}
