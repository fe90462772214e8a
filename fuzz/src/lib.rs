//! What the fuzz targets share: one fuzz input holds two contents, side A
//! and side B, as `len(A) as u32 LE | A | B`; small limits keep every run
//! short, so slow inputs show up as timeouts.

use twice::diff::DiffOptions;
use twice::finding::Format;

/// Split one fuzz input into the two sides.
pub fn sides(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<4>() else {
        return (data, &[]);
    };
    let len = (u32::from_le_bytes(*len) as usize).min(rest.len());
    rest.split_at(len)
}

/// Join two sides into one fuzz input (for seed corpora).
pub fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = (a.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out
}

/// Options with tight limits: small decompression budgets and few
/// findings, so a bomb or a slow path shows as a timeout or an OOM.
pub fn options() -> DiffOptions {
    let mut opts = DiffOptions::default();
    opts.limits.max_findings = 50;
    opts.limits.max_member_bytes = 8 << 20;
    opts.limits.max_unpacked_bytes = 32 << 20;
    opts.limits.max_members = 2_000;
    opts
}

/// Compare the two sides of `data` with the comparator of `format`.
pub fn run(format: Format, data: &[u8]) {
    let (a, b) = sides(data);
    let _ = twice::compare_bytes_as(format, b"fuzz", a, b, &options());
}
