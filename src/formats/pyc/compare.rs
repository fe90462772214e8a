//! The pyc comparator: header fields first, then the two marshalled object
//! trees walked side by side.
//!
//! Findings are located by code object and field:
//! `["code <module>.Config.load", "co_consts[2]"]`, at the offset of the
//! object in side A. A value that differs is explained where a detector
//! can (build paths in `co_filename`, timestamps in strings); set elements
//! in another order are `hash_order`; values that are equal but marshalled
//! differently (FLAG_REF, back-reference numbering, interning) are
//! `marshal_refs`, one finding per code object. `co_filename` is reported
//! once per file, not once per code object.
#![deny(clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};

use super::header::{HEADER_LEN, Header, Invalidation, describe_magic, python};
use super::marshal::{self, Field, NodeId, Stream, Value};
use crate::classify::format_epoch;
use crate::finding::{Cause, Decoded, Evidence, LimitKind, Location, TimestampEncoding};
use crate::formats::or_bytes;
use crate::formats::{Comparator, Cx, Format, compare_as_binary};

pub(crate) struct PycComparator;

/// Nodes visited per comparison before giving up (a stream of
/// back-references can make a small file a very large tree).
const MAX_STEPS: u64 = 4_000_000;
/// Deeper than this (the reader allows 200 levels; back-references can
/// stack a second tree under the first), the walk stops descending.
const MAX_WALK_DEPTH: usize = 420;
/// Characters of a value shown as evidence.
const REPR_LEN: usize = 120;

impl Comparator for PycComparator {
    fn compare(&self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
        or_bytes(cx, a, b, |cx| compare(cx, a, b));
    }
}

fn compare(cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
    let (ha, hb) = match (Header::parse(a), Header::parse(b)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => {
            cx.unparsed(Format::Pyc, format!("header: {e}"), a, b);
            return;
        }
    };
    compare_headers(cx, &ha, &hb);
    let (body_a, body_b) = (
        a.get(HEADER_LEN..).unwrap_or_default(),
        b.get(HEADER_LEN..).unwrap_or_default(),
    );
    // Two Python versions compile to other bytecode throughout: the magic
    // number finding says so, and comparing the code would only list
    // its consequences.
    if body_a == body_b
        || (ha.magic != hb.magic && python(ha.magic).is_some() && python(hb.magic).is_some())
    {
        return;
    }
    let (Some(pa), Some(pb)) = (python(ha.magic), python(hb.magic)) else {
        let magic = if python(ha.magic).is_none() {
            ha.magic
        } else {
            hb.magic
        };
        cx.emit(
            field(&["header", "magic"]),
            Cause::Unparsed {
                format: Format::Pyc,
                reason: format!(
                    "pyc for unknown Python, magic {magic:#06x} ({magic}); the header was \
                         compared, the marshalled code as bytes"
                ),
            },
            Evidence::value(describe_magic(ha.magic)),
            Evidence::value(describe_magic(hb.magic)),
            b"",
        );
        body_as_bytes(cx, a, b);
        return;
    };
    let base = HEADER_LEN as u64;
    let (sa, sb) = match (
        marshal::parse(body_a, base, pa.layout),
        marshal::parse(body_b, base, pb.layout),
    ) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => {
            cx.emit(
                Location::File,
                Cause::Unparsed {
                    format: Format::Pyc,
                    reason: format!("marshal stream: {e}"),
                },
                Evidence::absent(),
                Evidence::absent(),
                b"pyc marshal",
            );
            body_as_bytes(cx, a, b);
            return;
        }
    };
    let mut w = Walker::new(cx, &sa, &sb);
    w.run();
    let emitted = w.finish();
    if emitted == 0 {
        // Equal trees, equal encodings: the bytes after the code object
        // differ.
        body_as_bytes(cx, a, b);
    }
}

fn field(path: &[&str]) -> Location {
    Location::Field {
        path: path.iter().map(|s| (*s).to_owned()).collect(),
        at: None,
    }
}

fn field_at(code: &str, name: &str, at: u64) -> Location {
    Location::Field {
        path: vec![format!("code {code}"), name.to_owned()],
        at: Some(at),
    }
}

/// The source's size or hash in the header follows the `.py` compiled:
/// the root is there (and in the code objects, when they differ too).
fn source_changed() -> Cause {
    Cause::Consequence {
        of: "the compiled source file's content".to_owned(),
    }
}

