//! aarch64 NEON twins of the scalar references.
//!
//! * f32: the 16 canonical lanes are four `q` registers per row (lanes 0–3,
//!   4–7, 8–11, 12–15), `vfmaq_f32` per step, four rows per pass. The tree:
//!   h = 8 adds registers 0+2 and 1+3, h = 4 adds those two, h = 2 adds the
//!   low and high halves, h = 1 the two remaining lanes. A tail shorter than
//!   16 is copied into zero-filled buffers.
//! * int8: inputs widened to i16 with the input offset added (exact for every
//!   TFLite offset), weights sign-extended, `vmlal_s16` accumulates exact
//!   products into wrapping i32 lanes. Requantization is the scalar
//!   reference's, row by row.
//! * ReLU: keeps `x > 0` and NaN (`x != x`), `+0.0` elsewhere.
//! * Sigmoid, SiLU, softmax, tanh, GELU (tanh form): `libm::expf`,
//!   `expm1f` and `tanhf` ported lane for lane (`expf4`, `tanhf4`: the same
//!   steps as the AVX-512 `expf16`, `tanhf16`).

use core::arch::aarch64::*;

use super::kernel::{Kernel, KernelId};
use super::reference::f32::F32_LANES;
use super::reference::i8::{FullyConnectedParams, Scalar as I8Scalar};
use super::simd::{fitting_rows, I16_OFFSET_RANGE};

/// The NEON kernel. Holding a value proves the CPU has Advanced SIMD.
#[derive(Debug, Clone, Copy)]
pub struct Neon {
    _proof: (),
}

impl Neon {
    /// The kernel, if this CPU runs NEON (detected at run time with the
    /// `std` feature, from `cfg(target_feature)` without it).
    #[inline]
    pub fn detect() -> Option<Self> {
        #[cfg(feature = "std")]
        let ok = std::arch::is_aarch64_feature_detected!("neon");
        #[cfg(not(feature = "std"))]
        let ok = cfg!(target_feature = "neon");
        if ok {
            Some(Neon { _proof: () })
        } else {
            None
        }
    }

    /// The kernel without checking.
    ///
    /// # Safety
    /// The CPU must support NEON.
    #[inline(always)]
    pub const unsafe fn new_unchecked() -> Self {
        Neon { _proof: () }
    }
}

impl Kernel for Neon {
    const ID: KernelId = KernelId::Neon;

    #[inline]
    fn dot_f32(self, a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        // SAFETY: `self` proves NEON; both slices have `n` elements.
        unsafe { dot_neon(a.as_ptr(), b.as_ptr(), n) }
    }

    #[inline]
    fn gemv_f32(self, w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
        // SAFETY: `self` proves NEON.
        unsafe { gemv_f32_neon(w, x, b, y) }
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
        // SAFETY: `self` proves NEON.
        unsafe { fc_i8_neon(w, x, bias, p, y) }
    }

