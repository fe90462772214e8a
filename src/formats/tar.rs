//! placeholder
pub(crate) struct TarComparator;
impl super::Comparator for TarComparator {
    fn compare(&self, cx: &mut super::Cx<'_>, a: &[u8], b: &[u8]) {
        super::compare_as_binary(cx, a, b)
    }
}