fn compare_headers(cx: &mut Cx<'_>, a: &Header, b: &Header) {
    let unknown = Cause::Unknown { differences: 1 };
    if a.magic != b.magic {
        cx.emit(
            Location::Field {
                path: vec!["header".into(), "magic".into()],
                at: Some(0),
            },
            unknown.clone(),
            Evidence::value(describe_magic(a.magic)),
            Evidence::value(describe_magic(b.magic)),
            b"",
        );
    }
    let at = |name: &str, off: u64| Location::Field {
        path: vec!["header".into(), name.into()],
        at: Some(off),
    };
    match (a.invalidation, b.invalidation) {
        (
            Invalidation::Timestamp {
                mtime: ma,
                size: sa,
            },
            Invalidation::Timestamp {
                mtime: mb,
                size: sb,
            },
        ) => {
            if ma != mb {
                let ev = |m: u32| {
                    Evidence::value(format_epoch(i64::from(m)))
                        .with_token(m.to_string().as_bytes(), Some(Decoded::Time(i64::from(m))))
                };
                cx.emit(
                    at("source_mtime", 8),
                    Cause::Timestamp {
                        encoding: TimestampEncoding::PycSourceMtime,
                    },
                    ev(ma),
                    ev(mb),
                    b"",
                );
            }
            if sa != sb {
                cx.emit(
                    at("source_size", 12),
                    source_changed(),
                    Evidence::value(sa.to_string()),
                    Evidence::value(sb.to_string()),
                    b"",
                );
            }
        }
        (Invalidation::Hash { hash: x, .. }, Invalidation::Hash { hash: y, .. })
            if a.invalidation.mode() == b.invalidation.mode() =>
        {
            if x != y {
                cx.emit(
                    at("source_hash", 8),
                    source_changed(),
                    Evidence::value(crate::finding::hex(&x)),
                    Evidence::value(crate::finding::hex(&y)),
                    b"",
                );
            }
        }
        (x, y) => {
            cx.emit(
                at("flags", 4),
                unknown,
                Evidence::value(x.mode()),
                Evidence::value(y.mode()),
                b"",
            );
        }
    }
}

/// Compare the bytes after the header, the header's differences having
/// been reported already: side B is given side A's header.
fn body_as_bytes(cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
    let (Some(head), Some(rest)) = (a.get(..HEADER_LEN), b.get(HEADER_LEN..)) else {
        return;
    };
    let mut b2 = head.to_vec();
    b2.extend_from_slice(rest);
    if a != b2.as_slice() {
        compare_as_binary(cx, a, &b2);
    }
}

/// The first value-equal but differently encoded object of one code
/// object, and how many there are.
#[derive(Default)]
struct Encodings {
    /// FLAG_REF set on one side only, a back-reference on one side and the
    /// object inline on the other, or another string type (interning).
    flags: u64,
    first_flag: Option<(String, u64, String, String)>,
    /// The same back-reference pointing at another reference number.
    numbering: u64,
    first_numbering: Option<(String, u64, String, String)>,
}

struct Walker<'c, 'a, 's, 'd> {
    cx: &'c mut Cx<'a>,
    a: &'s Stream<'d>,
    b: &'s Stream<'d>,
    steps: u64,
    stopped: bool,
    emitted: u64,
    encodings: BTreeMap<String, Encodings>,
    /// (code path order, code path) so marshal findings come out in the
    /// order the code objects were met.
    code_order: Vec<String>,
    filenames: BTreeSet<(Vec<u8>, Vec<u8>)>,
    /// Current recursion depth of the walk.
    depth: usize,
}

impl<'c, 'a, 's, 'd> Walker<'c, 'a, 's, 'd> {
    fn new(cx: &'c mut Cx<'a>, a: &'s Stream<'d>, b: &'s Stream<'d>) -> Self {
        Walker {
            cx,
            a,
            b,
            steps: 0,
            stopped: false,
            emitted: 0,
            encodings: BTreeMap::new(),
            code_order: Vec::new(),
            filenames: BTreeSet::new(),
            depth: 0,
        }
    }

    fn run(&mut self) {
        let (ra, rb) = (self.a.root, self.b.root);
        self.node(ra, rb, "<module>", "code object");
    }

    fn emit(&mut self, loc: Location, cause: Cause, a: Evidence, b: Evidence) {
        self.emitted += 1;
        self.cx.emit(loc, cause, a, b, b"");
    }

    /// Count one visited node; false once the budget is spent.
    fn step(&mut self) -> bool {
        if self.stopped || self.cx.full() {
            return false;
        }
        self.steps += 1;
        if self.steps > MAX_STEPS {
            self.stopped = true;
            self.emitted += 1;
            // The marshalled objects expand to more nodes than this through
            // back-references: the rest is not compared.
            self.cx.limit(LimitKind::MarshalNodes, MAX_STEPS);
            return false;
        }
        true
    }

