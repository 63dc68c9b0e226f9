//! The AVX-512 VNNI int8 fully connected layer on output-major weights:
//! `vpdpbusd` on unsigned inputs, sixteen rows per pass, their totals
//! transposed into one vector and requantized sixteen at a time.

use core::arch::x86_64::*;

use super::mask16;
use super::requantize::{finish16, Channels};
use crate::kernels::reference::i8::{FullyConnectedParams, Scalar as I8Scalar};
use crate::kernels::simd::fitting_rows;

/// Rows per int8 pass: one vector of sixteen i32 row totals.
pub(super) const ROWS: usize = 16;
/// Bytes per `vpdpbusd` step.
pub(super) const STEP: usize = 64;

/// Lane `r` of the result is the (wrapping) sum of the sixteen i32 lanes of
/// `v[r]`: a transpose-and-add in four levels (45 register operations for
/// sixteen rows instead of sixteen separate horizontal sums).
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
unsafe fn row_totals(v: &[__m512i; ROWS]) -> __m512i {
    // SAFETY: register-only AVX-512 F operations.
    unsafe {
        // Per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3].
        let p = |a: __m512i, b: __m512i| {
            _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b))
        };
        // Per 128-bit lane: [a, b, c, d] partial sums of four rows.
        let q = |a: __m512i, b: __m512i| {
            _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b))
        };
        // 128-bit lanes: [a.0 + a.1, a.2 + a.3, b.0 + b.1, b.2 + b.3].
        let s = |a: __m512i, b: __m512i| {
            _mm512_add_epi32(
                _mm512_shuffle_i32x4::<0b10_00_10_00>(a, b),
                _mm512_shuffle_i32x4::<0b11_01_11_01>(a, b),
            )
        };
        let u0 = q(p(v[0], v[1]), p(v[2], v[3]));
        let u1 = q(p(v[4], v[5]), p(v[6], v[7]));
        let u2 = q(p(v[8], v[9]), p(v[10], v[11]));
        let u3 = q(p(v[12], v[13]), p(v[14], v[15]));
        s(s(u0, u1), s(u2, u3))
    }
}

/// `Σ_d mult(w[r + j, d])` for the sixteen rows of one pass, where the
/// caller's `dp` step does the multiply-accumulate.
///
/// # Safety
/// AVX-512 F/BW/VNNI available; `rowp[j]` readable for `n` bytes.
#[inline(always)]
unsafe fn pass_dots(
    rowp: &[*const i8; ROWS],
    lhs: impl Fn(usize, Option<__mmask64>) -> __m512i,
    n: usize,
) -> __m512i {
    // SAFETY: full 64-byte chunks stay below `n`; the tail is masked to
    // `n` (masked-off weights are 0, so they add nothing whatever `lhs`).
    unsafe {
        let mut acc = [_mm512_setzero_si512(); ROWS];
        let full = n / STEP;
        for k in 0..full {
            let o = k * STEP;
            let u = lhs(o, None);
            for (a, &wr) in acc.iter_mut().zip(rowp) {
                *a = _mm512_dpbusd_epi32(*a, u, _mm512_loadu_si512(wr.add(o) as *const _));
            }
        }
        let t = n % STEP;
        if t != 0 {
            let o = full * STEP;
            let m: __mmask64 = (1u64 << t) - 1;
            let u = lhs(o, Some(m));
            for (a, &wr) in acc.iter_mut().zip(rowp) {
                *a = _mm512_dpbusd_epi32(*a, u, _mm512_maskz_loadu_epi8(m, wr.add(o)));
            }
        }
        row_totals(&acc)
    }
}

/// The int8 layer with VNNI, sixteen rows per pass, as
/// [`I8Scalar::fully_connected`] (and as total); `row_sums` as for
/// [`Kernel::fully_connected_i8`](crate::kernels::Kernel::fully_connected_i8).
///
/// # Safety
/// The CPU must run AVX-512 F/BW/VL/VNNI, AVX2 and FMA.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
pub(super) unsafe fn fully_connected(
    w: &[i8],
    x: &[i8],
    bias: &[i32],
    row_sums: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) {
    let n = x.len();
    let rows = fitting_rows(w.len(), n, bias.len(), y.len());
    if n == 0 || rows == 0 {
        I8Scalar::fully_connected(w, x, bias, p, y);
        return;
    }
    let channels = Channels::of(p, rows);
    let have_sums = row_sums.len() >= rows;
    let (wp, xp) = (w.as_ptr(), x.as_ptr());
    let mut r = 0;
    // SAFETY: every row pointer is clamped to a row below `rows`, each of
    // which has `n` readable bytes (`rows·n <= w.len()`); bias, row sums,
    // multipliers, shifts and outputs are read/written with masks covering
    // only indices below `rows` (or, per tensor, index 0).
    unsafe {
        let flip = _mm512_set1_epi8(i8::MIN); // x ^ 0x80 = x + 128 as u8
        let ones = _mm512_set1_epi8(1);
        let correction = _mm512_set1_epi32(p.input_offset.wrapping_sub(128));
        let xu = |o: usize, m: Option<__mmask64>| match m {
            None => _mm512_xor_si512(_mm512_loadu_si512(xp.add(o) as *const _), flip),
            Some(m) => _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, xp.add(o)), flip),
        };
        let one_bytes = |_: usize, _: Option<__mmask64>| ones;
        while r < rows {
            let live = (rows - r).min(ROWS);
            let lm = mask16(live);
            // Rows past the end repeat the last row; their lanes are not stored.
            let mut rowp = [wp; ROWS];
            for (j, rp) in rowp.iter_mut().enumerate() {
                *rp = wp.add((r + j.min(live - 1)) * n);
            }
            let dots = pass_dots(&rowp, xu, n);
            let sums = if have_sums {
                _mm512_maskz_loadu_epi32(lm, row_sums.as_ptr().add(r))
            } else {
                pass_dots(&rowp, one_bytes, n)
            };
            let b = _mm512_maskz_loadu_epi32(lm, bias.as_ptr().add(r));
            let acc = _mm512_add_epi32(
                _mm512_add_epi32(dots, _mm512_mullo_epi32(sums, correction)),
                b,
            );
            finish16(acc, channels, p, r, live, y);
            r += live;
        }
    }
}
