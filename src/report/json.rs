//! JSON: the report model as is, versioned by `schema_version`.

use std::io::Write;

/// Any report (`Report`, `ExeclogReport`) as pretty JSON.
pub fn render_json<R: serde::Serialize + ?Sized>(
    report: &R,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}