    fn node(&mut self, x: NodeId, y: NodeId, code: &str, name: &str) {
        if !self.step() {
            return;
        }
        self.depth += 1;
        self.node_inner(x, y, code, name);
        self.depth -= 1;
    }

    fn node_inner(&mut self, x: NodeId, y: NodeId, code: &str, name: &str) {
        if self.a.vhash(x) == self.b.vhash(y) {
            self.encoding(x, y, code, name);
            return;
        }
        let (dx, dy) = (self.a.deref(x), self.b.deref(y));
        let at = self.a.node(dx).map_or(0, |n| n.at);
        let (Some(vx), Some(vy)) = (self.a.value(dx), self.b.value(dy)) else {
            return;
        };
        if self.depth > MAX_WALK_DEPTH {
            self.unknown(dx, dy, code, name, at);
            return;
        }
        match (vx, vy) {
            (Value::Code(_), Value::Code(_)) => {
                let child = self.child_name(code, dx, dy);
                self.code(dx, dy, &child);
            }
            (Value::Tuple(p), Value::Tuple(q)) | (Value::List(p), Value::List(q)) => {
                self.sequence(p, q, code, name);
            }
            (Value::Set(p), Value::Set(q)) | (Value::FrozenSet(p), Value::FrozenSet(q))
                if self.same_elements(p, q) =>
            {
                let moved = p
                    .iter()
                    .zip(q)
                    .filter(|&(&ex, &ey)| self.a.vhash(ex) != self.b.vhash(ey))
                    .count() as u64;
                let (ra, rb) = (repr(self.a, dx), repr(self.b, dy));
                self.emit(
                    field_at(code, name, at),
                    Cause::HashOrder { records: moved },
                    Evidence::value(ra),
                    Evidence::value(rb),
                );
            }
            (Value::Str(p), Value::Str(q)) | (Value::Bytes(p), Value::Bytes(q)) => {
                self.text(p, q, dx, dy, code, name, at);
            }
            _ => self.unknown(dx, dy, code, name, at),
        }
    }