    #[inline]
    fn relu_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` proves NEON.
        unsafe { relu_neon(xs) }
    }

    #[inline]
    fn sigmoid_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` proves NEON.
        unsafe { sigmoid_neon(xs) }
    }

    #[inline]
    fn silu_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` proves NEON.
        unsafe { silu_neon(xs) }
    }

    #[inline]
    fn tanh_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` proves NEON.
        unsafe { tanh_neon(xs) }
    }

    #[inline]
    fn gelu_tanh_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` proves NEON.
        unsafe { gelu_tanh_neon(xs) }
    }

    #[inline]
    fn softmax_f32(self, xs: &mut [f32]) {
        // SAFETY: `self` proves NEON.
        unsafe { softmax_neon(xs) }
    }
}

/// Canonical lanes of one row, tail zero-filled.
///
/// # Safety
/// NEON available; `w` and `x` readable for `n` elements.
#[inline(always)]
unsafe fn row_lanes(w: *const f32, x: *const f32, n: usize) -> [float32x4_t; 4] {
    // SAFETY: chunk loads stay below `n`; the tail is read from stack
    // copies of its `t < 16` elements.
    unsafe {
        let mut acc = [vdupq_n_f32(0.0); 4];
        let full = n / F32_LANES;
        for k in 0..full {
            let o = k * F32_LANES;
            for (q, a) in acc.iter_mut().enumerate() {
                *a = vfmaq_f32(*a, vld1q_f32(w.add(o + 4 * q)), vld1q_f32(x.add(o + 4 * q)));
            }
        }
        let t = n % F32_LANES;
        if t != 0 {
            let o = full * F32_LANES;
            acc = tail_fma(acc, w.add(o), x.add(o), t);
        }
        acc
    }
}

/// The canonical tree 8, 4, 2, 1 over four `q` registers.
///
/// # Safety
/// NEON available.
#[inline(always)]
unsafe fn tree(acc: [float32x4_t; 4]) -> f32 {
    // SAFETY: register-only NEON operations.
    unsafe {
        let h8a = vaddq_f32(acc[0], acc[2]); // lanes 0..3 + 8..11
        let h8b = vaddq_f32(acc[1], acc[3]); // lanes 4..7 + 12..15
        let h4 = vaddq_f32(h8a, h8b); // lanes 0..3 + 4..7
        let h2 = vadd_f32(vget_low_f32(h4), vget_high_f32(h4)); // 0,1 + 2,3
        vget_lane_f32::<0>(h2) + vget_lane_f32::<1>(h2)
    }
}

#[target_feature(enable = "neon")]
unsafe fn dot_neon(a: *const f32, b: *const f32, n: usize) -> f32 {
    // SAFETY: the caller's bounds; NEON enabled.
    unsafe { tree(row_lanes(a, b, n)) }
}

#[target_feature(enable = "neon")]
unsafe fn gemv_f32_neon(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let n = x.len();
    if n == 0 {
        super::reference::f32::Scalar::gemv(w, x, b, y);
        return;
    }
    let rows = fitting_rows(w.len(), n, b.len(), y.len());
    let (wp, xp) = (w.as_ptr(), x.as_ptr());
    let full = n / F32_LANES;
    let mut r = 0;
    // SAFETY: rows below `rows` have full weight rows; chunk loads stay
    // below `n` in each row; the tail goes through `row_lanes`' copies.
    unsafe {
        while r + 4 <= rows {
            let mut acc = [[vdupq_n_f32(0.0); 4]; 4];
            for k in 0..full {
                let o = k * F32_LANES;
                let xv = [
                    vld1q_f32(xp.add(o)),
                    vld1q_f32(xp.add(o + 4)),
                    vld1q_f32(xp.add(o + 8)),
                    vld1q_f32(xp.add(o + 12)),
                ];
                for (j, aj) in acc.iter_mut().enumerate() {
                    let wr = wp.add((r + j) * n + o);
                    for (q, a) in aj.iter_mut().enumerate() {
                        *a = vfmaq_f32(*a, vld1q_f32(wr.add(4 * q)), xv[q]);
                    }
                }
            }
            let o = full * F32_LANES;
            for (j, aj) in acc.iter_mut().enumerate() {
                if n > o {
                    *aj = tail_fma(*aj, wp.add((r + j) * n + o), xp.add(o), n - o);
                }
                y[r + j] = tree(*aj) + b[r + j];
            }
            r += 4;
        }
        while r < rows {
            y[r] = tree(row_lanes(wp.add(r * n), xp, n)) + b[r];
            r += 1;
        }
    }
}

/// Adds a tail of `t < 16` elements to running canonical lanes.
///
/// # Safety
/// NEON available; `w`, `x` readable for `t` elements.
#[inline(always)]
unsafe fn tail_fma(
    mut acc: [float32x4_t; 4],
    w: *const f32,
    x: *const f32,
    t: usize,
) -> [float32x4_t; 4] {
    let t = t.min(F32_LANES);
    let mut wt = [0.0f32; F32_LANES];
    let mut xt = [0.0f32; F32_LANES];
    // SAFETY: `t` elements are readable and fit the 16-element buffers.
    unsafe {
        core::ptr::copy_nonoverlapping(w, wt.as_mut_ptr(), t);
        core::ptr::copy_nonoverlapping(x, xt.as_mut_ptr(), t);
        for (q, a) in acc.iter_mut().enumerate() {
            *a = vfmaq_f32(
                *a,
                vld1q_f32(wt.as_ptr().add(4 * q)),
                vld1q_f32(xt.as_ptr().add(4 * q)),
            );
        }
    }
    acc
}

#[target_feature(enable = "neon")]
unsafe fn fc_i8_neon(w: &[i8], x: &[i8], bias: &[i32], p: &FullyConnectedParams<'_>, y: &mut [i8]) {
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

#[target_feature(enable = "neon")]
unsafe fn relu_neon(xs: &mut [f32]) {
    let n = xs.len();
    let p = xs.as_mut_ptr();
    let mut i = 0;
    // SAFETY: 4-lane chunks stay below `n`; the tail is scalar.
    unsafe {
        let zero = vdupq_n_f32(0.0);
        while i + 4 <= n {
            let v = vld1q_f32(p.add(i));
            let keep = vorrq_u32(vcgtq_f32(v, zero), vmvnq_u32(vceqq_f32(v, v)));
            vst1q_f32(p.add(i), vbslq_f32(keep, v, zero));
            i += 4;
        }
    }
    for v in &mut xs[i..] {
        *v = crate::activations::relu(*v);
    }
}

// ------------------------------------------------------ expf activations ----

const LN2_HI: f32 = 6.931_457_5e-1; // 0x3f317200
const LN2_LO: f32 = 1.428_606_8e-6; // 0x35bfbe8e
const INV_LN2: f32 = 1.442_695_1; // 0x3fb8aa3b
const P1: f32 = 1.666_662_5e-1; // 0x3e2aaa8f
const P2: f32 = -2.766_733_3e-3; // 0xbb355215

/// `libm::expf` on four lanes: FreeBSD's `e_expf.c` step for step (argument
/// reduction, the rational approximation with its correctly rounded
/// division, `scalbnf`'s two-step scaling, NaN / overflow / underflow /
/// tiny special cases), with separate multiplies and adds (never `fmla`).
///
/// # Safety
/// NEON must be available.
#[inline(always)]
pub(crate) unsafe fn expf4(x: float32x4_t) -> float32x4_t {
    // SAFETY: register-only NEON operations.
    unsafe {
        let si = vdupq_n_s32;
        let sf = vdupq_n_f32;
        let bits = vreinterpretq_s32_f32(x);
        let hx = vandq_s32(bits, si(0x7fff_ffff));
        let neg = vcltq_s32(bits, si(0));
        let is_nan = vcgtq_s32(hx, si(0x7f80_0000));
        let overflow = vbicq_u32(vcgeq_s32(hx, si(0x42b1_7218)), vorrq_u32(neg, is_nan));
        let underflow = vbicq_u32(vandq_u32(vcgeq_s32(hx, si(0x42cf_f1b5)), neg), is_nan);
        let big = vcgtq_s32(hx, si(0x3eb1_7218));
        let far = vcgtq_s32(hx, si(0x3f85_1592));
        let small = vcgtq_s32(hx, si(0x3900_0000));

        let half = vbslq_f32(neg, sf(-0.5), sf(0.5));
        let k_far = vcvtq_s32_f32(vaddq_f32(vmulq_f32(sf(INV_LN2), x), half));
        let k_near = vbslq_s32(neg, si(-1), si(1));
        let k = vandq_s32(vbslq_s32(far, k_far, k_near), vreinterpretq_s32_u32(big));
        let kf = vcvtq_f32_s32(k);
        let hi = vbslq_f32(big, vsubq_f32(x, vmulq_f32(kf, sf(LN2_HI))), x);
        let lo = vreinterpretq_f32_u32(vandq_u32(
            vreinterpretq_u32_f32(vmulq_f32(kf, sf(LN2_LO))),
            big,
        ));
        let r = vbslq_f32(big, vsubq_f32(hi, lo), x);

        let one = sf(1.0);
        let xx = vmulq_f32(r, r);
        let poly = vaddq_f32(sf(P1), vmulq_f32(xx, sf(P2)));
        let c = vsubq_f32(r, vmulq_f32(xx, poly));
        let q = vdivq_f32(vmulq_f32(r, c), vsubq_f32(sf(2.0), c));
        let y = vaddq_f32(one, vaddq_f32(vsubq_f32(q, lo), hi));

        let up = vcgtq_s32(k, si(127));
        let down = vcltq_s32(k, si(-126));
        let pre = vbslq_f32(up, sf(f32::from_bits(0x7f00_0000)), one);
        let pre = vbslq_f32(down, sf(f32::from_bits(0x0c80_0000)), pre);
        let n = vsubq_s32(k, vandq_s32(vreinterpretq_s32_u32(up), si(127)));
        let n = vaddq_s32(n, vandq_s32(vreinterpretq_s32_u32(down), si(102)));
        let scale = vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32(n, si(127))));
        let y = vmulq_f32(vmulq_f32(y, pre), scale);

        let y = vbslq_f32(small, y, vaddq_f32(one, x));
        let y = vbslq_f32(underflow, sf(0.0), y);
        let y = vbslq_f32(overflow, sf(f32::INFINITY), y);
        vbslq_f32(is_nan, x, y)
    }
}

// `libm::expm1f`'s constants (they differ from `expf`'s), by their bits.
const M1_LN2_HI: f32 = f32::from_bits(0x3f31_7180);
const M1_LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
const Q1: f32 = f32::from_bits(0xbd08_8868);
const Q2: f32 = f32::from_bits(0x3acf_3010);
/// `√(2/π)` and the cubic coefficient, as in `activations/gelu.rs`.
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_C: f32 = 0.044_715;

/// `libm::expm1f` on four lanes for the arguments `tanhf` passes it (`u` in
/// `[−0.52, 20]`): the same steps as the AVX-512 `expm1f16_tanh_domain`.
///
/// # Safety
/// NEON must be available.
#[inline(always)]
unsafe fn expm1f4_tanh_domain(u: float32x4_t) -> float32x4_t {
    // SAFETY: register-only NEON operations.
    unsafe {
        let si = vdupq_n_s32;
        let sf = vdupq_n_f32;
        let bits = vreinterpretq_s32_f32(u);
        let hu = vandq_s32(bits, si(0x7fff_ffff));
        let neg = vcltq_s32(bits, si(0));
        let reduce = vcgtq_s32(hu, si(0x3eb1_7218));
        let near = vcltq_s32(hu, si(0x3f85_1592));
        let tiny = vcltq_s32(hu, si(0x3300_0000));

        let half = vbslq_f32(neg, sf(-0.5), sf(0.5));
        let k_far = vcvtq_s32_f32(vaddq_f32(vmulq_f32(sf(INV_LN2), u), half));
        let k_near = vbslq_s32(neg, si(-1), si(1));
        let k = vandq_s32(
            vbslq_s32(near, k_near, k_far),
            vreinterpretq_s32_u32(reduce),
        );
        let kf = vcvtq_f32_s32(k);
        let hi = vsubq_f32(u, vmulq_f32(kf, sf(M1_LN2_HI)));
        let lo = vmulq_f32(kf, sf(M1_LN2_LO));
        let xr = vsubq_f32(hi, lo);
        let x = vbslq_f32(reduce, xr, u);
        let c = vbslq_f32(reduce, vsubq_f32(vsubq_f32(hi, xr), lo), sf(0.0));

        let one = sf(1.0);
        let hfx = vmulq_f32(sf(0.5), x);
        let hxs = vmulq_f32(x, hfx);
        let r1 = vaddq_f32(
            one,
            vmulq_f32(hxs, vaddq_f32(sf(Q1), vmulq_f32(hxs, sf(Q2)))),
        );
        let t = vsubq_f32(sf(3.0), vmulq_f32(r1, hfx));
        let e = vmulq_f32(
            hxs,
            vdivq_f32(vsubq_f32(r1, t), vsubq_f32(sf(6.0), vmulq_f32(x, t))),
        );
        let r0 = vsubq_f32(x, vsubq_f32(vmulq_f32(x, e), hxs));
        let e = vsubq_f32(vmulq_f32(x, vsubq_f32(e, c)), c);
        let e = vsubq_f32(e, hxs);
        let half1 = sf(0.5);
        let rm1 = vsubq_f32(vmulq_f32(half1, vsubq_f32(x, e)), half1);
        let low = vcltq_f32(x, sf(-0.25));
        let rp1_low = vmulq_f32(sf(-2.0), vsubq_f32(e, vaddq_f32(x, half1)));
        let rp1_high = vaddq_f32(one, vmulq_f32(sf(2.0), vsubq_f32(x, e)));
        let rp1 = vbslq_f32(low, rp1_low, rp1_high);
        let twopk = vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32(k, si(0x7f))));
        let uf = vreinterpretq_f32_s32(vshlq_n_s32::<23>(vsubq_s32(si(0x7f), k)));
        let below23 = vcltq_s32(k, si(23));
        let rk_low = vmulq_f32(vaddq_f32(vsubq_f32(x, e), vsubq_f32(one, uf)), twopk);
        let rk_high = vmulq_f32(vaddq_f32(vsubq_f32(x, vaddq_f32(e, uf)), one), twopk);
        let rk = vbslq_f32(below23, rk_low, rk_high);
        let y = vbslq_f32(vceqq_s32(k, si(0)), r0, rk);
        let y = vbslq_f32(vceqq_s32(k, si(-1)), rm1, y);
        let y = vbslq_f32(vceqq_s32(k, si(1)), rp1, y);
        vbslq_f32(vbicq_u32(tiny, reduce), u, y)
    }
}

/// `libm::tanhf` on four lanes (the same steps as the AVX-512 `tanhf16`).
///
/// # Safety
/// NEON must be available.
#[inline(always)]
unsafe fn tanhf4(x: float32x4_t) -> float32x4_t {
    // SAFETY: register-only NEON operations.
    unsafe {
        let si = vdupq_n_s32;
        let sf = vdupq_n_f32;
        let bits = vreinterpretq_s32_f32(x);
        let sign = vandq_s32(bits, si(i32::MIN));
        let w = vandq_s32(bits, si(0x7fff_ffff));
        let ax = vreinterpretq_f32_s32(w);
        let above_10 = vcgtq_s32(w, si(0x4120_0000));
        let above_big = vcgtq_s32(w, si(0x3f0c_9f54));
        let above_mid = vcgtq_s32(w, si(0x3e82_c578));
        let normal = vcgtq_s32(w, si(0x007f_ffff));
        let two = sf(2.0);
        let u = vbslq_f32(above_mid, vmulq_f32(two, ax), vmulq_f32(sf(-2.0), ax));
        let t = expm1f4_tanh_domain(u);
        let t2 = vaddq_f32(t, two);
        let one = sf(1.0);
        let tt_big = vsubq_f32(one, vdivq_f32(two, t2));
        let tt_mid = vdivq_f32(t, t2);
        let tt_small = vdivq_f32(vnegq_f32(t), t2);
        let tt_huge = vaddq_f32(one, vdivq_f32(sf(0.0), ax));
        let tt = vbslq_f32(normal, tt_small, ax);
        let tt = vbslq_f32(above_mid, tt_mid, tt);
        let tt = vbslq_f32(above_big, tt_big, tt);
        let tt = vbslq_f32(above_10, tt_huge, tt);
        vreinterpretq_f32_s32(veorq_s32(vreinterpretq_s32_f32(tt), sign))
    }
}

/// Replaces every element `v` of `xs` by `$body`, four lanes at a time, the
/// tail through a zero-padded copy. A macro, not a closure, so the body is
/// compiled with the caller's target features.
///
/// Must be used inside an `unsafe` block of a function with NEON.
macro_rules! map4 {
    ($xs:expr, |$v:ident| $body:expr) => {{
        let xs: &mut [f32] = $xs;
        let n = xs.len();
        let p = xs.as_mut_ptr();
        let mut i = 0;
        while i + 4 <= n {
            let $v = vld1q_f32(p.add(i));
            vst1q_f32(p.add(i), $body);
            i += 4;
        }
        if i < n {
            let mut t = [0.0f32; 4];
            t[..n - i].copy_from_slice(&xs[i..]);
            let $v = vld1q_f32(t.as_ptr());
            vst1q_f32(t.as_mut_ptr(), $body);
            xs[i..].copy_from_slice(&t[..n - i]);
        }
    }};
}

/// `1 / (1 + expf(−x))`.
///
/// # Safety
/// NEON must be available.
#[inline(always)]
unsafe fn sigmoid4(x: float32x4_t) -> float32x4_t {
    // SAFETY: register-only NEON operations.
    unsafe {
        let one = vdupq_n_f32(1.0);
        vdivq_f32(one, vaddq_f32(one, expf4(vnegq_f32(x))))
    }
}

#[target_feature(enable = "neon")]
unsafe fn sigmoid_neon(xs: &mut [f32]) {
    // SAFETY: NEON enabled; `map4!` stays inside `xs`.
    unsafe { map4!(xs, |x| sigmoid4(x)) }
}

#[target_feature(enable = "neon")]
unsafe fn silu_neon(xs: &mut [f32]) {
    // SAFETY: NEON enabled; `map4!` stays inside `xs`.
    unsafe { map4!(xs, |x| vmulq_f32(x, sigmoid4(x))) }
}

#[target_feature(enable = "neon")]
unsafe fn tanh_neon(xs: &mut [f32]) {
    // SAFETY: NEON enabled; `map4!` stays inside `xs`.
    unsafe { map4!(xs, |x| tanhf4(x)) }
}

#[target_feature(enable = "neon")]
unsafe fn gelu_tanh_neon(xs: &mut [f32]) {
    // SAFETY: NEON enabled; `map4!` stays inside `xs`.
    unsafe {
        let c = vdupq_n_f32(GELU_C);
        let k = vdupq_n_f32(SQRT_2_OVER_PI);
        let half = vdupq_n_f32(0.5);
        let one = vdupq_n_f32(1.0);
        map4!(xs, |x| {
            let cube = vmulq_f32(vmulq_f32(vmulq_f32(c, x), x), x);
            let u = vmulq_f32(k, vaddq_f32(x, cube));
            vmulq_f32(vmulq_f32(half, x), vaddq_f32(one, tanhf4(u)))
        })
    }
}

#[target_feature(enable = "neon")]
unsafe fn softmax_neon(xs: &mut [f32]) {
    let m = xs.iter().fold(f32::NEG_INFINITY, |m, &x| libm::fmaxf(m, x));
    // SAFETY: NEON enabled; `map4!` stays inside `xs`.
    unsafe {
        let mv = vdupq_n_f32(m);
        map4!(&mut *xs, |x| expf4(vsubq_f32(x, mv)));
    }
    let s = super::reference::f32::Scalar::sum(xs);
    // SAFETY: NEON enabled; `map4!` stays inside `xs`.
    unsafe {
        let sv = vdupq_n_f32(s);
        map4!(xs, |x| vdivq_f32(x, sv));
    }
}

#[cfg(all(test, not(miri)))]
mod tests {
    extern crate std;
    use super::*;

    #[target_feature(enable = "neon")]
    unsafe fn exp_slice(xs: &mut [f32]) {
        // SAFETY: NEON enabled; `map4!` stays inside `xs`.
        unsafe { map4!(xs, |x| expf4(x)) }
    }

    #[target_feature(enable = "neon")]
    unsafe fn tanh_slice(xs: &mut [f32]) {
        // SAFETY: NEON enabled.
        unsafe { tanh_neon(xs) }
    }

    #[test]
    fn neon_tanhf_equals_libm_on_a_sweep_of_bit_patterns() {
        if !std::arch::is_aarch64_feature_detected!("neon") {
            return;
        }
        let mut xs: std::vec::Vec<f32> = (0..=u32::MAX).step_by(4093).map(f32::from_bits).collect();
        for t in [
            0x3f0c9f54u32,
            0x41200000,
            0x3e82c578,
            0x00800000,
            0x3eb17218,
            0x3f851592,
        ] {
            for d in 0..9u32 {
                let b = t.wrapping_add(d).wrapping_sub(4);
                xs.push(f32::from_bits(b));
                xs.push(f32::from_bits(b | 0x8000_0000));
            }
        }
        let mut got = xs.clone();
        // SAFETY: NEON detected above.
        unsafe { tanh_slice(&mut got) };
        for (x, g) in xs.iter().zip(&got) {
            let want = libm::tanhf(*x);
            let same = g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan());
            assert!(same, "tanhf({x:e} = {:#x}): {g:e} vs {want:e}", x.to_bits());
        }
    }

    #[test]
    fn neon_expf_equals_libm_on_a_sweep_of_bit_patterns() {
        if !std::arch::is_aarch64_feature_detected!("neon") {
            return;
        }
        // Every 4093rd bit pattern (about a million, all exponents and signs;
        // coarser than the x86 sweep because this runs under qemu), plus ±4
        // ulps around every branch threshold.
        let mut xs: std::vec::Vec<f32> = (0..=u32::MAX).step_by(4093).map(f32::from_bits).collect();
        for t in [
            0x42aeac50u32,
            0x42b17218,
            0x42cff1b5,
            0x3eb17218,
            0x3f851592,
            0x39000000,
            0x7f800000,
        ] {
            for d in 0..9u32 {
                let b = t.wrapping_add(d).wrapping_sub(4);
                xs.push(f32::from_bits(b));
                xs.push(f32::from_bits(b | 0x8000_0000));
            }
        }
        let mut got = xs.clone();
        // SAFETY: NEON detected above.
        unsafe { exp_slice(&mut got) };
        for (x, g) in xs.iter().zip(&got) {
            let want = libm::expf(*x);
            let same = g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan());
            assert!(same, "expf({x:e} = {:#x}): {g:e} vs {want:e}", x.to_bits());
        }
    }
}
