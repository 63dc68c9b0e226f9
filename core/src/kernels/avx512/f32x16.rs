//! Sixteen f32 lanes in a `zmm` register: the AVX-512 F lane operations of
//! the shared SIMD code, one intrinsic each, and the canonical trees.
//!
//! Masks are `k` registers (the compares' output); selects are
//! `vblendmps` / `vpblendmd`, zeroing is a zero-masked move, partial loads
//! and stores are masked.

use core::arch::x86_64::*;

use super::mask16;
use crate::kernels::avx2::{tree_rows4, tree_rows8};
use crate::kernels::simd::gemv_f32::Canonical;
use crate::kernels::simd::{lane_methods, F32Lanes, I32Lanes, Mask};

/// Sixteen f32 lanes (AVX-512 F).
#[derive(Clone, Copy)]
pub(crate) struct F32x16(__m512);

/// Sixteen i32 lanes (AVX-512 F).
#[derive(Clone, Copy)]
pub(crate) struct I32x16(__m512i);

/// Sixteen lane masks: one `k` register.
#[derive(Clone, Copy)]
pub(crate) struct M16(__mmask16);

// SAFETY (every method below): register-only AVX-512 F operations, or
// loads and stores within the bounds `F32Lanes` states; the caller runs
// AVX-512 F (the `F32Lanes` contract).
impl F32Lanes for F32x16 {
    const N: usize = 16;
    type I = I32x16;
    type M = M16;

    lane_methods! {
        fn add(self, b: Self) -> Self = _mm512_add_ps;
        fn sub(self, b: Self) -> Self = _mm512_sub_ps;
        fn mul(self, b: Self) -> Self = _mm512_mul_ps;
        fn div(self, b: Self) -> Self = _mm512_div_ps;
        fn mul_add(self, b: Self, c: Self) -> Self = _mm512_fmadd_ps;
        fn lt(self, b: Self) -> M16 = _mm512_cmp_ps_mask::<_CMP_LT_OQ>;
        fn not_le(self, b: Self) -> M16 = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>;
        fn to_bits(self) -> I32x16 = _mm512_castps_si512;
        fn to_i32(self) -> I32x16 = _mm512_cvttps_epi32;
    }

    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x16(_mm512_set1_ps(v)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x16(_mm512_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        // SAFETY: see the impl; masked-off lanes are not read and are +0.0.
        unsafe { F32x16(_mm512_maskz_loadu_ps(mask16(n), p)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: see the impl.
        unsafe { _mm512_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f32, n: usize) {
        // SAFETY: see the impl; masked-off lanes are not written.
        unsafe { _mm512_mask_storeu_ps(p, mask16(n), self.0) }
    }
    #[inline(always)]
    unsafe fn neg(self) -> Self {
        // (`_mm512_xor_ps` is AVX-512 DQ; the integer xor is F.)
        // SAFETY: see the impl.
        unsafe {
            let sign = _mm512_set1_epi32(i32::MIN);
            F32x16(_mm512_castsi512_ps(_mm512_xor_si512(
                _mm512_castps_si512(self.0),
                sign,
            )))
        }
    }
    #[inline(always)]
    unsafe fn select(m: M16, a: Self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x16(_mm512_mask_blend_ps(m.0, b.0, a.0)) }
    }
    #[inline(always)]
    unsafe fn keep(self, m: M16) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x16(_mm512_maskz_mov_ps(m.0, self.0)) }
    }
    #[inline(always)]
    unsafe fn from_bits(i: I32x16) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x16(_mm512_castsi512_ps(i.0)) }
    }
    #[inline(always)]
    unsafe fn from_i32(i: I32x16) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x16(_mm512_cvtepi32_ps(i.0)) }
    }
}

// SAFETY (every method below): register-only AVX-512 F operations; the
// caller runs AVX-512 F (the `F32Lanes` contract).
impl I32Lanes for I32x16 {
    type M = M16;