    /// Two tuples or lists: element by element when the lengths agree;
    /// otherwise aligned by value, so that one inserted constant does not
    /// hide the rest (nested code objects among them).
    fn sequence(&mut self, p: &[NodeId], q: &[NodeId], code: &str, name: &str) {
        if p.len() == q.len() {
            for (i, (&ex, &ey)) in p.iter().zip(q).enumerate() {
                self.node(ex, ey, code, &format!("{name}[{i}]"));
            }
            return;
        }
        let ha: Vec<[u8; 16]> = p.iter().map(|&e| self.a.vhash(e)).collect();
        let hb: Vec<[u8; 16]> = q.iter().map(|&e| self.b.vhash(e)).collect();
        let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &ha, &hb);
        for op in ops {
            let (tag, ra, rb) = op.as_tag_tuple();
            let (Some(xs), Some(ys)) = (p.get(ra.clone()), q.get(rb.clone())) else {
                continue;
            };
            if tag == similar::DiffTag::Equal || xs.len() == ys.len() {
                for (k, (&ex, &ey)) in xs.iter().zip(ys).enumerate() {
                    self.node(ex, ey, code, &format!("{name}[{}]", ra.start + k));
                }
                continue;
            }
            // Code objects in the run are paired by name and compared; what
            // remains unpaired is one finding for the run.
            let mut xs: Vec<NodeId> = xs.to_vec();
            let mut ys: Vec<NodeId> = ys.to_vec();
            let mut i = 0;
            while i < xs.len() {
                let x = xs.get(i).copied().unwrap_or_default();
                let name_x = self.a.code_str(x, "co_name");
                let found = name_x.and_then(|nx| {
                    ys.iter()
                        .position(|&y| self.b.code_str(y, "co_name") == Some(nx))
                });
                match found {
                    Some(j) => {
                        let y = ys.remove(j);
                        xs.remove(i);
                        self.node(x, y, code, &format!("{name}[{}]", ra.start + i));
                    }
                    None => i += 1,
                }
            }
            if xs.is_empty() && ys.is_empty() {
                continue;
            }
            let at = p
                .get(ra.start)
                .and_then(|&e| self.a.node(self.a.deref(e)))
                .map_or(0, |n| n.at);
            let items = |s: &Stream<'_>, ids: &[NodeId]| {
                let shown: Vec<String> = ids.iter().map(|&e| repr(s, e)).collect();
                format!("[{}]", shown.join(", "))
            };
            let (ea, eb) = (items(self.a, &xs), items(self.b, &ys));
            self.emit(
                field_at(code, &format!("{name}[{}..{}]", ra.start, ra.end), at),
                Cause::Unknown { differences: 1 },
                Evidence::value(ea),
                Evidence::value(eb),
            );
        }
    }

    fn same_elements(&self, p: &[NodeId], q: &[NodeId]) -> bool {
        let mut x: Vec<[u8; 16]> = p.iter().map(|&e| self.a.vhash(e)).collect();
        let mut y: Vec<[u8; 16]> = q.iter().map(|&e| self.b.vhash(e)).collect();
        x.sort_unstable();
        y.sort_unstable();
        x == y
    }

    /// `<module>.Config.load`: from `co_qualname` where the layout has it
    /// (3.11+), else from the enclosing path and `co_name`.
    fn child_name(&self, parent: &str, x: NodeId, y: NodeId) -> String {
        if let Some(q) = self.a.code_str(x, "co_qualname")
            && q != b"<module>"
        {
            return format!("<module>.{}", String::from_utf8_lossy(q));
        }
        let name = self
            .a
            .code_str(x, "co_name")
            .or_else(|| self.b.code_str(y, "co_name"))
            .unwrap_or(b"?");
        if name == b"<module>" {
            return parent.to_owned();
        }
        format!("{parent}.{}", String::from_utf8_lossy(name))
    }

    fn code(&mut self, x: NodeId, y: NodeId, name: &str) {
        if !self.code_order.iter().any(|c| c == name) {
            self.code_order.push(name.to_owned());
        }
        let (Some(Value::Code(fa)), Some(Value::Code(fb))) = (self.a.value(x), self.b.value(y))
        else {
            return;
        };
        let at = self.a.node(x).map_or(0, |n| n.at);
        // Constants (where nested code objects live) last, so that what
        // is reported once per file (co_filename) is reported on the
        // outermost code object.
        // Line tables after everything else: their column offsets move when
        // a constant's source text changes length, which is a consequence.
        let is_lines = |n: &str| matches!(n, "co_linetable" | "co_lnotab");
        let ordered = fa
            .iter()
            .filter(|(n, _)| *n != "co_consts" && !is_lines(n))
            .chain(fa.iter().filter(|(n, _)| *n == "co_consts"))
            .chain(fa.iter().filter(|(n, _)| is_lines(n)));
        let before = self.cx.produced();
        for &(fname, f) in ordered {
            if is_lines(fname)
                && self.cx.produced() > before
                && let (Field::Obj(p), Some(Field::Obj(q))) =
                    (f, fb.iter().find(|(n, _)| *n == fname).map(|(_, g)| *g))
            {
                if self.a.vhash(p) != self.b.vhash(q) {
                    self.emit(
                        field_at(name, fname, at),
                        Cause::Consequence {
                            of: format!("the other changes in {name} (source positions moved)"),
                        },
                        Evidence::value(repr(self.a, p)),
                        Evidence::value(repr(self.b, q)),
                    );
                }
                continue;
            }
            let other = fb.iter().find(|(n, _)| *n == fname).map(|(_, g)| *g);
            match (f, other) {
                (Field::Int(p), Some(Field::Int(q))) => {
                    if p != q {
                        self.emit(
                            field_at(name, fname, at),
                            Cause::Unknown { differences: 1 },
                            Evidence::value(p.to_string()),
                            Evidence::value(q.to_string()),
                        );
                    }
                }
                (Field::Obj(p), Some(Field::Obj(q))) => self.node(p, q, name, fname),
                (_, _) => {
                    // Two layouts (two Python versions): the magic number
                    // finding says so; this field has no counterpart.
                    self.emit(
                        field_at(name, fname, at),
                        Cause::Unknown { differences: 1 },
                        Evidence::value("present"),
                        Evidence::absent(),
                    );
                }
            }
        }
    }

    #[expect(clippy::too_many_arguments, reason = "one leaf, both sides, its place")]
    fn text(
        &mut self,
        p: &[u8],
        q: &[u8],
        dx: NodeId,
        dy: NodeId,
        code: &str,
        name: &str,
        at: u64,
    ) {
        if name == "co_filename" && !self.filenames.insert((p.to_vec(), q.to_vec())) {
            return;
        }
        let e = self.cx.classifier.explain_text(p, q);
        if e.residual
            && name == "co_filename"
            && crate::classify::path::change(p, q) == crate::classify::path::PathChange::Directory
        {
            // The path the compiler was given: a build path even when it
            // is relative (compileall of a relative directory). A change
            // of the file name alone is not (issue 12, class 5).
            self.emit(
                field_at(code, name, at),
                Cause::BuildPath { exact: false },
                Evidence::value(repr(self.a, dx)).with_token(p, None),
                Evidence::value(repr(self.b, dy)).with_token(q, None),
            );
            return;
        }
        if e.residual {
            self.unknown(dx, dy, code, name, at);
            return;
        }
        for found in e.found {
            let token = |s: &[u8], r: std::ops::Range<usize>, t: Option<i64>| {
                s.get(r).map(|tok| (tok.to_vec(), t.map(Decoded::Time)))
            };
            let (mut ea, mut eb) = (
                Evidence::value(repr(self.a, dx)),
                Evidence::value(repr(self.b, dy)),
            );
            if let Some((tok, d)) = token(p, found.a.clone(), found.a_time) {
                ea = ea.with_token(&tok, d);
            }
            if let Some((tok, d)) = token(q, found.b.clone(), found.b_time) {
                eb = eb.with_token(&tok, d);
            }
            self.emit(field_at(code, name, at), found.cause, ea, eb);
        }
    }

    fn unknown(&mut self, dx: NodeId, dy: NodeId, code: &str, name: &str, at: u64) {
        let (ra, rb) = (repr(self.a, dx), repr(self.b, dy));
        self.emit(
            field_at(code, name, at),
            Cause::Unknown { differences: 1 },
            Evidence::value(ra),
            Evidence::value(rb),
        );
    }

    /// Two value-equal objects: record where their encodings differ.
    fn encoding(&mut self, x: NodeId, y: NodeId, code: &str, name: &str) {
        if !self.step() || self.depth > MAX_WALK_DEPTH {
            return;
        }
        self.depth += 1;
        self.encoding_inner(x, y, code, name);
        self.depth -= 1;
    }

    fn encoding_inner(&mut self, x: NodeId, y: NodeId, code: &str, name: &str) {
        let (Some(nx), Some(ny)) = (self.a.node(x), self.b.node(y)) else {
            return;
        };
        if nx.code != ny.code || nx.flag != ny.flag {
            self.record(x, y, code, name, false);
            return;
        }
        match (&nx.value, &ny.value) {
            (Value::Ref { index: i, .. }, Value::Ref { index: j, .. }) if i != j => {
                self.record(x, y, code, name, true);
            }
            (Value::Tuple(p), Value::Tuple(q))
            | (Value::List(p), Value::List(q))
            | (Value::Set(p), Value::Set(q))
            | (Value::FrozenSet(p), Value::FrozenSet(q)) => {
                for (i, (&ex, &ey)) in p.iter().zip(q).enumerate() {
                    self.encoding(ex, ey, code, &format!("{name}[{i}]"));
                }
            }
            (Value::Dict(p), Value::Dict(q)) => {
                for (i, (&(kx, vx), &(ky, vy))) in p.iter().zip(q).enumerate() {
                    self.encoding(kx, ky, code, &format!("{name}[key {i}]"));
                    self.encoding(vx, vy, code, &format!("{name}[value {i}]"));
                }
            }
            (Value::Slice(p), Value::Slice(q)) => {
                for (i, (&ex, &ey)) in p.iter().zip(q).enumerate() {
                    self.encoding(ex, ey, code, &format!("{name}[{i}]"));
                }
            }
            (Value::Code(fp), Value::Code(fq)) => {
                let child = self.child_name(code, x, y);
                for (&(fname, f), &(_, g)) in fp.iter().zip(fq) {
                    if let (Field::Obj(p), Field::Obj(q)) = (f, g) {
                        self.encoding(p, q, &child, fname);
                    }
                }
            }
            _ => {}
        }
    }

    /// Note one value-equal pair encoded differently: by flag or type
    /// (`numbering` false) or by back-reference number only.
    fn record(&mut self, x: NodeId, y: NodeId, code: &str, name: &str, numbering: bool) {
        let at = self.a.node(x).map_or(0, |n| n.at);
        let rec = (
            name.to_owned(),
            at,
            describe(self.a, x),
            describe(self.b, y),
        );
        let e = self.encodings.entry(code.to_owned()).or_default();
        if numbering {
            e.numbering += 1;
            e.first_numbering.get_or_insert(rec);
        } else {
            e.flags += 1;
            e.first_flag.get_or_insert(rec);
        }
        self.note_code(code);
    }

    fn note_code(&mut self, code: &str) {
        if !self.code_order.iter().any(|c| c == code) {
            self.code_order.push(code.to_owned());
        }
    }

    /// Emit the marshal-encoding findings, one per code object. Numbering
    /// differences follow from flag differences earlier in the stream, so
    /// they are reported only when there are no flag differences at all.
    fn finish(mut self) -> u64 {
        let any_flags = self.encodings.values().any(|e| e.flags > 0);
        let cause = Cause::MarshalRefs {
            flagged_a: self.a.flagged,
            flagged_b: self.b.flagged,
        };
        let order = std::mem::take(&mut self.code_order);
        for code in order {
            let Some(e) = self.encodings.remove(&code) else {
                continue;
            };
            let first = if any_flags {
                e.first_flag
            } else {
                e.first_numbering
            };
            let Some((name, at, da, db)) = first else {
                continue;
            };
            self.emit(
                field_at(&code, &name, at),
                cause.clone(),
                Evidence::value(da),
                Evidence::value(db),
            );
        }
        self.emitted
    }
}

