//! A reader for CPython's marshal format (versions 4 and 5, CPython 3.8
//! through 3.14), written from `Python/marshal.c` and the `marshal` module
//! documentation.
//!
//! The stream is read into a flat node list in post-order (children before
//! their parents), keeping what the value does not: each object's type
//! code, its FLAG_REF bit and which back-reference (`TYPE_REF`) stood for
//! it. A value hash per node, computed in one linear pass, makes value
//! equality and set-element sorting cheap, even when back-references make
//! the tree a DAG.
#![deny(clippy::indexing_slicing)]

use crate::formats::bytes::{Bytes, ParseError, Result};

/// Marshal's FLAG_REF: the object is appended to the reference list.
pub(crate) const FLAG_REF: u8 = 0x80;
/// Deeper nesting is refused (CPython's own limit is 2000; real code
/// objects nest a few dozen levels).
const MAX_DEPTH: usize = 200;

pub(crate) type NodeId = usize;

/// The code-object layouts that marshal has used in CPython 3.8 to 3.14.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CodeLayout {
    /// 3.8 and 3.9: `co_lnotab`.
    Py38,
    /// 3.10: as 3.8, with `co_linetable` in place of `co_lnotab`.
    Py310,
    /// 3.11 to 3.14: locals-plus names and kinds, qualname, exception table.
    Py311,
}

/// One field of a code object: a 32-bit integer or an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Int(i32),
    Obj(NodeId),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value<'d> {
    Null,
    None,
    False,
    True,
    StopIteration,
    Ellipsis,
    Int(i64),
    /// `TYPE_LONG`: 15-bit digits, least significant first.
    Long {
        negative: bool,
        digits: Vec<u16>,
    },
    /// `TYPE_BINARY_FLOAT`: the IEEE 754 bits.
    Float(u64),
    /// `TYPE_FLOAT`: the repr text (marshal version 0/1 streams).
    FloatText(&'d [u8]),
    Complex(u64, u64),
    ComplexText(&'d [u8], &'d [u8]),
    Bytes(&'d [u8]),
    /// A `str`, whatever its encoding (`u`, `t`, `a`, `A`, `z`, `Z`).
    Str(&'d [u8]),
    Tuple(Vec<NodeId>),
    List(Vec<NodeId>),
    Dict(Vec<(NodeId, NodeId)>),
    Set(Vec<NodeId>),
    FrozenSet(Vec<NodeId>),
    Slice([NodeId; 3]),
    Code(Vec<(&'static str, Field)>),
    /// `TYPE_REF`: a back-reference to reference slot `index`, which holds
    /// node `target`.
    Ref {
        index: u32,
        target: NodeId,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Node<'d> {
    /// Offset of the type byte in the file.
    pub at: u64,
    /// The type byte without FLAG_REF.
    pub code: u8,
    pub flag: bool,
    /// The reference slot this object was given (FLAG_REF set).
    pub slot: Option<u32>,
    pub value: Value<'d>,
}

/// A parsed marshal stream.
#[derive(Debug)]
pub(crate) struct Stream<'d> {
    pub nodes: Vec<Node<'d>>,
    pub root: NodeId,
    /// Value hash per node (back-references hash as their target).
    pub vhash: Vec<[u8; 16]>,
    /// Objects carrying FLAG_REF.
    pub flagged: u64,
}

impl<'d> Stream<'d> {
    /// The node a back-reference stands for (any other node is itself).
    pub fn deref(&self, id: NodeId) -> NodeId {
        match self.node(id).map(|n| &n.value) {
            Some(Value::Ref { target, .. }) => *target,
            _ => id,
        }
    }

    pub fn node(&self, id: NodeId) -> Option<&Node<'d>> {
        self.nodes.get(id)
    }

    pub fn value(&self, id: NodeId) -> Option<&Value<'d>> {
        self.nodes.get(self.deref(id)).map(|n| &n.value)
    }

    pub fn vhash(&self, id: NodeId) -> [u8; 16] {
        self.vhash.get(id).copied().unwrap_or_default()
    }

    /// A code object's field by name.
    pub fn code_field(&self, id: NodeId, name: &str) -> Option<Field> {
        match self.value(id)? {
            Value::Code(fields) => fields.iter().find(|(n, _)| *n == name).map(|(_, f)| *f),
            _ => None,
        }
    }

    /// A string-valued code field (`co_name`, `co_qualname`).
    pub fn code_str(&self, id: NodeId, name: &str) -> Option<&'d [u8]> {
        match self.code_field(id, name)? {
            Field::Obj(o) => match self.value(o)? {
                Value::Str(s) => Some(s),
                _ => None,
            },
            Field::Int(_) => None,
        }
    }
}

/// Read the marshal stream in `data` (the part of a `.pyc` after its
/// header); `base` is the offset of `data` in the file.
pub(crate) fn parse(data: &[u8], base: u64, layout: CodeLayout) -> Result<Stream<'_>> {
    let mut r = Reader {
        b: Bytes::new(data),
        base,
        layout,
        nodes: Vec::new(),
        refs: Vec::new(),
        flagged: 0,
    };
    let root = r.object(0)?;
    let vhash = value_hashes(&r.nodes);
    Ok(Stream {
        nodes: r.nodes,
        root,
        vhash,
        flagged: r.flagged,
    })
}

