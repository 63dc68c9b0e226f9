//! x86-64 AVX2 + FMA twins of the scalar references.
//!
//! * f32: the 16 canonical lanes are two `ymm` registers per row (lanes 0–7
//!   and 8–15), `vfmadd231ps` per step, four rows per pass for independent
//!   FMA chains. The tree 8, 4, 2, 1 is done for four rows at once with
//!   shuffles that add exactly the canonical pairs (see `tree_rows4`).
//! * int8: no `vpmaddubsw` (it saturates its i16 pair sums). Inputs are
//!   widened to i16 with the input offset already added (`x + input_offset`
//!   fits i16 for every TFLite offset), weights are sign-extended, and
//!   `vpmaddwd` forms exact i32 pair sums (|w·x| ≤ 128·32768, so the pair
//!   sum stays below 2^31); the accumulation wraps mod 2^32 like the
//!   reference. Requantization is the scalar reference's, row by row.
//! * ReLU: a compare and an `and`, keeping NaN as the scalar does.
//! * Sigmoid, SiLU, softmax, tanh, GELU (tanh form): `libm::expf`,
//!   `expm1f` and `tanhf` ported lane for lane (`kernels::act_exp`).

use core::arch::x86_64::*;

use super::kernel::{Kernel, KernelId};
use super::reference::f32::{reduce_lanes, F32_LANES};
use super::reference::i8::{FullyConnectedParams, Scalar as I8Scalar};
use super::simd::{fitting_rows, I16_OFFSET_RANGE};

/// The AVX2 + FMA kernel. Holding a value proves the CPU has AVX2 and FMA.
#[derive(Debug, Clone, Copy)]
pub struct Avx2 {
    _proof: (),
}

impl Avx2 {
    /// The kernel, if this CPU runs AVX2 and FMA (detected at run time with
    /// the `std` feature, from `cfg(target_feature)` without it).
    #[inline]
    pub fn detect() -> Option<Self> {
        #[cfg(feature = "std")]
        let ok = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        #[cfg(not(feature = "std"))]
        let ok = cfg!(all(target_feature = "avx2", target_feature = "fma"));
        if ok {
            Some(Avx2 { _proof: () })
        } else {
            None
        }
    }

    /// The kernel without checking.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[inline(always)]
    pub const unsafe fn new_unchecked() -> Self {
        Avx2 { _proof: () }
    }
}

impl Kernel for Avx2 {
    const ID: KernelId = KernelId::Avx2;

    #[inline]
    fn dot_f32(self, a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: `self` exists only if AVX2 and FMA were detected.
        unsafe { dot_f32_avx2(a, b) }
    }

    #[inline]
    fn gemv_f32(self, w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
        // SAFETY: `self` exists only if AVX2 and FMA were detected.
        unsafe { gemv_f32_avx2(w, x, b, y) }
    }

    #[inline]
    fn fully_connected_i8(
        self,
        w: &[i8],
        x: &[i8],
        bias: &[i32],
        _row_sums: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    ) {
        // SAFETY: `self` exists only if AVX2 and FMA were detected.
        unsafe { fc_i8_avx2(w, x, bias, p, y) }
    }

