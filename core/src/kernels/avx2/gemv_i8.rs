//! The AVX2 int8 fully connected layer: exact i16 products through
//! `vpmaddwd`, wrapping i32 sums, eight rows per pass.

use core::arch::x86_64::*;

use super::requantize::finish8;
use crate::kernels::reference::i8::{FullyConnectedParams, Scalar as I8Scalar};
use crate::kernels::simd::{fitting_rows, Channels, I16_OFFSET_RANGE};

/// Sums the 8 i32 lanes of `v` (wrapping).
///
/// # Safety
/// AVX2 must be available.
#[inline(always)]
unsafe fn hsum_epi32(v: __m256i) -> i32 {
    // SAFETY: register-only AVX2 operations.
    unsafe {
        let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
        _mm_cvtsi128_si32(s)
    }
}

/// The int8 layer, as [`I8Scalar::fully_connected`] (and as total): 8 rows
/// per pass, exact i16 products, wrapping i32 sums; each pass's eight
/// totals (and the last rows' together) requantized on eight lanes
/// ([`finish8`]; single rounding row by row).
///
/// # Safety
/// The CPU must run AVX2.
#[target_feature(enable = "avx2,fma")]
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
    const STEP: usize = 16;
    let full = n / STEP;
    let tail = full * STEP;
    let off = p.input_offset;
    let wp = w.as_ptr();
    let xp = x.as_ptr();
    let channels = Channels::of(p, rows);
    // The tail columns (past the last full 16) of row `c`, plus its bias.
    let tail_acc = |c: usize| match w.get(c * n + tail..(c + 1) * n) {
        Some(row) => I8Scalar::accumulate(row, &x[tail..], off, bias[c]),
        None => 0,
    };
    let mut r = 0;
    // SAFETY: rows below `rows` have full weight rows, bias and output
    // entries; chunk loads of 16 bytes stay below `n` within each row;
    // AVX2 is enabled for this function (`finish8`'s contract), and `y`
    // holds `rows` codes.
    unsafe {
        let off16 = _mm256_set1_epi16(off as i16);
        while r + 8 <= rows {
            let mut acc = [_mm256_setzero_si256(); 8];
            for k in 0..full {
                let o = k * STEP;
                let xo = _mm256_add_epi16(
                    _mm256_cvtepi8_epi16(_mm_loadu_si128(xp.add(o) as *const __m128i)),
                    off16,
                );
                for (j, a) in acc.iter_mut().enumerate() {
                    let wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(
                        wp.add((r + j) * n + o) as *const __m128i
                    ));
                    *a = _mm256_add_epi32(*a, _mm256_madd_epi16(wv, xo));
                }
            }
            // Eight rows to one vector of eight row sums.
            let h01 = _mm256_hadd_epi32(acc[0], acc[1]);
            let h23 = _mm256_hadd_epi32(acc[2], acc[3]);
            let h45 = _mm256_hadd_epi32(acc[4], acc[5]);
            let h67 = _mm256_hadd_epi32(acc[6], acc[7]);
            let h0123 = _mm256_hadd_epi32(h01, h23);
            let h4567 = _mm256_hadd_epi32(h45, h67);
            let sums = _mm256_add_epi32(
                _mm256_permute2x128_si256::<0x20>(h0123, h4567),
                _mm256_permute2x128_si256::<0x31>(h0123, h4567),
            );
            let mut totals = [0i32; 8];
            _mm256_storeu_si256(totals.as_mut_ptr() as *mut __m256i, sums);
            for (j, t) in totals.iter_mut().enumerate() {
                *t = tail_acc(r + j).wrapping_add(*t);
            }
            finish8(&totals, 8, channels, p, r, y);
            r += 8;
        }
        // The last rows (fewer than 8), one at a time, requantized together.
        let live = rows - r;
        if live > 0 {
            let mut totals = [0i32; 8];
            for (j, t) in totals.iter_mut().take(live).enumerate() {
                let row = wp.add((r + j) * n);
                let mut a = _mm256_setzero_si256();
                for k in 0..full {
                    let o = k * STEP;
                    let xo = _mm256_add_epi16(
                        _mm256_cvtepi8_epi16(_mm_loadu_si128(xp.add(o) as *const __m128i)),
                        off16,
                    );
                    let wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(row.add(o) as *const __m128i));
                    a = _mm256_add_epi32(a, _mm256_madd_epi16(wv, xo));
                }
                *t = tail_acc(r + j).wrapping_add(hsum_epi32(a));
            }
            finish8(&totals, live, channels, p, r, y);
        }
    }
}
