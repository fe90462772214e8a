//! placeholder
pub(crate) struct GzipComparator;
impl super::Comparator for GzipComparator {
    fn compare(&self, cx: &mut super::Cx<'_>, a: &[u8], b: &[u8]) {
        super::compare_as_binary(cx, a, b)
    }
}
