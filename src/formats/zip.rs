//! placeholder
pub(crate) struct ZipComparator;
impl super::Comparator for ZipComparator {
    fn compare(&self, cx: &mut super::Cx<'_>, a: &[u8], b: &[u8]) {
        super::compare_as_binary(cx, a, b)
    }
}