fn type_name(code: u8) -> String {
    match code {
        b'u' => "string".into(),
        b't' => "interned string".into(),
        b'a' => "ASCII string".into(),
        b'A' => "interned ASCII string".into(),
        b'z' => "short ASCII string".into(),
        b'Z' => "interned short ASCII string".into(),
        b')' => "small tuple".into(),
        b'(' => "tuple".into(),
        b'c' => "code object".into(),
        b'<' => "set".into(),
        b'>' => "frozenset".into(),
        b'[' => "list".into(),
        b'{' => "dict".into(),
        b'i' => "int".into(),
        b'l' => "long int".into(),
        b'g' => "float".into(),
        b'y' => "complex".into(),
        b's' => "bytes".into(),
        b':' => "slice".into(),
        other => format!("type '{}'", char::from(other)),
    }
}

/// How one object is encoded: `'load' (interned short ASCII string,
/// FLAG_REF: reference #4)` or `back-reference to #4 ('load')`.
fn describe(s: &Stream<'_>, id: NodeId) -> String {
    let Some(n) = s.node(id) else {
        return String::new();
    };
    let value = repr(s, id);
    match (&n.value, n.slot) {
        (Value::Ref { index, .. }, _) => format!("back-reference to #{index} ({value})"),
        (_, Some(slot)) => format!(
            "{value} ({}, FLAG_REF: reference #{slot})",
            type_name(n.code)
        ),
        (_, None) => format!("{value} ({}, not flagged)", type_name(n.code)),
    }
}

