//! The AVX-512 VNNI int8 fully connected layer on weights packed at load
//! time ([`pack_vnni`](crate::kernels::pack_vnni)): the lanes of one
//! `vpdpbusd` are sixteen row totals, no horizontal sums.

use core::arch::x86_64::*;

use super::gemv_i8::{ROWS, STEP};
use super::mask16;
use super::requantize::{finish16, Channels};
use crate::kernels::reference::i8::{FullyConnectedParams, Scalar as I8Scalar};
use crate::kernels::reference::vnni::{packed_vnni_len, VNNI_COLS};

/// The int8 layer on VNNI-packed weights: per block of sixteen rows and
/// group of four columns, one `vpbroadcastd` of four input codes from memory
/// and one `vpdpbusd` of the 64 packed (unsigned, `w + 128`) weight bytes
/// against them; the sixteen i32 lanes are the sixteen row totals. Four
/// accumulators (groups mod 4) give independent chains. Exact:
/// `Σ (w + 128)·x − 128·Σx + input_offset·Σw + bias = Σ w·(x + input_offset)
/// + bias`, all mod 2^32.
///
/// Same bits as [`I8Scalar::fully_connected_packed`].
///
/// # Safety
/// The CPU must run AVX-512 F/BW/VL/VNNI, AVX2 and FMA.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
pub(super) unsafe fn fully_connected_packed(
    packed: &[i8],
    x: &[i8],
    bias: &[i32],
    row_sums: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) {
    let cols = x.len();
    let rows = y.len().min(bias.len());
    let fits = packed_vnni_len(rows, cols).is_some_and(|need| packed.len() >= need);
    if cols == 0 || !fits || row_sums.len() < rows {
        I8Scalar::fully_connected_packed(packed, x, bias, p, y);
        return;
    }
    let channels = Channels::of(p, rows);
    let groups = cols.div_ceil(VNNI_COLS);
    let full = cols / VNNI_COLS;
    // The last, partial group of inputs, zero-padded (its padded weights are
    // stored as 0x80 = 128, times an input of 0).
    let mut last = [0i8; VNNI_COLS];
    last[..cols - full * VNNI_COLS].copy_from_slice(&x[full * VNNI_COLS..]);
    let last = i32::from_le_bytes(last.map(|v| v as u8));
    let x_sum = x.iter().fold(0i32, |a, &v| a.wrapping_add(v as i32));
    let mut r = 0;
    // SAFETY: block `r / 16` of the packed weights spans `groups · 64` bytes
    // inside `packed` (checked against `packed_vnni_len` above); input words
    // of full groups lie inside `x`; bias, row sums and outputs are accessed
    // with masks covering `r .. r + live` below `rows`.
    unsafe {
        let xp = x.as_ptr();
        let correction = _mm512_set1_epi32(p.input_offset);
        let x_term = _mm512_set1_epi32(x_sum.wrapping_mul(128));
        let stride = groups * STEP;
        // Two blocks (32 rows) per pass share each input broadcast; the last
        // one or two blocks go one at a time.
        while rows - r > ROWS {
            let base = packed.as_ptr().add((r / ROWS) * stride);
            let dots = packed_dots::<2>(base, stride, xp, full, groups, last);
            for (h, &d) in dots.iter().enumerate() {
                let rr = r + h * ROWS;
                if rr >= rows {
                    break;
                }
                let live = (rows - rr).min(ROWS);
                let lm = mask16(live);
                let sums = _mm512_maskz_loadu_epi32(lm, row_sums.as_ptr().add(rr));
                let b = _mm512_maskz_loadu_epi32(lm, bias.as_ptr().add(rr));
                let total = _mm512_add_epi32(
                    _mm512_sub_epi32(d, x_term),
                    _mm512_add_epi32(_mm512_mullo_epi32(sums, correction), b),
                );
                finish16(total, channels, p, rr, live, y);
            }
            r = (r + 2 * ROWS).min(rows);
        }
        while r < rows {
            let live = (rows - r).min(ROWS);
            let lm = mask16(live);
            let base = packed.as_ptr().add((r / ROWS) * stride);
            let [dots] = packed_dots::<1>(base, stride, xp, full, groups, last);
            let sums = _mm512_maskz_loadu_epi32(lm, row_sums.as_ptr().add(r));
            let b = _mm512_maskz_loadu_epi32(lm, bias.as_ptr().add(r));
            let total = _mm512_add_epi32(
                _mm512_sub_epi32(dots, x_term),
                _mm512_add_epi32(_mm512_mullo_epi32(sums, correction), b),
            );
            finish16(total, channels, p, r, live, y);
            r += live;
        }
    }
}

/// The row totals (before offsets) of `NB` consecutive 16-row blocks of
/// packed weights starting at `base`, `stride` bytes apart: per group of four
/// columns one broadcast of the input word, shared by the blocks, and one
/// `vpdpbusd` per block; four accumulators per block (groups mod 4).
///
/// # Safety
/// AVX-512 F/VNNI available; `NB` blocks of `stride = groups · 64` bytes
/// readable from `base`; `xp` readable for `4 · full` bytes.
#[inline(always)]
unsafe fn packed_dots<const NB: usize>(
    base: *const i8,
    stride: usize,
    xp: *const i8,
    full: usize,
    groups: usize,
    last: i32,
) -> [__m512i; NB] {
    // SAFETY: the loads stay inside the `NB` blocks and the `full` input
    // words, as the caller guarantees.
    unsafe {
        let mut acc = [[_mm512_setzero_si512(); 4]; NB];
        let mut g = 0;
        while g + 4 <= full {
            for u in 0..4 {
                let xw =
                    _mm512_set1_epi32(xp.add((g + u) * VNNI_COLS).cast::<i32>().read_unaligned());
                for (blk, a) in acc.iter_mut().enumerate() {
                    let wv =
                        _mm512_loadu_si512(base.add(blk * stride + (g + u) * STEP) as *const _);
                    a[u] = _mm512_dpbusd_epi32(a[u], wv, xw);
                }
            }
            g += 4;
        }
        while g < groups {
            let word = if g < full {
                xp.add(g * VNNI_COLS).cast::<i32>().read_unaligned()
            } else {
                last
            };
            let xw = _mm512_set1_epi32(word);
            for (blk, a) in acc.iter_mut().enumerate() {
                let wv = _mm512_loadu_si512(base.add(blk * stride + g * STEP) as *const _);
                a[0] = _mm512_dpbusd_epi32(a[0], wv, xw);
            }
            g += 1;
        }
        let mut out = [_mm512_setzero_si512(); NB];
        for (o, a) in out.iter_mut().zip(&acc) {
            *o = _mm512_add_epi32(_mm512_add_epi32(a[0], a[1]), _mm512_add_epi32(a[2], a[3]));
        }
        out
    }
}