struct Reader<'d> {
    b: Bytes<'d>,
    base: u64,
    layout: CodeLayout,
    nodes: Vec<Node<'d>>,
    /// Reference slots: the node each holds, `None` while it is being read.
    refs: Vec<Option<NodeId>>,
    flagged: u64,
}

impl<'d> Reader<'d> {
    fn err(&self, at: u64, what: impl Into<String>) -> ParseError {
        ParseError::new(at, what)
    }

    fn offset(&self) -> u64 {
        self.base.saturating_add(self.b.offset())
    }

    fn len_u32(&mut self, what: &str, min_size: u64) -> Result<usize> {
        let at = self.offset();
        let n = self.b.u32_le()?;
        self.b
            .check_count(u64::from(n), min_size, what)
            .map_err(|e| self.err(at, e.what))
    }

    fn object(&mut self, depth: usize) -> Result<NodeId> {
        let at = self.offset();
        if depth > MAX_DEPTH {
            return Err(self.err(at, format!("objects nested deeper than {MAX_DEPTH}")));
        }
        let byte = self.b.u8()?;
        let flag = byte & FLAG_REF != 0;
        let code = byte & !FLAG_REF;
        let slot = if flag && code != b'r' {
            self.flagged += 1;
            let n =
                u32::try_from(self.refs.len()).map_err(|_| self.err(at, "too many references"))?;
            self.refs.push(None);
            Some(n)
        } else {
            None
        };
        let value = self.value(code, at, depth)?;
        let id = self.nodes.len();
        self.nodes.push(Node {
            at,
            code,
            flag,
            slot,
            value,
        });
        if let Some(slot) = slot
            && let Some(s) = self.refs.get_mut(slot as usize)
        {
            *s = Some(id);
        }
        Ok(id)
    }