    #[inline]
    fn relu_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` exists only if AVX2 and FMA were detected.
        unsafe { relu_f32_avx2(xs) }
    }

    #[inline]
    fn sigmoid_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` exists only if AVX2 and FMA were detected.
        unsafe { sigmoid_avx2(xs) }
    }

    #[inline]
    fn silu_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` exists only if AVX2 and FMA were detected.
        unsafe { silu_avx2(xs) }
    }

    #[inline]
    fn tanh_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` exists only if AVX2 and FMA were detected.
        unsafe { tanh_avx2(xs) }
    }

    #[inline]
    fn gelu_tanh_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` exists only if AVX2 and FMA were detected.
        unsafe { gelu_tanh_avx2(xs) }
    }

    #[inline]
    fn softmax_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` exists only if AVX2 and FMA were detected.
        unsafe { softmax_avx2(xs) }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn sigmoid_avx2(xs: &mut [f32]) {
    // SAFETY: AVX2 is enabled by this wrapper.
    unsafe { super::act_exp::avx2::sigmoid(xs) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn silu_avx2(xs: &mut [f32]) {
    // SAFETY: AVX2 is enabled by this wrapper.
    unsafe { super::act_exp::avx2::silu(xs) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn tanh_avx2(xs: &mut [f32]) {
    // SAFETY: AVX2 is enabled by this wrapper.
    unsafe { super::act_exp::avx2::tanh(xs) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_tanh_avx2(xs: &mut [f32]) {
    // SAFETY: AVX2 is enabled by this wrapper.
    unsafe { super::act_exp::avx2::gelu_tanh(xs) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_avx2(xs: &mut [f32]) {
    // SAFETY: AVX2 is enabled by this wrapper.
    unsafe { super::act_exp::avx2::softmax(xs) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dot_f32_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    // SAFETY: both pointers have `n` readable elements; AVX2+FMA are enabled.
    unsafe { row_canonical(a.as_ptr(), b.as_ptr(), n) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn gemv_f32_avx2(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    // SAFETY: AVX2+FMA are enabled by this wrapper.
    unsafe { gemv_f32_body(w, x, b, y) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn fc_i8_avx2(w: &[i8], x: &[i8], bias: &[i32], p: &FullyConnectedParams<'_>, y: &mut [i8]) {
    // SAFETY: AVX2 is enabled by this wrapper.
    unsafe { fc_i8_body(w, x, bias, p, y) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn relu_f32_avx2(xs: &mut [f32]) {
    // SAFETY: AVX2 is enabled by this wrapper.
    unsafe { relu_body(xs) }
}

// ---------------------------------------------------------------- f32 ----

/// `-1` in the first 8 entries, `0` in the last 8: `&MASKS[8 - t..][..8]` is
/// a `vmaskmovps` mask selecting the first `t` lanes.
static MASKS: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];

/// Mask selecting the first `t` (≤ 8) lanes of a `ymm`.
///
/// # Safety
/// AVX must be available.
#[inline(always)]
unsafe fn lane_mask(t: usize) -> __m256i {
    let t = t.min(8);
    // SAFETY: `8 - t + 8 <= 16`, so the 8 read elements are inside MASKS.
    unsafe { _mm256_loadu_si256(MASKS.as_ptr().add(8 - t) as *const __m256i) }
}

/// Loads the canonical 16 lanes `[p .. p+t)` (`t ≤ 16`), zero-filled.
///
/// # Safety
/// AVX must be available and `p .. p+t` readable.
#[inline(always)]
unsafe fn load16_partial(p: *const f32, t: usize) -> (__m256, __m256) {
    // SAFETY: masked loads touch only the selected lanes, all inside
    // `p .. p+t`; masked-off lanes read as +0.0.
    unsafe {
        let lo = _mm256_maskload_ps(p, lane_mask(t));
        let hi = _mm256_maskload_ps(p.add(8), lane_mask(t.saturating_sub(8)));
        (lo, hi)
    }
}

/// Accumulates one row in the canonical 16 lanes: `(lanes 0–7, lanes 8–15)`.
///
/// # Safety
/// AVX2+FMA available; `w` and `x` readable for `n` elements.
#[inline(always)]
unsafe fn row_lanes(w: *const f32, x: *const f32, n: usize) -> (__m256, __m256) {
    // SAFETY: every full-chunk load covers `16k .. 16k+16 <= n`; the tail
    // uses masked loads bounded by `n`.
    unsafe {
        let mut lo = _mm256_setzero_ps();
        let mut hi = _mm256_setzero_ps();
        let full = n / F32_LANES;
        for k in 0..full {
            let o = k * F32_LANES;
            lo = _mm256_fmadd_ps(_mm256_loadu_ps(w.add(o)), _mm256_loadu_ps(x.add(o)), lo);
            hi = _mm256_fmadd_ps(
                _mm256_loadu_ps(w.add(o + 8)),
                _mm256_loadu_ps(x.add(o + 8)),
                hi,
            );
        }
        let t = n % F32_LANES;
        if t != 0 {
            let o = full * F32_LANES;
            let (wl, wh) = load16_partial(w.add(o), t);
            let (xl, xh) = load16_partial(x.add(o), t);
            lo = _mm256_fmadd_ps(wl, xl, lo);
            hi = _mm256_fmadd_ps(wh, xh, hi);
        }
        (lo, hi)
    }
}

/// One row's canonical dot product (tree through [`reduce_lanes`]).
///
/// # Safety
/// As [`row_lanes`].
#[inline(always)]
unsafe fn row_canonical(w: *const f32, x: *const f32, n: usize) -> f32 {
    let mut acc = [0.0f32; F32_LANES];
    // SAFETY: `acc` has 16 writable floats; the rest as `row_lanes`.
    unsafe {
        let (lo, hi) = row_lanes(w, x, n);
        _mm256_storeu_ps(acc.as_mut_ptr(), lo);
        _mm256_storeu_ps(acc.as_mut_ptr().add(8), hi);
    }
    reduce_lanes(&mut acc)
}

/// Steps h = 4, 2, 1 of the canonical tree for four rows whose 8 lanes
/// (after h = 8) are `a`, `b`, `c`, `d`; returns `[a, b, c, d]`.
///
/// Each add below adds exactly the canonical pair: h = 4 adds lane `l` and
/// `l + 4` (the two 128-bit halves), h = 2 lanes `l` and `l + 2`, h = 1 lanes
/// 0 and 1; the shuffles only move values.
///
/// # Safety
/// AVX must be available.
#[inline(always)]
pub(crate) unsafe fn tree_rows4(a: __m256, b: __m256, c: __m256, d: __m256) -> __m128 {
    // SAFETY: register-only AVX operations; AVX is available.
    unsafe {
        // h = 4: [a0..3 | b0..3] + [a4..7 | b4..7].
        let ab = _mm256_add_ps(
            _mm256_permute2f128_ps::<0x20>(a, b),
            _mm256_permute2f128_ps::<0x31>(a, b),
        );
        let cd = _mm256_add_ps(
            _mm256_permute2f128_ps::<0x20>(c, d),
            _mm256_permute2f128_ps::<0x31>(c, d),
        );
        // h = 2: [a0 a1 c0 c1 | b0 b1 d0 d1] + [a2 a3 c2 c3 | b2 b3 d2 d3].
        let abcd = _mm256_add_ps(
            _mm256_shuffle_ps::<0x44>(ab, cd),
            _mm256_shuffle_ps::<0xEE>(ab, cd),
        );
        // h = 1: [a0 c0 . . | b0 d0 . .] + [a1 c1 . . | b1 d1 . .].
        let s = _mm256_add_ps(
            _mm256_shuffle_ps::<0x88>(abcd, abcd),
            _mm256_shuffle_ps::<0xDD>(abcd, abcd),
        );
        // [a c . .] and [b d . .] interleave to [a b c d].
        _mm_unpacklo_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s))
    }
}

/// Steps h = 4, 2, 1 for eight rows (8 lanes each after h = 8); returns
/// `[r0, …, r7]`. Same pairs as [`tree_rows4`].
///
/// # Safety
/// AVX2 must be available.
#[inline(always)]
pub(crate) unsafe fn tree_rows8(v: [__m256; 8]) -> __m256 {
    // SAFETY: register-only AVX/AVX2 operations; AVX2 is available.
    unsafe {
        let h4 = |a: __m256, b: __m256| {
            _mm256_add_ps(
                _mm256_permute2f128_ps::<0x20>(a, b),
                _mm256_permute2f128_ps::<0x31>(a, b),
            )
        };
        let ab = h4(v[0], v[1]);
        let cd = h4(v[2], v[3]);
        let ef = h4(v[4], v[5]);
        let gh = h4(v[6], v[7]);
        let h2 = |p: __m256, q: __m256| {
            _mm256_add_ps(
                _mm256_shuffle_ps::<0x44>(p, q),
                _mm256_shuffle_ps::<0xEE>(p, q),
            )
        };
        let abcd = h2(ab, cd); // [a a c c | b b d d]
        let efgh = h2(ef, gh); // [e e g g | f f h h]
                               // [a c e g | b d f h]
        let s = _mm256_add_ps(
            _mm256_shuffle_ps::<0x88>(abcd, efgh),
            _mm256_shuffle_ps::<0xDD>(abcd, efgh),
        );
        _mm256_permutevar8x32_ps(s, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
    }
}

/// The canonical GEMV, four rows per pass.
///
/// # Safety
/// AVX2 and FMA must be available.
#[inline(always)]
unsafe fn gemv_f32_body(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let n = x.len();
    if n == 0 {
        super::reference::f32::Scalar::gemv(w, x, b, y);
        return;
    }
    let rows = fitting_rows(w.len(), n, b.len(), y.len());
    let (wp, xp) = (w.as_ptr(), x.as_ptr());
    let full = n / F32_LANES;
    let t = n % F32_LANES;
    let mut r = 0;
    // SAFETY: rows r..r+4 < rows have full weight rows (`rows·n <= w.len()`),
    // bias entries and output slots; chunk loads stay below `n` per row, the
    // tail uses masked loads bounded by `n`. AVX2+FMA are available.
    unsafe {
        while r + 4 <= rows {
            let w0 = wp.add(r * n);
            let (w1, w2, w3) = (w0.add(n), w0.add(2 * n), w0.add(3 * n));
            let mut lo = [_mm256_setzero_ps(); 4];
            let mut hi = [_mm256_setzero_ps(); 4];
            for k in 0..full {
                let o = k * F32_LANES;
                let xl = _mm256_loadu_ps(xp.add(o));
                let xh = _mm256_loadu_ps(xp.add(o + 8));
                lo[0] = _mm256_fmadd_ps(_mm256_loadu_ps(w0.add(o)), xl, lo[0]);
                hi[0] = _mm256_fmadd_ps(_mm256_loadu_ps(w0.add(o + 8)), xh, hi[0]);
                lo[1] = _mm256_fmadd_ps(_mm256_loadu_ps(w1.add(o)), xl, lo[1]);
                hi[1] = _mm256_fmadd_ps(_mm256_loadu_ps(w1.add(o + 8)), xh, hi[1]);
                lo[2] = _mm256_fmadd_ps(_mm256_loadu_ps(w2.add(o)), xl, lo[2]);
                hi[2] = _mm256_fmadd_ps(_mm256_loadu_ps(w2.add(o + 8)), xh, hi[2]);
                lo[3] = _mm256_fmadd_ps(_mm256_loadu_ps(w3.add(o)), xl, lo[3]);
                hi[3] = _mm256_fmadd_ps(_mm256_loadu_ps(w3.add(o + 8)), xh, hi[3]);
            }
            if t != 0 {
                let o = full * F32_LANES;
                let (xl, xh) = load16_partial(xp.add(o), t);
                for (j, wr) in [w0, w1, w2, w3].into_iter().enumerate() {
                    let (wl, wh) = load16_partial(wr.add(o), t);
                    lo[j] = _mm256_fmadd_ps(wl, xl, lo[j]);
                    hi[j] = _mm256_fmadd_ps(wh, xh, hi[j]);
                }
            }
            // h = 8: lane l + lane l + 8.
            let s = tree_rows4(
                _mm256_add_ps(lo[0], hi[0]),
                _mm256_add_ps(lo[1], hi[1]),
                _mm256_add_ps(lo[2], hi[2]),
                _mm256_add_ps(lo[3], hi[3]),
            );
            let out = _mm_add_ps(s, _mm_loadu_ps(b.as_ptr().add(r)));
            _mm_storeu_ps(y.as_mut_ptr().add(r), out);
            r += 4;
        }
        while r < rows {
            y[r] = row_canonical(wp.add(r * n), xp, n) + b[r];
            r += 1;
        }
    }
}

// --------------------------------------------------------------- int8 ----

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

/// The int8 layer: 8 rows per pass, exact i16 products, wrapping i32 sums.
///
/// # Safety
/// AVX2 must be available.
#[inline(always)]
unsafe fn fc_i8_body(w: &[i8], x: &[i8], bias: &[i32], p: &FullyConnectedParams<'_>, y: &mut [i8]) {
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
    let mut r = 0;
    // SAFETY: rows below `rows` have full weight rows, bias and output
    // entries; chunk loads of 16 bytes stay below `n` within each row.
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
            let mut lanes = [0i32; 8];
            _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, sums);
            for (j, &s) in lanes.iter().enumerate() {
                let c = r + j;
                let row = &w[c * n..(c + 1) * n];
                let acc = I8Scalar::accumulate(&row[tail..], &x[tail..], off, bias[c]);
                y[c] = p.requantize(acc.wrapping_add(s), c);
            }
            r += 8;
        }
        while r < rows {
            let row = wp.add(r * n);
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
            let row = &w[r * n..(r + 1) * n];
            let acc = I8Scalar::accumulate(&row[tail..], &x[tail..], off, bias[r]);
            y[r] = p.requantize(acc.wrapping_add(hsum_epi32(a)), r);
            r += 1;
        }
    }
}

// --------------------------------------------------------------- ReLU ----

/// ReLU: keeps `x` where `!(x <= 0)` (that is `x > 0` or NaN, as the scalar
/// `relu`), `+0.0` elsewhere.
///
/// # Safety
/// AVX must be available.
#[inline(always)]
unsafe fn relu_body(xs: &mut [f32]) {
    let n = xs.len();
    let p = xs.as_mut_ptr();
    let mut i = 0;
    // SAFETY: full 8-lane chunks stay below `n`; the tail uses masked
    // loads/stores that touch only indices below `n`.
    unsafe {
        let zero = _mm256_setzero_ps();
        while i + 8 <= n {
            let v = _mm256_loadu_ps(p.add(i));
            let keep = _mm256_cmp_ps::<_CMP_NLE_UQ>(v, zero);
            _mm256_storeu_ps(p.add(i), _mm256_and_ps(v, keep));
            i += 8;
        }
        if i < n {
            let m = lane_mask(n - i);
            let v = _mm256_maskload_ps(p.add(i), m);
            let keep = _mm256_cmp_ps::<_CMP_NLE_UQ>(v, zero);
            _mm256_maskstore_ps(p.add(i), m, _mm256_and_ps(v, keep));
        }
    }
}
