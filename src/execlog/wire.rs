//! The protobuf wire format, read by hand: Bazel's binary and compact logs
//! are decoded field by field, borrowing strings from the buffer, so that
//! every field number of every `spawn.proto` layout can be read (7.1–7.3
//! and 7.4+ number `InputSet` and `Output` fields differently) and fields
//! this version of `twice` does not know are counted, not silently dropped
//! (<https://protobuf.dev/programming-guides/encoding/>).

use std::borrow::Cow;

use super::error::WireProblem;

/// One field value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl<'a> Value<'a> {
    pub(crate) fn wire_type(&self) -> u8 {
        match self {
            Value::Varint(_) => 0,
            Value::Fixed64(_) => 1,
            Value::Bytes(_) => 2,
            Value::Fixed32(_) => 5,
        }
    }
}

/// A base-128 varint at the start of `buf`: the value and its length.
pub(crate) fn varint(buf: &[u8]) -> Result<Option<(u64, usize)>, WireProblem> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i as u32);
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= 10 {
        Err(WireProblem::BadVarint)
    } else {
        Ok(None)
    }
}

/// The fields of one message, in order.
pub(crate) struct Fields<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Fields<'a> {
        Fields { buf, at: 0 }
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.at..).unwrap_or(&[])
    }

    fn take_varint(&mut self, field: u32) -> Result<u64, WireProblem> {
        match varint(self.rest())? {
            Some((v, n)) => {
                self.at += n;
                Ok(v)
            }
            None => Err(WireProblem::Truncated { field }),
        }
    }

    fn take(&mut self, n: usize, field: u32) -> Result<&'a [u8], WireProblem> {
        let end = self
            .at
            .checked_add(n)
            .ok_or(WireProblem::Truncated { field })?;
        let bytes = self
            .buf
            .get(self.at..end)
            .ok_or(WireProblem::Truncated { field })?;
        self.at = end;
        Ok(bytes)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), WireProblem>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.buf.len() {
            return None;
        }
        Some(self.field())
    }
}

impl<'a> Fields<'a> {
    fn field(&mut self) -> Result<(u32, Value<'a>), WireProblem> {
        let key = self.take_varint(0)?;
        let field = u32::try_from(key >> 3).map_err(|_| WireProblem::FieldZero)?;
        if field == 0 {
            return Err(WireProblem::FieldZero);
        }
        let wire_type = (key & 7) as u8;
        let value = match wire_type {
            0 => Value::Varint(self.take_varint(field)?),
            1 => {
                let b = self.take(8, field)?;
                let mut x = [0u8; 8];
                x.copy_from_slice(b);
                Value::Fixed64(u64::from_le_bytes(x))
            }
            2 => {
                let len = self.take_varint(field)?;
                let len = usize::try_from(len).map_err(|_| WireProblem::Truncated { field })?;
                Value::Bytes(self.take(len, field)?)
            }
            5 => {
                let b = self.take(4, field)?;
                let mut x = [0u8; 4];
                x.copy_from_slice(b);
                Value::Fixed32(u32::from_le_bytes(x))
            }
            _ => return Err(WireProblem::BadWireType { field, wire_type }),
        };
        Ok((field, value))
    }
}

/// A string field: UTF-8 as protobuf requires; invalid bytes are replaced
/// rather than refused, the same way on every read of the log.
pub(crate) fn text(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// The values of a repeated `uint32` field, packed (proto3's default) or
/// not.
pub(crate) fn push_u32s(
    v: Value<'_>,
    out: &mut Vec<u32>,
    message: &'static str,
    field: u32,
) -> Result<(), WireProblem> {
    match v {
        Value::Varint(n) => out.push(n as u32),
        Value::Bytes(mut b) => {
            while !b.is_empty() {
                let (n, used) = varint(b)?.ok_or(WireProblem::Truncated { field })?;
                out.push(n as u32);
                b = b.get(used..).unwrap_or(&[]);
            }
        }
        other => {
            return Err(WireProblem::WrongType {
                message,
                field,
                wire_type: other.wire_type(),
            });
        }
    }
    Ok(())
}

/// A known field seen with the wrong wire type.
pub(crate) fn wrong(message: &'static str, field: u32, v: Value<'_>) -> WireProblem {
    WireProblem::WrongType {
        message,
        field,
        wire_type: v.wire_type(),
    }
}

/// Helpers for the typed reads of known fields.
pub(crate) trait Expect<'a> {
    fn bytes(self, message: &'static str, field: u32) -> Result<&'a [u8], WireProblem>;
    fn uint(self, message: &'static str, field: u32) -> Result<u64, WireProblem>;
}

impl<'a> Expect<'a> for Value<'a> {
    fn bytes(self, message: &'static str, field: u32) -> Result<&'a [u8], WireProblem> {
        match self {
            Value::Bytes(b) => Ok(b),
            other => Err(wrong(message, field, other)),
        }
    }
    fn uint(self, message: &'static str, field: u32) -> Result<u64, WireProblem> {
        match self {
            Value::Varint(n) => Ok(n),
            other => Err(wrong(message, field, other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_wire_type_and_refuses_groups() {
        // field 1 varint 150, field 2 bytes "hi", field 3 fixed32, field 4 fixed64
        let mut buf = vec![
            0x08, 0x96, 0x01, 0x12, 2, b'h', b'i', 0x1d, 1, 0, 0, 0, 0x21,
        ];
        buf.extend_from_slice(&7u64.to_le_bytes());
        let got: Vec<_> = Fields::new(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            [
                (1, Value::Varint(150)),
                (2, Value::Bytes(b"hi")),
                (3, Value::Fixed32(1)),
                (4, Value::Fixed64(7)),
            ]
        );
        assert_eq!(
            Fields::new(&[0x0b]).next(),
            Some(Err(WireProblem::BadWireType {
                field: 1,
                wire_type: 3
            }))
        );
        assert_eq!(
            Fields::new(&[0x00]).next(),
            Some(Err(WireProblem::FieldZero))
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let buf = [0x12, 5, b'h', b'e', b'l', b'l', b'o'];
        for cut in 1..buf.len() {
            let r: Result<Vec<_>, _> = Fields::new(&buf[..cut]).collect();
            assert_eq!(r, Err(WireProblem::Truncated { field: 2 }), "cut {cut}");
        }
        assert_eq!(varint(&[0xff; 11]), Err(WireProblem::BadVarint));
        assert_eq!(varint(&[0xff; 3]), Ok(None));
    }

    #[test]
    fn packed_and_unpacked_u32s() {
        let mut out = Vec::new();
        push_u32s(Value::Bytes(&[1, 0x96, 0x01]), &mut out, "m", 5).unwrap();
        push_u32s(Value::Varint(9), &mut out, "m", 5).unwrap();
        assert_eq!(out, [1, 150, 9]);
        assert!(push_u32s(Value::Bytes(&[0x80]), &mut out, "m", 5).is_err());
    }
}
