//! Symbol and section names that differ only in a hash: masking them, and
//! telling a Rust metadata hash or an LLVM promotion suffix from other
//! changes. Shared by the symbol, string and DWARF comparisons.
#![deny(clippy::indexing_slicing)]

/// `name` with every run of 8 or more hex digits replaced by `#`, so names
/// that differ only in an embedded hash or random value compare equal.
pub(super) fn mask_hex(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        let run = name
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        if run >= 8 {
            out.push(b'#');
            i += run;
        } else {
            out.extend_from_slice(name.get(i..i + run.max(1)).unwrap_or_default());
            i += run.max(1);
        }
    }
    out
}

/// Do `a` and `b` differ only in the `.llvm.<decimal>` suffix LLVM gives
/// local symbols it promotes across modules (ThinLTO), a hash of the
/// module's content?
pub(super) fn llvm_suffix_only(a: &[u8], b: &[u8]) -> bool {
    fn stem(name: &[u8]) -> Option<&[u8]> {
        let digits = name.iter().rev().take_while(|c| c.is_ascii_digit()).count();
        let rest = name.get(..name.len() - digits)?;
        (digits > 0).then_some(())?;
        rest.strip_suffix(b".llvm.")
    }
    matches!((stem(a), stem(b)), (Some(x), Some(y)) if x == y)
}

/// Do `a` and `b` differ only in Rust crate metadata hashes?
pub(super) fn rust_hash_only(a: &[u8], b: &[u8]) -> bool {
    match (mask_rust_hash(a), mask_rust_hash(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn hex16(w: Option<&[u8]>) -> bool {
    w.is_some_and(|h| h.len() == 16 && h.iter().all(u8::is_ascii_hexdigit))
}

/// `name` with Rust legacy-mangling hashes (`17h` + 16 hex digits + `E`)
/// and codegen-unit name hashes (`.<16 hex>-cgu.`) masked; `None` when it
/// has none.
fn mask_rust_hash(name: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(name.len());
    let mut found = false;
    let mut i = 0;
    while i < name.len() {
        let symbol = name.get(i..i + 3) == Some(b"17h")
            && hex16(name.get(i + 3..i + 19))
            && name.get(i + 19) == Some(&b'E');
        let cgu = name.get(i) == Some(&b'.')
            && hex16(name.get(i + 1..i + 17))
            && name.get(i + 17..i + 22) == Some(b"-cgu.");
        if symbol {
            out.extend_from_slice(b"17h#E");
            found = true;
            i += 20;
        } else if cgu {
            out.extend_from_slice(b".#-cgu.");
            found = true;
            i += 22;
        } else {
            out.extend_from_slice(name.get(i..=i).unwrap_or_default());
            i += 1;
        }
    }
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llvm_promotion_suffixes_are_recognised() {
        assert!(llvm_suffix_only(
            b"anon.b6df0774.1.llvm.3364282119293087989",
            b"anon.b6df0774.1.llvm.12137591132552273266"
        ));
        assert!(!llvm_suffix_only(b"a.llvm.1", b"b.llvm.2"));
        assert!(!llvm_suffix_only(b"a.llvm.", b"a.llvm."));
        assert!(!llvm_suffix_only(b"plain", b"plain2"));
    }

    #[test]
    fn rust_hashes_are_masked() {
        let a = b"_ZN5hello4main17h0123456789abcdefE";
        let b = b"_ZN5hello4main17hfedcba9876543210E";
        assert_eq!(mask_rust_hash(a), mask_rust_hash(b));
        assert!(mask_rust_hash(a).is_some());
        assert_eq!(mask_rust_hash(b"main"), None);
        assert!(rust_hash_only(
            b"src/main.rs/@/hello.cfe65dab411903b8-cgu.0",
            b"src/main.rs/@/hello.c49002d6fe630ff5-cgu.0"
        ));
        assert_ne!(
            mask_rust_hash(b"_ZN5hello3foo17h0123456789abcdefE"),
            mask_rust_hash(a)
        );
    }

    #[test]
    fn hex_runs_are_masked() {
        assert_eq!(
            mask_hex(b".gnu.lto_main.0.5a3c9f1e2b7d4a60"),
            mask_hex(b".gnu.lto_main.0.0123456789abcdef")
        );
        assert_ne!(mask_hex(b"add"), mask_hex(b"mul"));
    }
}