    fn value(&mut self, code: u8, at: u64, depth: usize) -> Result<Value<'d>> {
        let d = depth + 1;
        Ok(match code {
            b'0' => Value::Null,
            b'N' => Value::None,
            b'F' => Value::False,
            b'T' => Value::True,
            b'S' => Value::StopIteration,
            b'.' => Value::Ellipsis,
            b'i' => Value::Int(i64::from(self.b.i32_le()?)),
            b'I' => Value::Int(i64::from_le_bytes(self.b.array()?)),
            b'l' => {
                let n = self.b.i32_le()?;
                let count = self
                    .b
                    .check_count(u64::from(n.unsigned_abs()), 2, "long digits")?;
                let mut digits = Vec::new();
                for _ in 0..count {
                    let digit = self.b.u16_le()?;
                    if digit >= 1 << 15 {
                        return Err(self.err(self.offset() - 2, "long digit out of range"));
                    }
                    digits.push(digit);
                }
                Value::Long {
                    negative: n < 0,
                    digits,
                }
            }
            b'g' => Value::Float(self.b.u64_le()?),
            b'f' => Value::FloatText(self.short_text()?),
            b'y' => Value::Complex(self.b.u64_le()?, self.b.u64_le()?),
            b'x' => Value::ComplexText(self.short_text()?, self.short_text()?),
            b's' => {
                let n = self.len_u32("bytes length", 1)?;
                Value::Bytes(self.b.take(n)?)
            }
            b'u' | b't' | b'a' | b'A' => {
                let n = self.len_u32("string length", 1)?;
                let s = self.b.take(n)?;
                if matches!(code, b'a' | b'A') && !s.is_ascii() {
                    return Err(self.err(at, "non-ASCII bytes in an ASCII string"));
                }
                Value::Str(s)
            }
            b'z' | b'Z' => {
                let s = self.short_text()?;
                if !s.is_ascii() {
                    return Err(self.err(at, "non-ASCII bytes in an ASCII string"));
                }
                Value::Str(s)
            }
            b')' => {
                let n = usize::from(self.b.u8()?);
                Value::Tuple(self.items(n, d)?)
            }
            b'(' => {
                let n = self.len_u32("tuple size", 1)?;
                Value::Tuple(self.items(n, d)?)
            }
            b'[' => {
                let n = self.len_u32("list size", 1)?;
                Value::List(self.items(n, d)?)
            }
            b'<' | b'>' => {
                let n = self.len_u32("set size", 1)?;
                let items = self.items(n, d)?;
                if code == b'<' {
                    Value::Set(items)
                } else {
                    Value::FrozenSet(items)
                }
            }
            b'{' => {
                let mut pairs = Vec::new();
                loop {
                    let k = self.object(d)?;
                    if self.nodes.get(k).map(|n| &n.value) == Some(&Value::Null) {
                        break;
                    }
                    let v = self.object(d)?;
                    pairs.push((k, v));
                }
                Value::Dict(pairs)
            }
            b':' => Value::Slice([self.object(d)?, self.object(d)?, self.object(d)?]),
            b'c' => Value::Code(self.code(d)?),
            b'r' => {
                let index = self.b.u32_le()?;
                match self.refs.get(index as usize) {
                    Some(Some(target)) => Value::Ref {
                        index,
                        target: *target,
                    },
                    Some(None) => {
                        return Err(self.err(
                            at,
                            format!("back-reference {index} to an object still being read"),
                        ));
                    }
                    None => {
                        return Err(self.err(
                            at,
                            format!(
                                "back-reference {index} beyond the {} references so far",
                                self.refs.len()
                            ),
                        ));
                    }
                }
            }
            other => {
                return Err(self.err(at, format!("unknown marshal type {other:#04x}")));
            }
        })
    }

    fn short_text(&mut self) -> Result<&'d [u8]> {
        let n = usize::from(self.b.u8()?);
        self.b.take(n)
    }

    fn items(&mut self, n: usize, depth: usize) -> Result<Vec<NodeId>> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(self.object(depth)?);
        }
        Ok(out)
    }

    fn code(&mut self, depth: usize) -> Result<Vec<(&'static str, Field)>> {
        use CodeLayout::*;
        const I: bool = true;
        const O: bool = false;
        let layout: &[(&'static str, bool)] = match self.layout {
            Py38 | Py310 => &[
                ("co_argcount", I),
                ("co_posonlyargcount", I),
                ("co_kwonlyargcount", I),
                ("co_nlocals", I),
                ("co_stacksize", I),
                ("co_flags", I),
                ("co_code", O),
                ("co_consts", O),
                ("co_names", O),
                ("co_varnames", O),
                ("co_freevars", O),
                ("co_cellvars", O),
                ("co_filename", O),
                ("co_name", O),
                ("co_firstlineno", I),
                (
                    if self.layout == Py38 {
                        "co_lnotab"
                    } else {
                        "co_linetable"
                    },
                    O,
                ),
            ],
            Py311 => &[
                ("co_argcount", I),
                ("co_posonlyargcount", I),
                ("co_kwonlyargcount", I),
                ("co_stacksize", I),
                ("co_flags", I),
                ("co_code", O),
                ("co_consts", O),
                ("co_names", O),
                ("co_localsplusnames", O),
                ("co_localspluskinds", O),
                ("co_filename", O),
                ("co_name", O),
                ("co_qualname", O),
                ("co_firstlineno", I),
                ("co_linetable", O),
                ("co_exceptiontable", O),
            ],
        };
        let mut fields = Vec::new();
        for &(name, int) in layout {
            let field = if int {
                Field::Int(self.b.i32_le()?)
            } else {
                Field::Obj(self.object(depth)?)
            };
            fields.push((name, field));
        }
        Ok(fields)
    }
}

