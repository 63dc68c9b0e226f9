//! What the desktop SIMD twins (AVX2, AVX-512, NEON) share.

/// Rows a total kernel may compute: those with a full weight row, a bias
/// and an output slot.
#[inline(always)]
pub(crate) fn fitting_rows(w_len: usize, cols: usize, b_len: usize, y_len: usize) -> usize {
    let by_w = w_len.checked_div(cols).unwrap_or(usize::MAX);
    by_w.min(b_len).min(y_len)
}

/// The input offsets for which `x + input_offset` fits i16 for every int8
/// `x`: the widening kernels (AVX2, NEON) add the offset in i16 and fall back
/// to the scalar reference outside this range.
pub(crate) const I16_OFFSET_RANGE: core::ops::RangeInclusive<i32> = -32640..=32640;
