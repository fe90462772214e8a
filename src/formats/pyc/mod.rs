//! Compiled Python (`.pyc`): the PEP 552 header, a marshal reader for
//! CPython 3.8 to 3.14, and a comparison of the two code-object trees.

mod compare;
pub(crate) mod header;
mod marshal;

pub(crate) use compare::PycComparator;