/// A short Python-like rendering of a value.
fn repr(s: &Stream<'_>, id: NodeId) -> String {
    let mut out = String::new();
    write_repr(s, id, 0, &mut out);
    if out.chars().count() > REPR_LEN {
        out = out.chars().take(REPR_LEN).collect::<String>() + "…";
    }
    out
}

fn write_repr(s: &Stream<'_>, id: NodeId, depth: usize, out: &mut String) {
    if out.len() > REPR_LEN * 2 {
        return;
    }
    let Some(v) = s.value(id) else {
        return;
    };
    let items = |out: &mut String, ids: &[NodeId], open: &str, close: &str| {
        out.push_str(open);
        if depth > 3 {
            out.push('…');
        } else {
            for (i, &e) in ids.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(s, e, depth + 1, out);
                if out.len() > REPR_LEN * 2 {
                    break;
                }
            }
        }
        out.push_str(close);
    };
    match v {
        Value::Null => out.push_str("NULL"),
        Value::None => out.push_str("None"),
        Value::False => out.push_str("False"),
        Value::True => out.push_str("True"),
        Value::StopIteration => out.push_str("StopIteration"),
        Value::Ellipsis => out.push_str("Ellipsis"),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Long { negative, digits } => {
            let mut v: u128 = 0;
            let fits = digits.len() <= 8;
            for d in digits.iter().rev() {
                v = (v << 15) | u128::from(*d);
            }
            if !fits {
                out.push_str(&format!("<int of {} digits>", digits.len()));
            } else {
                out.push_str(&format!("{}{v}", if *negative { "-" } else { "" }));
            }
        }
        Value::Float(bits) => out.push_str(&format!("{:?}", f64::from_bits(*bits))),
        Value::FloatText(t) => out.push_str(&String::from_utf8_lossy(t)),
        Value::Complex(x, y) => out.push_str(&format!(
            "({:?}+{:?}j)",
            f64::from_bits(*x),
            f64::from_bits(*y)
        )),
        Value::ComplexText(x, y) => out.push_str(&format!(
            "({}+{}j)",
            String::from_utf8_lossy(x),
            String::from_utf8_lossy(y)
        )),
        Value::Bytes(b) => out.push_str(&format!("b'{}'", b.escape_ascii())),
        Value::Str(t) => out.push_str(&format!("{:?}", String::from_utf8_lossy(t))),
        Value::Tuple(ids) => items(out, ids, "(", ")"),
        Value::List(ids) => items(out, ids, "[", "]"),
        Value::Set(ids) => items(out, ids, "{", "}"),
        Value::FrozenSet(ids) => items(out, ids, "frozenset({", "})"),
        Value::Slice(ids) => items(out, ids, "slice(", ")"),
        Value::Dict(pairs) => {
            out.push('{');
            out.push_str(&format!("{} items", pairs.len()));
            out.push('}');
        }
        Value::Code(_) => {
            let name = s.code_str(id, "co_name").unwrap_or(b"?");
            out.push_str(&format!("<code {}>", String::from_utf8_lossy(name)));
        }
        Value::Ref { .. } => out.push_str("<ref>"),
    }
}