/// The value hash of every node, children first (the node list is in
/// post-order, and a back-reference always points at a finished node).
fn value_hashes(nodes: &[Node<'_>]) -> Vec<[u8; 16]> {
    let mut out: Vec<[u8; 16]> = Vec::new();
    for node in nodes {
        let get = |id: &NodeId| out.get(*id).copied().unwrap_or_default();
        let mut h = blake3::Hasher::new();
        let tag = |h: &mut blake3::Hasher, t: &[u8]| {
            h.update(t);
        };
        match &node.value {
            Value::Ref { target, .. } => {
                let v = get(target);
                out.push(v);
                continue;
            }
            Value::Null => tag(&mut h, b"0"),
            Value::None => tag(&mut h, b"N"),
            Value::False => tag(&mut h, b"F"),
            Value::True => tag(&mut h, b"T"),
            Value::StopIteration => tag(&mut h, b"S"),
            Value::Ellipsis => tag(&mut h, b"."),
            Value::Int(v) => {
                tag(&mut h, b"i");
                h.update(&v.to_le_bytes());
            }
            Value::Long { negative, digits } => {
                tag(&mut h, if *negative { b"l-" } else { b"l+" });
                for d in digits {
                    h.update(&d.to_le_bytes());
                }
            }
            Value::Float(v) => {
                tag(&mut h, b"g");
                h.update(&v.to_le_bytes());
            }
            Value::FloatText(t) => {
                tag(&mut h, b"f");
                h.update(t);
            }
            Value::Complex(x, y) => {
                tag(&mut h, b"y");
                h.update(&x.to_le_bytes());
                h.update(&y.to_le_bytes());
            }
            Value::ComplexText(x, y) => {
                tag(&mut h, b"x");
                h.update(&(x.len() as u64).to_le_bytes());
                h.update(x);
                h.update(y);
            }
            Value::Bytes(s) => {
                tag(&mut h, b"s");
                h.update(s);
            }
            Value::Str(s) => {
                tag(&mut h, b"u");
                h.update(s);
            }
            Value::Tuple(items)
            | Value::List(items)
            | Value::Set(items)
            | Value::FrozenSet(items) => {
                let t: &[u8] = match node.value {
                    Value::Tuple(_) => b"(",
                    Value::List(_) => b"[",
                    Value::Set(_) => b"<",
                    _ => b">",
                };
                tag(&mut h, t);
                h.update(&(items.len() as u64).to_le_bytes());
                for i in items {
                    h.update(&get(i));
                }
            }
            Value::Dict(pairs) => {
                tag(&mut h, b"{");
                for (k, v) in pairs {
                    h.update(&get(k));
                    h.update(&get(v));
                }
            }
            Value::Slice(parts) => {
                tag(&mut h, b":");
                for p in parts {
                    h.update(&get(p));
                }
            }
            Value::Code(fields) => {
                tag(&mut h, b"c");
                for (name, f) in fields {
                    h.update(name.as_bytes());
                    match f {
                        Field::Int(v) => h.update(&v.to_le_bytes()),
                        Field::Obj(o) => h.update(&get(o)),
                    };
                }
            }
        }
        let mut v = [0u8; 16];
        v.copy_from_slice(h.finalize().as_bytes().get(..16).unwrap_or(&[0u8; 16]));
        out.push(v);
    }
    out
}

/// A marshal writer for tests: hand-built streams in the published format
/// of each CPython version (only 3.11 is installed to produce real ones).
#[cfg(test)]
pub(crate) mod build {
    use super::CodeLayout;

    #[derive(Default)]
    pub(crate) struct W(pub Vec<u8>);

    impl W {
        pub fn op(&mut self, code: u8, flag: bool) -> &mut W {
            self.0
                .push(if flag { code | super::FLAG_REF } else { code });
            self
        }
        pub fn u32(&mut self, v: u32) -> &mut W {
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        }
        pub fn int(&mut self, v: i32) -> &mut W {
            self.op(b'i', false).u32(v as u32)
        }
        pub fn none(&mut self) -> &mut W {
            self.op(b'N', false)
        }
        pub fn s(&mut self, text: &str, flag: bool) -> &mut W {
            self.op(b'z', flag);
            self.0.push(text.len() as u8);
            self.0.extend_from_slice(text.as_bytes());
            self
        }
        pub fn bytes(&mut self, b: &[u8]) -> &mut W {
            self.op(b's', false).u32(b.len() as u32);
            self.0.extend_from_slice(b);
            self
        }
        pub fn tuple(&mut self, n: u8) -> &mut W {
            self.op(b')', false);
            self.0.push(n);
            self
        }
        pub fn frozenset(&mut self, n: u32) -> &mut W {
            self.op(b'>', false).u32(n)
        }
        pub fn back(&mut self, index: u32) -> &mut W {
            self.op(b'r', false).u32(index)
        }

        /// A code object: `consts` writes the co_consts tuple.
        pub fn code(
            &mut self,
            layout: CodeLayout,
            name: &str,
            filename: &str,
            consts: impl FnOnce(&mut W),
        ) -> &mut W {
            self.op(b'c', false);
            let ints = if layout == CodeLayout::Py311 { 5 } else { 6 };
            for _ in 0..ints {
                self.u32(0);
            }
            self.bytes(b"\x97\x00d\x00S\x00");
            consts(self);
            self.tuple(0); // co_names
            if layout == CodeLayout::Py311 {
                self.tuple(0).bytes(b""); // localsplusnames, kinds
            } else {
                self.tuple(0).tuple(0).tuple(0); // varnames, freevars, cellvars
            }
            self.s(filename, false).s(name, false);
            if layout == CodeLayout::Py311 {
                self.s(name, false);
            }
            self.u32(1).bytes(b"\x00\x01");
            if layout == CodeLayout::Py311 {
                self.bytes(b"");
            }
            self
        }
    }
}

#[cfg(test)]
#[expect(
    clippy::indexing_slicing,
    reason = "tests index fixtures they just built"
)]
mod tests {
    use super::build::W;
    use super::*;

