//! The VNNI-packed int8 weight layout (built at load time by
//! [`pack_vnni`](crate::kernels::pack_vnni)) and the scalar reference on it.
//!
//! Weight `(r, c)` lives in blocks of 16 rows, inside a block in groups of
//! 4 columns, each group 64 bytes holding the 4 weights of each of the 16
//! rows (`[r0c0 r0c1 r0c2 r0c3 r1c0 …]`), each stored as the unsigned byte
//! `w + 128` (`w ^ 0x80`; padding is the weight 0, stored as `0x80`). One
//! `vpdpbusd` then multiplies 16 rows of unsigned weights by a broadcast
//! group of 4 signed inputs, straight from memory, and leaves one row total
//! per i32 lane: no horizontal sums, no per-call conversion of the inputs.
//! The `+128` costs `128·Σx` per call, subtracted exactly in i32.

use super::i8::{FullyConnectedParams, Scalar};

/// Rows per block of the VNNI-packed weight layout
/// ([`pack_vnni`](crate::kernels::pack_vnni)).
pub const VNNI_ROWS: usize = 16;
/// Columns per group of the VNNI-packed weight layout.
pub const VNNI_COLS: usize = 4;
/// A packed weight byte is `w ^ VNNI_FLIP`: the unsigned `w + 128`.
pub(crate) const VNNI_FLIP: u8 = 0x80;

/// Length in bytes of `rows × cols` weights packed by
/// [`pack_vnni`](crate::kernels::pack_vnni): rows rounded up to
/// [`VNNI_ROWS`], columns to [`VNNI_COLS`]; `None` on overflow.
pub fn packed_vnni_len(rows: usize, cols: usize) -> Option<usize> {
    rows.div_ceil(VNNI_ROWS)
        .checked_mul(VNNI_ROWS)?
        .checked_mul(cols.div_ceil(VNNI_COLS).checked_mul(VNNI_COLS)?)
}

/// Where weight `(r, c)` lives in the packed layout of a matrix with
/// `groups = ⌈cols / 4⌉` column groups (see the module documentation).
#[inline(always)]
pub(crate) fn vnni_index(r: usize, c: usize, groups: usize) -> usize {
    ((r / VNNI_ROWS) * groups + c / VNNI_COLS) * (VNNI_ROWS * VNNI_COLS)
        + (r % VNNI_ROWS) * VNNI_COLS
        + c % VNNI_COLS
}

impl Scalar {
    /// The whole layer on VNNI-packed weights
    /// ([`pack_vnni`](crate::kernels::pack_vnni)), `rows = y.len()`, `cols =
    /// x.len()`. Total: rows whose weights or bias are missing are left as
    /// they are.
    pub fn fully_connected_packed(
        packed: &[i8],
        x: &[i8],
        bias: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    ) {
        let groups = x.len().div_ceil(VNNI_COLS);
        for (r, (yr, &b)) in y.iter_mut().zip(bias).enumerate() {
            let mut acc = b;
            for (c, &xc) in x.iter().enumerate() {
                let Some(&stored) = packed.get(vnni_index(r, c, groups)) else {
                    return;
                };
                let wv = ((stored as u8) ^ VNNI_FLIP) as i8;
                acc = acc.wrapping_add(
                    (wv as i32).wrapping_mul((xc as i32).wrapping_add(p.input_offset)),
                );
            }
            *yr = p.requantize(acc, r);
        }
    }
}