#[cfg(test)]
#[expect(
    clippy::indexing_slicing,
    reason = "tests index fixtures they just built"
)]
mod tests {
    use super::super::marshal::{CodeLayout, build::W};
    use super::*;
    use crate::finding::Finding;
    use crate::formats::Limits;
    use crate::formats::testing::compare_with;

    fn pyc(magic: u16, body: &W) -> Vec<u8> {
        let mut out = magic.to_le_bytes().to_vec();
        out.extend_from_slice(b"\r\n\x03\0\0\0");
        out.extend_from_slice(b"hashhash");
        out.extend_from_slice(&body.0);
        out
    }

    fn compare(a: &[u8], b: &[u8]) -> Vec<Finding> {
        compare_with(&PycComparator, "m.pyc", &Limits::default(), a, b).0
    }

    fn place(f: &Finding) -> String {
        match &f.location {
            Location::Field { path, .. } => path.join(" / "),
            other => other.to_string(),
        }
    }

    /// A 3.8 module holding a function whose constant is a frozenset.
    fn module38(elements: &[&str], filename: &str) -> W {
        let mut w = W::default();
        w.code(CodeLayout::Py38, "<module>", filename, |w| {
            w.tuple(2).none();
            w.code(CodeLayout::Py38, "f", filename, |w| {
                w.tuple(1).frozenset(elements.len() as u32);
                for e in elements {
                    w.s(e, false);
                }
            });
        });
        w
    }

