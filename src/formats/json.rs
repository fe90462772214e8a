//! JSON documents that are equal as values but differ in the order of
//! object keys (`{"hello": 42, "world": 43}` against `{"world": 43,
//! "hello": 42}`): `ordering`, whatever the line layout (issue 12, class
//! 8). Equality is decided by `serde_json` (objects compare as maps); the
//! keys out of place are counted by a small scanner that keeps the order.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeMap;

/// Largest document parsed: larger ones are compared as lines only.
const MAX_JSON: usize = 64 << 20;

/// When `a` and `b` are the same JSON value with object keys in another
/// order: how many keys are out of place (at least 1).
pub(crate) fn reordered_keys(a: &[u8], b: &[u8]) -> Option<u64> {
    let looks = |d: &[u8]| {
        d.len() <= MAX_JSON
            && matches!(
                d.iter().find(|c| !c.is_ascii_whitespace()),
                Some(b'{' | b'[')
            )
    };
    if !looks(a) || !looks(b) {
        return None;
    }
    let va: serde_json::Value = serde_json::from_slice(a).ok()?;
    let vb: serde_json::Value = serde_json::from_slice(b).ok()?;
    if va != vb {
        return None;
    }
    let (ka, kb) = (keys(a)?, keys(b)?);
    let moved = ka
        .iter()
        .filter(|(k, i)| kb.get(*k).is_some_and(|j| j != *i))
        .count() as u64;
    Some(moved.max(1))
}

/// Every object key with its path (the keys and array indices above it)
/// and its index among its siblings. Input is valid JSON (parsed above).
fn keys(d: &[u8]) -> Option<BTreeMap<Vec<Vec<u8>>, usize>> {
    enum Frame {
        Object { key: Option<Vec<u8>>, index: usize },
        Array { index: usize },
    }
    let mut out = BTreeMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    let path = |stack: &[Frame]| -> Vec<Vec<u8>> {
        stack
            .iter()
            .map(|f| match f {
                Frame::Object { key, .. } => key.clone().unwrap_or_default(),
                Frame::Array { index } => index.to_string().into_bytes(),
            })
            .collect()
    };
    while let Some(&c) = d.get(i) {
        match c {
            b'{' => {
                stack.push(Frame::Object {
                    key: None,
                    index: 0,
                });
                expect_key = true;
            }
            b'[' => {
                stack.push(Frame::Array { index: 0 });
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { index, .. }) => {
                    *index += 1;
                    expect_key = true;
                }
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            b'"' => {
                let start = i + 1;
                i = start;
                while let Some(&s) = d.get(i) {
                    match s {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                if expect_key {
                    let key = d.get(start..i)?.to_vec();
                    let parents = stack.len().saturating_sub(1);
                    let mut p = path(stack.get(..parents).unwrap_or_default());
                    if let Some(Frame::Object { key: k, index }) = stack.last_mut() {
                        p.push(key.clone());
                        out.insert(p, *index);
                        *k = Some(key);
                    }
                    expect_key = false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_only_is_counted() {
        assert_eq!(
            reordered_keys(
                br#"{"hello": 42, "world": 43}"#,
                br#"{"world": 43, "hello": 42}"#
            ),
            Some(2)
        );
        assert_eq!(
            reordered_keys(
                br#"{"a": {"x": 1, "y": [1, {"p": 0, "q": 1}]}}"#,
                br#"{"a": {"x": 1, "y": [1, {"q": 1, "p": 0}]}}"#
            ),
            Some(2)
        );
        assert_eq!(reordered_keys(br#"{"a": 1}"#, br#"{"a": 2}"#), None);
        assert_eq!(reordered_keys(b"[1, 2]", b"[2, 1]"), None);
        assert_eq!(reordered_keys(b"not json", b"not json either"), None);
        assert_eq!(
            reordered_keys(br#"{"k\"ey": 1, "b": 2}"#, br#"{"b": 2, "k\"ey": 1}"#),
            Some(2)
        );
    }
}
