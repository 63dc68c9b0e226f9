//! Eight f32 lanes in a `ymm` register: the AVX2 + FMA lane operations of
//! the shared SIMD code, one intrinsic each, and the canonical trees.
//!
//! Masks are vectors of all-ones / all-zeros lanes (the compares' output),
//! selects are `vblendvps` / `vpblendvb`, partial loads and stores are
//! `vmaskmovps`.

use core::arch::x86_64::*;

use crate::kernels::simd::gemv_f32::Canonical;
use crate::kernels::simd::{lane_methods, F32Lanes, I32Lanes, Mask};

/// Eight f32 lanes (AVX2 + FMA).
#[derive(Clone, Copy)]
pub(crate) struct F32x8(__m256);

/// Eight i32 lanes (AVX2).
#[derive(Clone, Copy)]
pub(crate) struct I32x8(__m256i);

/// Eight lane masks, all-ones or all-zeros (AVX2).
#[derive(Clone, Copy)]
pub(crate) struct M8(__m256i);

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

// SAFETY (every method below): register-only AVX/AVX2/FMA operations, or
// loads and stores within the bounds `F32Lanes` states; the caller runs
// AVX2 and FMA (the `F32Lanes` contract).
impl F32Lanes for F32x8 {
    const N: usize = 8;
    type I = I32x8;
    type M = M8;

    lane_methods! {
        fn add(self, b: Self) -> Self = _mm256_add_ps;
        fn sub(self, b: Self) -> Self = _mm256_sub_ps;
        fn mul(self, b: Self) -> Self = _mm256_mul_ps;
        fn div(self, b: Self) -> Self = _mm256_div_ps;
        fn mul_add(self, b: Self, c: Self) -> Self = _mm256_fmadd_ps;
        fn to_bits(self) -> I32x8 = _mm256_castps_si256;
        fn to_i32(self) -> I32x8 = _mm256_cvttps_epi32;
    }

    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x8(_mm256_set1_ps(v)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x8(_mm256_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // SAFETY: see the impl; masked-off lanes are not read and are +0.0.
        unsafe { F32x8(_mm256_maskload_ps(p, lane_mask(n))) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: see the impl.
        unsafe { _mm256_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f32, n: usize) {
        // SAFETY: see the impl; masked-off lanes are not written.
        unsafe { _mm256_maskstore_ps(p, lane_mask(n), self.0) }
    }
    #[inline(always)]
    unsafe fn neg(self) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x8(_mm256_xor_ps(self.0, _mm256_set1_ps(-0.0))) }
    }
    #[inline(always)]
    unsafe fn lt(self, b: Self) -> M8 {
        // SAFETY: see the impl.
        unsafe {
            M8(_mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(
                self.0, b.0,
            )))
        }
    }
    #[inline(always)]
    unsafe fn not_le(self, b: Self) -> M8 {
        // SAFETY: see the impl.
        unsafe {
            M8(_mm256_castps_si256(_mm256_cmp_ps::<_CMP_NLE_UQ>(
                self.0, b.0,
            )))
        }
    }
    #[inline(always)]
    unsafe fn select(m: M8, a: Self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x8(_mm256_blendv_ps(b.0, a.0, _mm256_castsi256_ps(m.0))) }
    }
    #[inline(always)]
    unsafe fn keep(self, m: M8) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x8(_mm256_and_ps(self.0, _mm256_castsi256_ps(m.0))) }
    }
    #[inline(always)]
    unsafe fn from_bits(i: I32x8) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x8(_mm256_castsi256_ps(i.0)) }
    }
    #[inline(always)]
    unsafe fn from_i32(i: I32x8) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x8(_mm256_cvtepi32_ps(i.0)) }
    }
}

// SAFETY (every method below): register-only AVX2 operations; the caller
// runs AVX2 (the `F32Lanes` contract).
impl I32Lanes for I32x8 {
    type M = M8;

    lane_methods! {
        fn and(self, b: Self) -> Self = _mm256_and_si256;
        fn xor(self, b: Self) -> Self = _mm256_xor_si256;
        fn add(self, b: Self) -> Self = _mm256_add_epi32;
        fn sub(self, b: Self) -> Self = _mm256_sub_epi32;
        fn shl23(self) -> Self = _mm256_slli_epi32::<23>;
        fn gt(self, b: Self) -> M8 = _mm256_cmpgt_epi32;
        fn eq(self, b: Self) -> M8 = _mm256_cmpeq_epi32;
        fn keep(self, m: M8) -> Self = _mm256_and_si256;
    }

    #[inline(always)]
    unsafe fn splat(v: i32) -> Self {
        // SAFETY: see the impl.
        unsafe { I32x8(_mm256_set1_epi32(v)) }
    }
    #[inline(always)]
    unsafe fn lt(self, b: Self) -> M8 {
        // SAFETY: see the impl.
        unsafe { M8(_mm256_cmpgt_epi32(b.0, self.0)) }
    }
    #[inline(always)]
    unsafe fn select(m: M8, a: Self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { I32x8(_mm256_blendv_epi8(b.0, a.0, m.0)) }
    }
}

// SAFETY (every method below): register-only AVX2 operations; the caller
// runs AVX2 (the `F32Lanes` contract).
impl Mask for M8 {
    lane_methods! {
        fn and(self, b: Self) -> Self = _mm256_and_si256;
        fn or(self, b: Self) -> Self = _mm256_or_si256;
    }

    #[inline(always)]
    unsafe fn and_not(self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { M8(_mm256_andnot_si256(b.0, self.0)) }
    }
}

impl Canonical for F32x8 {
    type Group = [F32x8; 2];
    const EIGHT_ROWS: bool = false;

    #[inline(always)]
    unsafe fn zero_group() -> [F32x8; 2] {
        // SAFETY: AVX (the `F32Lanes` contract).
        unsafe { [F32x8(_mm256_setzero_ps()); 2] }
    }

    /// The trees of four rows at once ([`tree_rows4`]) and the bias.
    #[inline(always)]
    unsafe fn finish4(acc: &[[F32x8; 2]; 4], b: *const f32, y: *mut f32) {
        // SAFETY: AVX (the `F32Lanes` contract); `b` and `y` hold four
        // floats (the caller's bounds).
        unsafe {
            // h = 8: lane l + lane l + 8.
            let s = tree_rows4(
                _mm256_add_ps(acc[0][0].0, acc[0][1].0),
                _mm256_add_ps(acc[1][0].0, acc[1][1].0),
                _mm256_add_ps(acc[2][0].0, acc[2][1].0),
                _mm256_add_ps(acc[3][0].0, acc[3][1].0),
            );
            _mm_storeu_ps(y, _mm_add_ps(s, _mm_loadu_ps(b)));
        }
    }
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