    lane_methods! {
        fn and(self, b: Self) -> Self = _mm512_and_si512;
        fn xor(self, b: Self) -> Self = _mm512_xor_si512;
        fn add(self, b: Self) -> Self = _mm512_add_epi32;
        fn sub(self, b: Self) -> Self = _mm512_sub_epi32;
        fn shl23(self) -> Self = _mm512_slli_epi32::<23>;
        fn gt(self, b: Self) -> M16 = _mm512_cmpgt_epi32_mask;
        fn lt(self, b: Self) -> M16 = _mm512_cmplt_epi32_mask;
        fn eq(self, b: Self) -> M16 = _mm512_cmpeq_epi32_mask;
    }

    #[inline(always)]
    unsafe fn splat(v: i32) -> Self {
        // SAFETY: see the impl.
        unsafe { I32x16(_mm512_set1_epi32(v)) }
    }
    #[inline(always)]
    unsafe fn select(m: M16, a: Self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { I32x16(_mm512_mask_blend_epi32(m.0, b.0, a.0)) }
    }
    #[inline(always)]
    unsafe fn keep(self, m: M16) -> Self {
        // SAFETY: see the impl.
        unsafe { I32x16(_mm512_maskz_mov_epi32(m.0, self.0)) }
    }
}

/// `k`-register logic is plain integer logic on the mask bits.
impl Mask for M16 {
    #[inline(always)]
    unsafe fn and(self, b: Self) -> Self {
        M16(self.0 & b.0)
    }
    #[inline(always)]
    unsafe fn or(self, b: Self) -> Self {
        M16(self.0 | b.0)
    }
    #[inline(always)]
    unsafe fn and_not(self, b: Self) -> Self {
        M16(self.0 & !b.0)
    }
}

/// Step h = 8 of the canonical tree: lanes `l` and `l + 8` added.
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
unsafe fn fold_h8(z: F32x16) -> __m256 {
    // SAFETY: register-only AVX-512 F operations.
    unsafe {
        let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(z.0)));
        _mm256_add_ps(_mm512_castps512_ps256(z.0), hi)
    }
}

impl Canonical for F32x16 {
    type Group = [F32x16; 1];
    const EIGHT_ROWS: bool = true;

    #[inline(always)]
    unsafe fn zero_group() -> [F32x16; 1] {
        // SAFETY: AVX-512 F (the `F32Lanes` contract).
        unsafe { [F32x16(_mm512_setzero_ps())] }
    }

    /// h = 8 per row, then AVX2's [`tree_rows4`], then the bias.
    #[inline(always)]
    unsafe fn finish4(acc: &[[F32x16; 1]; 4], b: *const f32, y: *mut f32) {
        // SAFETY: AVX-512 F and AVX (the `F32Lanes` contract); `b` and `y`
        // hold four floats (the caller's bounds).
        unsafe {
            let s = tree_rows4(
                fold_h8(acc[0][0]),
                fold_h8(acc[1][0]),
                fold_h8(acc[2][0]),
                fold_h8(acc[3][0]),
            );
            _mm_storeu_ps(y, _mm_add_ps(s, _mm_loadu_ps(b)));
        }
    }

    /// h = 8 per row, then AVX2's [`tree_rows8`], then the bias.
    #[inline(always)]
    unsafe fn finish8(acc: &[[F32x16; 1]; 8], b: *const f32, y: *mut f32) {
        // SAFETY: AVX-512 F and AVX2 (the `F32Lanes` contract); `b` and `y`
        // hold eight floats (the caller's bounds).
        unsafe {
            let s = tree_rows8([
                fold_h8(acc[0][0]),
                fold_h8(acc[1][0]),
                fold_h8(acc[2][0]),
                fold_h8(acc[3][0]),
                fold_h8(acc[4][0]),
                fold_h8(acc[5][0]),
                fold_h8(acc[6][0]),
                fold_h8(acc[7][0]),
            ]);
            _mm256_storeu_ps(y, _mm256_add_ps(s, _mm256_loadu_ps(b)));
        }
    }
}