    #[test]
    fn reads_code_objects_of_each_layout() {
        for layout in [CodeLayout::Py38, CodeLayout::Py310, CodeLayout::Py311] {
            let mut w = W::default();
            w.code(layout, "<module>", "/src/m.py", |w| {
                w.tuple(2).int(7).s("x", true);
            });
            let s = parse(&w.0, 16, layout).unwrap();
            assert_eq!(s.code_str(s.root, "co_filename"), Some(&b"/src/m.py"[..]));
            assert_eq!(s.flagged, 1);
            assert_eq!(s.node(s.root).unwrap().at, 16);
            let Some(Field::Obj(consts)) = s.code_field(s.root, "co_consts") else {
                panic!("no consts");
            };
            assert!(matches!(s.value(consts), Some(Value::Tuple(v)) if v.len() == 2));
        }
    }

    #[test]
    fn back_references_resolve_and_hash_as_their_target() {
        let mut w = W::default();
        w.tuple(3).s("name", true).back(0);
        w.op(b':', false).none().int(3).none();
        let s = parse(&w.0, 0, CodeLayout::Py311).unwrap();
        let Some(Value::Tuple(items)) = s.value(s.root) else {
            panic!()
        };
        assert_eq!(s.vhash(items[0]), s.vhash(items[1]));
        assert_ne!(items[0], items[1]);
        assert_eq!(s.deref(items[1]), items[0]);
        assert!(matches!(s.value(items[2]), Some(Value::Slice(_))));
    }

    #[test]
    fn hostile_streams_fail_cleanly() {
        // A reference to a slot that does not exist yet.
        assert!(parse(b"r\x05\0\0\0", 0, CodeLayout::Py311).is_err());
        // A reference to the tuple that contains it.
        assert!(parse(b"\xa9\x01r\0\0\0\0", 0, CodeLayout::Py311).is_err());
        // A tuple claiming four billion items is refused before allocating.
        let e = parse(b"(\xff\xff\xff\xff", 0, CodeLayout::Py311).unwrap_err();
        assert!(e.what.contains("cannot fit"), "{e}");
        // Nesting beyond the limit fails instead of exhausting the stack.
        let deep = [b")\x01".repeat(5000), b"N".to_vec()].concat();
        let e = parse(&deep, 0, CodeLayout::Py311).unwrap_err();
        assert!(e.what.contains("nested deeper"), "{e}");
        assert!(parse(b"\x01", 0, CodeLayout::Py311).is_err());
        assert!(parse(b"z\x02\xff\xfe", 0, CodeLayout::Py311).is_err());
        assert!(parse(b"l\x01\0\0\0\xff\xff", 0, CodeLayout::Py311).is_err());
    }

    /// Every `.pyc` below `$TWICE_PYC_DIR` (a Python installation's
    /// library, say) parses completely. Run by hand:
    /// `TWICE_PYC_DIR=/usr/lib/python3.11 cargo test --lib stdlib -- --ignored`.
    #[test]
    #[ignore = "needs TWICE_PYC_DIR"]
    fn stdlib_pycs_parse() {
        let Some(dir) = std::env::var_os("TWICE_PYC_DIR") else {
            return;
        };
        let mut stack = vec![std::path::PathBuf::from(dir)];
        let mut parsed = 0;
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "pyc") {
                    let data = std::fs::read(&p).unwrap();
                    let magic = u16::from_le_bytes([data[0], data[1]]);
                    let layout = crate::formats::pyc::header::python(magic).unwrap().layout;
                    let s = parse(&data[16..], 16, layout)
                        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                    assert!(s.code_str(s.root, "co_name").is_some(), "{}", p.display());
                    parsed += 1;
                }
            }
        }
        eprintln!("parsed {parsed} .pyc files");
    }

    #[test]
    fn every_truncation_of_a_real_pyc_fails_without_panic() {
        let pyc = crate::formats::testing::fixture("pairs/pyc-mtime/a/mod.pyc");
        let body = &pyc[16..];
        assert!(parse(body, 16, CodeLayout::Py311).is_ok());
        for cut in 0..body.len() {
            assert!(
                parse(&body[..cut], 16, CodeLayout::Py311).is_err(),
                "cut {cut}"
            );
        }
    }
}
