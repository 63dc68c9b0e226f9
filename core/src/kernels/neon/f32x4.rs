//! Four f32 lanes in a `q` register: the NEON lane operations of the
//! shared SIMD code, one intrinsic each, and the canonical tree.
//!
//! Masks are vectors of all-ones / all-zeros lanes (the compares' output),
//! selects are `bsl`; NEON has no masked loads, so partial loads and stores
//! go through a zero-filled copy.

use core::arch::aarch64::*;

use crate::kernels::simd::gemv_f32::Canonical;
use crate::kernels::simd::{lane_methods, F32Lanes, I32Lanes, Mask};

/// Four f32 lanes (NEON).
#[derive(Clone, Copy)]
pub(crate) struct F32x4(float32x4_t);

/// Four i32 lanes (NEON).
#[derive(Clone, Copy)]
pub(crate) struct I32x4(int32x4_t);

/// Four lane masks, all-ones or all-zeros (NEON).
#[derive(Clone, Copy)]
pub(crate) struct M4(uint32x4_t);

// SAFETY (every method below): register-only NEON operations, or loads and
// stores within the bounds `F32Lanes` states; the caller runs NEON (the
// `F32Lanes` contract).
impl F32Lanes for F32x4 {
    const N: usize = 4;
    type I = I32x4;
    type M = M4;

    lane_methods! {
        fn add(self, b: Self) -> Self = vaddq_f32;
        fn sub(self, b: Self) -> Self = vsubq_f32;
        fn mul(self, b: Self) -> Self = vmulq_f32;
        fn div(self, b: Self) -> Self = vdivq_f32;
        fn neg(self) -> Self = vnegq_f32;
        fn lt(self, b: Self) -> M4 = vcltq_f32;
        fn to_bits(self) -> I32x4 = vreinterpretq_s32_f32;
        fn to_i32(self) -> I32x4 = vcvtq_s32_f32;
    }

    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x4(vdupq_n_f32(v)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x4(vld1q_f32(p)) }
    }
    #[inline(always)]
    unsafe fn load_partial(p: *const f32, n: usize) -> Self {
        let mut t = [0.0f32; 4];
        // SAFETY: `n.min(4)` readable floats (the contract) fit the buffer.
        unsafe {
            core::ptr::copy_nonoverlapping(p, t.as_mut_ptr(), n.min(4));
            F32x4(vld1q_f32(t.as_ptr()))
        }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: see the impl.
        unsafe { vst1q_f32(p, self.0) }
    }
    #[inline(always)]
    unsafe fn store_partial(self, p: *mut f32, n: usize) {
        let mut t = [0.0f32; 4];
        // SAFETY: `n.min(4)` writable floats (the contract), from the buffer.
        unsafe {
            vst1q_f32(t.as_mut_ptr(), self.0);
            core::ptr::copy_nonoverlapping(t.as_ptr(), p, n.min(4));
        }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x4(vfmaq_f32(c.0, self.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn not_le(self, b: Self) -> M4 {
        // SAFETY: see the impl.
        unsafe { M4(vmvnq_u32(vcleq_f32(self.0, b.0))) }
    }
    #[inline(always)]
    unsafe fn select(m: M4, a: Self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x4(vbslq_f32(m.0, a.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn keep(self, m: M4) -> Self {
        // SAFETY: see the impl.
        unsafe {
            let bits = vandq_u32(vreinterpretq_u32_f32(self.0), m.0);
            F32x4(vreinterpretq_f32_u32(bits))
        }
    }
    #[inline(always)]
    unsafe fn from_bits(i: I32x4) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x4(vreinterpretq_f32_s32(i.0)) }
    }
    #[inline(always)]
    unsafe fn from_i32(i: I32x4) -> Self {
        // SAFETY: see the impl.
        unsafe { F32x4(vcvtq_f32_s32(i.0)) }
    }
}

// SAFETY (every method below): register-only NEON operations; the caller
// runs NEON (the `F32Lanes` contract).
impl I32Lanes for I32x4 {
    type M = M4;

    lane_methods! {
        fn and(self, b: Self) -> Self = vandq_s32;
        fn xor(self, b: Self) -> Self = veorq_s32;
        fn add(self, b: Self) -> Self = vaddq_s32;
        fn sub(self, b: Self) -> Self = vsubq_s32;
        fn shl23(self) -> Self = vshlq_n_s32::<23>;
        fn gt(self, b: Self) -> M4 = vcgtq_s32;
        fn lt(self, b: Self) -> M4 = vcltq_s32;
        fn eq(self, b: Self) -> M4 = vceqq_s32;
    }

    #[inline(always)]
    unsafe fn splat(v: i32) -> Self {
        // SAFETY: see the impl.
        unsafe { I32x4(vdupq_n_s32(v)) }
    }
    #[inline(always)]
    unsafe fn select(m: M4, a: Self, b: Self) -> Self {
        // SAFETY: see the impl.
        unsafe { I32x4(vbslq_s32(m.0, a.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn keep(self, m: M4) -> Self {
        // SAFETY: see the impl.
        unsafe { I32x4(vandq_s32(self.0, vreinterpretq_s32_u32(m.0))) }
    }
}

// SAFETY (every method below): register-only NEON operations; the caller
// runs NEON (the `F32Lanes` contract).
impl Mask for M4 {
    lane_methods! {
        fn and(self, b: Self) -> Self = vandq_u32;
        fn or(self, b: Self) -> Self = vorrq_u32;
        fn and_not(self, b: Self) -> Self = vbicq_u32;
    }
}

impl Canonical for F32x4 {
    type Group = [F32x4; 4];
    const EIGHT_ROWS: bool = false;

    #[inline(always)]
    unsafe fn zero_group() -> [F32x4; 4] {
        // SAFETY: NEON (the `F32Lanes` contract).
        unsafe { [F32x4(vdupq_n_f32(0.0)); 4] }
    }

    /// The canonical tree 8, 4, 2, 1 over the four registers.
    #[inline(always)]
    unsafe fn tree(acc: &[F32x4; 4]) -> f32 {
        // SAFETY: register-only NEON operations (the `F32Lanes` contract).
        unsafe {
            let h8a = vaddq_f32(acc[0].0, acc[2].0); // lanes 0..3 + 8..11
            let h8b = vaddq_f32(acc[1].0, acc[3].0); // lanes 4..7 + 12..15
            let h4 = vaddq_f32(h8a, h8b); // lanes 0..3 + 4..7
            let h2 = vadd_f32(vget_low_f32(h4), vget_high_f32(h4)); // 0,1 + 2,3
            vget_lane_f32::<0>(h2) + vget_lane_f32::<1>(h2)
        }
    }
}