    #[test]
    fn set_order_is_hash_order_on_3_8() {
        let a = pyc(3413, &module38(&["alpha", "beta", "gamma"], "m.py"));
        let b = pyc(3413, &module38(&["gamma", "alpha", "beta"], "m.py"));
        let f = compare(&a, &b);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].cause, Cause::HashOrder { records: 3 });
        assert_eq!(place(&f[0]), "code <module>.f / co_consts[0]");
        assert!(f[0].hint.contains("PYTHONHASHSEED"));
    }

    #[test]
    fn other_elements_are_not_ordering() {
        let a = pyc(3413, &module38(&["alpha", "beta"], "m.py"));
        let b = pyc(3413, &module38(&["alpha", "delta"], "m.py"));
        let f = compare(&a, &b);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].cause.name(), "unknown");
    }

    #[test]
    fn filename_is_a_build_path_reported_once() {
        let a = pyc(3439, &{
            let mut w = W::default();
            w.code(
                CodeLayout::Py310,
                "<module>",
                "/tmp/build-a/pkg/m.py",
                |w| {
                    w.tuple(1)
                        .code(CodeLayout::Py310, "g", "/tmp/build-a/pkg/m.py", |w| {
                            w.tuple(0);
                        });
                },
            );
            w
        });
        let b = pyc(3439, &{
            let mut w = W::default();
            w.code(
                CodeLayout::Py310,
                "<module>",
                "/srv/other-b/pkg/m.py",
                |w| {
                    w.tuple(1)
                        .code(CodeLayout::Py310, "g", "/srv/other-b/pkg/m.py", |w| {
                            w.tuple(0);
                        });
                },
            );
            w
        });
        let f = compare(&a, &b);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].cause, Cause::BuildPath { exact: false });
        assert_eq!(place(&f[0]), "code <module> / co_filename");
    }

    /// 3.14 (marshal version 5, slices): the same values, but a string
    /// flagged and referenced back on one side and written twice on the
    /// other.
    #[test]
    fn reference_flags_alone_are_marshal_refs() {
        let body = |flag: bool| {
            let mut w = W::default();
            w.code(CodeLayout::Py311, "<module>", "m.py", |w| {
                w.tuple(3).s("shared", flag);
                if flag {
                    w.back(0);
                } else {
                    w.s("shared", false);
                }
                w.op(b':', false).none().int(2).none();
            });
            w
        };
        let (a, b) = (pyc(3627, &body(true)), pyc(3627, &body(false)));
        assert_ne!(a, b);
        let f = compare(&a, &b);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(
            f[0].cause,
            Cause::MarshalRefs {
                flagged_a: 1,
                flagged_b: 0
            }
        );
        assert_eq!(place(&f[0]), "code <module> / co_consts[0]");
    }

    /// One constant more on one side: the rest is still compared element
    /// by element, nested code objects included.
    #[test]
    fn an_inserted_constant_does_not_hide_the_others() {
        let body = |extra: bool, filename: &str| {
            let mut w = W::default();
            w.code(CodeLayout::Py311, "<module>", "m.py", |w| {
                w.tuple(if extra { 3 } else { 2 }).s("first", false);
                if extra {
                    w.int(99);
                }
                w.code(CodeLayout::Py311, "f", filename, |w| {
                    w.tuple(0);
                });
            });
            w
        };
        let a = pyc(3495, &body(false, "/tmp/build-a/m.py"));
        let b = pyc(3495, &body(true, "/srv/other-b/m.py"));
        let f = compare(&a, &b);
        let got: Vec<_> = f.iter().map(|f| (place(f), f.cause.name())).collect();
        assert!(
            got.contains(&("code <module> / co_consts[1..2]".into(), "unknown")),
            "{got:?}"
        );
        assert!(
            got.contains(&("code <module>.f / co_filename".into(), "build_path")),
            "{got:?}"
        );
    }

    /// 3.11+ names nested code objects by co_qualname.
    #[test]
    fn nested_code_is_located_by_qualified_name() {
        let body = |constant: &str| {
            let mut w = W::default();
            w.code(CodeLayout::Py311, "<module>", "m.py", |w| {
                w.tuple(1);
                w.code(CodeLayout::Py311, "Config", "m.py", |w| {
                    w.tuple(1);
                    w.code(CodeLayout::Py311, "Config.load", "m.py", |w| {
                        w.tuple(2).none().s(constant, false);
                    });
                });
            });
            w
        };
        let f = compare(
            &pyc(3571, &body("built in /tmp/build-a/x")),
            &pyc(3571, &body("built in /srv/other-b/x")),
        );
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(place(&f[0]), "code <module>.Config.load / co_consts[1]");
        assert_eq!(f[0].cause, Cause::BuildPath { exact: false });
    }

    #[test]
    fn unknown_magic_is_said_and_the_header_still_compared() {
        let mut w = W::default();
        w.none();
        let mut a = pyc(3999, &w);
        let mut b = a.clone();
        a[4] = 0;
        b[4] = 0;
        a.splice(
            8..16,
            100u32.to_le_bytes().into_iter().chain(5u32.to_le_bytes()),
        );
        b.splice(
            8..16,
            200u32.to_le_bytes().into_iter().chain(5u32.to_le_bytes()),
        );
        b.push(b'N');
        let f = compare(&a, &b);
        let names: Vec<_> = f.iter().map(|f| f.cause.name()).collect();
        assert!(names.contains(&"unparsed"), "{f:#?}");
        assert!(
            f.iter()
                .any(|f| f.cause.to_string().contains("unknown Python, magic 0x0f9f"))
        );
        assert!(names.contains(&"timestamp"));
        // The body (one extra byte) is compared as bytes, past the header.
        assert!(
            f.iter()
                .any(|f| matches!(f.location, Location::Bytes { .. }))
        );
    }

    #[test]
    fn another_python_is_the_magic_number_only() {
        let a = pyc(3413, &module38(&["alpha"], "m.py"));
        let mut w = W::default();
        w.code(CodeLayout::Py311, "<module>", "m.py", |w| {
            w.tuple(0);
        });
        let b = pyc(3495, &w);
        let f = compare(&a, &b);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(place(&f[0]), "header / magic");
        assert_eq!(
            f[0].b.excerpt,
            crate::finding::Excerpt::Value {
                value: crate::finding::Text::new("Python 3.11 (magic 3495)")
            }
        );
    }

    #[test]
    fn truncated_pycs_never_panic() {
        let a = pyc(3413, &module38(&["alpha", "beta", "gamma"], "/a/m.py"));
        let b = pyc(3413, &module38(&["gamma", "alpha", "beta"], "/b/m.py"));
        for cut in 0..b.len() {
            let f = compare(&a, &b[..cut]);
            assert!(!f.is_empty(), "cut {cut}");
        }
    }
}
