//! A minimal zip writer for tests and benches: entries whose bodies are
//! already compressed (or stored), one local header each, the central
//! directory, the end record.

/// One entry: its name, its body as stored, and the header fields.
pub struct Entry<'a> {
    pub name: &'a str,
    pub body: &'a [u8],
    /// 0 stored, 8 deflated.
    pub method: u16,
    pub crc: u32,
    pub size: u32,
    pub dos_time: u16,
    pub dos_date: u16,
}

pub fn zip(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cd = Vec::new();
    for e in entries {
        let common = |v: &mut Vec<u8>| {
            for x in [20u16, 0, e.method, e.dos_time, e.dos_date] {
                v.extend_from_slice(&x.to_le_bytes());
            }
            v.extend_from_slice(&e.crc.to_le_bytes());
            v.extend_from_slice(&(e.body.len() as u32).to_le_bytes());
            v.extend_from_slice(&e.size.to_le_bytes());
            v.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes());
        };
        let at = out.len() as u32;
        out.extend_from_slice(b"PK\x03\x04");
        common(&mut out);
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(e.body);
        cd.extend_from_slice(b"PK\x01\x02\x14\x03");
        common(&mut cd);
        cd.extend_from_slice(&[0u8; 6]);
        cd.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        cd.extend_from_slice(&at.to_le_bytes());
        cd.extend_from_slice(e.name.as_bytes());
    }
    let cd_at = out.len() as u32;
    out.extend_from_slice(&cd);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    let n = entries.len() as u16;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}
