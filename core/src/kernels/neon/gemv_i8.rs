//! The NEON int8 fully connected layer: exact i16 products through
//! `vmlal_s16`, wrapping i32 sums, one row at a time.

use core::arch::aarch64::*;

use crate::kernels::reference::i8::{FullyConnectedParams, Scalar as I8Scalar};
use crate::kernels::simd::{fitting_rows, I16_OFFSET_RANGE};

/// The layer, as [`I8Scalar::fully_connected`] (and as total).
///
/// # Safety
/// The CPU must run NEON.
#[target_feature(enable = "neon")]
pub(super) unsafe fn fully_connected(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) {
    let n = x.len();
    let rows = fitting_rows(w.len(), n, bias.len(), y.len());
    if n == 0 || !I16_OFFSET_RANGE.contains(&p.input_offset) {
        I8Scalar::fully_connected(w, x, bias, p, y);
        return;
    }
    const STEP: usize = 8;
    let full = n / STEP;
    let tail = full * STEP;
    let off = p.input_offset;
    let (wp, xp) = (w.as_ptr(), x.as_ptr());
    // SAFETY: rows below `rows` have `n` readable weight bytes; 8-byte chunk
    // loads stay below `n`.
    unsafe {
        let off16 = vdupq_n_s16(off as i16);
        for r in 0..rows {
            let row = wp.add(r * n);
            let mut a0 = vdupq_n_s32(0);
            let mut a1 = vdupq_n_s32(0);
            for k in 0..full {
                let o = k * STEP;
                let xo = vaddq_s16(vmovl_s8(vld1_s8(xp.add(o))), off16);
                let wv = vmovl_s8(vld1_s8(row.add(o)));
                a0 = vmlal_s16(a0, vget_low_s16(wv), vget_low_s16(xo));
                a1 = vmlal_s16(a1, vget_high_s16(wv), vget_high_s16(xo));
            }
            let s = vaddvq_s32(vaddq_s32(a0, a1));
            let wr = &w[r * n..(r + 1) * n];
            let acc = I8Scalar::accumulate(&wr[tail..], &x[tail..], off, bias[r]);
            y[r] = p.requantize(acc.wrapping_add(s), r);
        }
    }
}
