//! zip archives, wheels among them: the central directory and local
//! headers read by hand (the zip crate re-serializes extra fields and loses
//! invalid DOS dates), compared field by field, members recursed.
//!
//! Where findings go: a header field of an entry (DOS time, external
//! attributes, extra fields, compression) is a byte of the archive, so it
//! is reported on the archive with a field location
//! `["entry pkg/a.py", "dos_date_time"]`; an entry's content is compared as
//! the member artifact `x.whl!pkg/a.py`, through whatever comparator its
//! format calls for. In a wheel, `RECORD` lines that differ only because
//! another member's hash changed are `consequence` findings; the rest of
//! `RECORD` is compared as text.

mod compare;
mod member;
mod read;
mod record;

pub(crate) use compare::ZipComparator;
pub(crate) use read::has_prefix;
