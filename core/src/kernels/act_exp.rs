//! `expf`-based activations (sigmoid, SiLU, softmax) on AVX-512, bit-exact
//! with the scalar definitions in [`crate::activations`].
//!
//! The scalar activations call `libm::expf` (FreeBSD's `e_expf.c`, plain
//! f32 arithmetic). [`expf16`] is that algorithm lane for lane: the same
//! constants, the same argument reduction (`k` from `INV_LN2·x ± 0.5`
//! truncated, or ±1 near zero), the same unfused multiplies, adds and the
//! correctly rounded division, the same special cases (NaN, overflow to
//! +∞, underflow to 0, `1 + x` for tiny `x`) and `scalbnf`'s two-step
//! scaling for `k > 127` or `k < −126` (multiplying by 1.0 where libm skips
//! a step changes no bit). No fused multiply-add is used anywhere: LLVM
//! does not contract separate `vmulps`/`vaddps` intrinsics.

use core::arch::x86_64::*;

const LN2_HI: f32 = 6.931_457_5e-1; // 0x3f317200
const LN2_LO: f32 = 1.428_606_8e-6; // 0x35bfbe8e
const INV_LN2: f32 = 1.442_695_1; // 0x3fb8aa3b
const P1: f32 = 1.666_662_5e-1; // 0x3e2aaa8f
const P2: f32 = -2.766_733_3e-3; // 0xbb355215

/// `libm::expf` on sixteen lanes.
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
pub(crate) unsafe fn expf16(x: __m512) -> __m512 {
    // SAFETY: register-only AVX-512 F operations.
    unsafe {
        let bits = _mm512_castps_si512(x);
        let hx = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fff_ffff));
        let neg = _mm512_cmplt_epi32_mask(bits, _mm512_setzero_si512());
        let is_nan = _mm512_cmpgt_epi32_mask(hx, _mm512_set1_epi32(0x7f80_0000));
        let overflow = _mm512_cmpge_epi32_mask(hx, _mm512_set1_epi32(0x42b1_7218)) & !neg & !is_nan;
        let underflow = _mm512_cmpge_epi32_mask(hx, _mm512_set1_epi32(0x42cf_f1b5)) & neg & !is_nan;
        // |x| > 0.5·ln2: reduce; > 1.5·ln2: k from the product; > 2^-14: polynomial.
        let big = _mm512_cmpgt_epi32_mask(hx, _mm512_set1_epi32(0x3eb1_7218));
        let far = _mm512_cmpgt_epi32_mask(hx, _mm512_set1_epi32(0x3f85_1592));
        let small = _mm512_cmpgt_epi32_mask(hx, _mm512_set1_epi32(0x3900_0000));

        // k: trunc(INV_LN2·x + ±0.5) far out, ±1 nearer, 0 below 0.5·ln2.
        let half = _mm512_mask_blend_ps(neg, _mm512_set1_ps(0.5), _mm512_set1_ps(-0.5));
        let k_far = _mm512_cvttps_epi32(_mm512_add_ps(
            _mm512_mul_ps(_mm512_set1_ps(INV_LN2), x),
            half,
        ));
        let k_near = _mm512_mask_blend_epi32(neg, _mm512_set1_epi32(1), _mm512_set1_epi32(-1));
        let k = _mm512_mask_blend_epi32(far, k_near, k_far);
        let k = _mm512_maskz_mov_epi32(big, k);
        let kf = _mm512_cvtepi32_ps(k);
        // hi = x − k·LN2_HI, lo = k·LN2_LO, x = hi − lo (only where k ≠ 0;
        // elsewhere hi = x, lo = 0 as in libm).
        let hi = _mm512_mask_sub_ps(x, big, x, _mm512_mul_ps(kf, _mm512_set1_ps(LN2_HI)));
        let lo = _mm512_maskz_mul_ps(big, kf, _mm512_set1_ps(LN2_LO));
        let r = _mm512_mask_sub_ps(x, big, hi, lo);

        let one = _mm512_set1_ps(1.0);
        let xx = _mm512_mul_ps(r, r);
        let poly = _mm512_add_ps(_mm512_set1_ps(P1), _mm512_mul_ps(xx, _mm512_set1_ps(P2)));
        let c = _mm512_sub_ps(r, _mm512_mul_ps(xx, poly));
        let q = _mm512_div_ps(_mm512_mul_ps(r, c), _mm512_sub_ps(_mm512_set1_ps(2.0), c));
        let y = _mm512_add_ps(one, _mm512_add_ps(_mm512_sub_ps(q, lo), hi));

        // scalbnf(y, k): pre-scale by 2^127 (k > 127) or 2^-102 (k < −126).
        let up = _mm512_cmpgt_epi32_mask(k, _mm512_set1_epi32(127));
        let down = _mm512_cmplt_epi32_mask(k, _mm512_set1_epi32(-126));
        let pre = _mm512_mask_blend_ps(up, one, _mm512_set1_ps(f32::from_bits(0x7f00_0000)));
        let pre = _mm512_mask_blend_ps(down, pre, _mm512_set1_ps(f32::from_bits(0x0c80_0000)));
        let n = _mm512_mask_sub_epi32(k, up, k, _mm512_set1_epi32(127));
        let n = _mm512_mask_add_epi32(n, down, n, _mm512_set1_epi32(102));
        let scale = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(
            n,
            _mm512_set1_epi32(127),
        )));
        let y = _mm512_mul_ps(_mm512_mul_ps(y, pre), scale);

        // Special cases, last wins as in libm's order of returns.
        let y = _mm512_mask_blend_ps(small, _mm512_add_ps(one, x), y);
        let y = _mm512_mask_blend_ps(underflow, y, _mm512_setzero_ps());
        let y = _mm512_mask_blend_ps(overflow, y, _mm512_set1_ps(f32::INFINITY));
        _mm512_mask_blend_ps(is_nan, y, x)
    }
}

/// Replaces every element `v` of `xs` by `$body`, sixteen lanes at a time,
/// the tail through masked loads and stores. A macro rather than a function
/// taking a closure: a closure would be compiled without the caller's target
/// features and its intrinsics would become calls.
///
/// Must be used inside an `unsafe` block of a function with AVX-512 F.
macro_rules! map16 {
    ($xs:expr, |$v:ident| $body:expr) => {{
        let xs: &mut [f32] = $xs;
        let n = xs.len();
        let p = xs.as_mut_ptr();
        let mut i = 0;
        // Full chunks stay below `n`; the tail is masked to `n`.
        while i + 16 <= n {
            let $v = _mm512_loadu_ps(p.add(i));
            _mm512_storeu_ps(p.add(i), $body);
            i += 16;
        }
        if i < n {
            let m = ((1u32 << (n - i)) - 1) as __mmask16;
            let $v = _mm512_maskz_loadu_ps(m, p.add(i));
            _mm512_mask_storeu_ps(p.add(i), m, $body);
        }
    }};
}

// `libm::expm1f`'s constants (they differ from `expf`'s), by their bits.
const M1_LN2_HI: f32 = f32::from_bits(0x3f31_7180);
const M1_LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
const Q1: f32 = f32::from_bits(0xbd08_8868); // -0x888868.0p-28
const Q2: f32 = f32::from_bits(0x3acf_3010); // 0xcf3010.0p-33

/// `libm::expm1f` on sixteen lanes, for the arguments `tanhf` passes it:
/// `u` in `[−0.52, 20]` (finite, so none of expm1f's overflow/NaN/−1
/// special cases, and `k` in −1..=29). Same argument reduction (with the
/// correction term `c`), the same rational approximation and the same
/// per-`k` reconstructions (`k = 0`, `−1`, `1`, `2..23`, `23..=56`) in the
/// same operation order; `|u| < 2^-25` returns `u`.
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
unsafe fn expm1f16_tanh_domain(u: __m512) -> __m512 {
    // SAFETY: register-only AVX-512 F operations.
    unsafe {
        let bits = _mm512_castps_si512(u);
        let hu = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fff_ffff));
        let neg = _mm512_cmplt_epi32_mask(bits, _mm512_setzero_si512());
        let reduce = _mm512_cmpgt_epi32_mask(hu, _mm512_set1_epi32(0x3eb1_7218));
        let near = _mm512_cmplt_epi32_mask(hu, _mm512_set1_epi32(0x3f85_1592));
        let tiny = _mm512_cmplt_epi32_mask(hu, _mm512_set1_epi32(0x3300_0000));

        let half = _mm512_mask_blend_ps(neg, _mm512_set1_ps(0.5), _mm512_set1_ps(-0.5));
        let k_far = _mm512_cvttps_epi32(_mm512_add_ps(
            _mm512_mul_ps(_mm512_set1_ps(INV_LN2), u),
            half,
        ));
        let k_near = _mm512_mask_blend_epi32(neg, _mm512_set1_epi32(1), _mm512_set1_epi32(-1));
        let k = _mm512_maskz_mov_epi32(reduce, _mm512_mask_blend_epi32(near, k_far, k_near));
        // libm writes the |k| = 1 case as u ∓ LN2_HI and ±LN2_LO: the same
        // values as u − k·LN2_HI and k·LN2_LO for k = ±1.
        let kf = _mm512_cvtepi32_ps(k);
        let hi = _mm512_sub_ps(u, _mm512_mul_ps(kf, _mm512_set1_ps(M1_LN2_HI)));
        let lo = _mm512_mul_ps(kf, _mm512_set1_ps(M1_LN2_LO));
        let xr = _mm512_sub_ps(hi, lo);
        let x = _mm512_mask_blend_ps(reduce, u, xr);
        let c = _mm512_maskz_mov_ps(reduce, _mm512_sub_ps(_mm512_sub_ps(hi, xr), lo));

        let one = _mm512_set1_ps(1.0);
        let hfx = _mm512_mul_ps(_mm512_set1_ps(0.5), x);
        let hxs = _mm512_mul_ps(x, hfx);
        let r1 = _mm512_add_ps(
            one,
            _mm512_mul_ps(
                hxs,
                _mm512_add_ps(_mm512_set1_ps(Q1), _mm512_mul_ps(hxs, _mm512_set1_ps(Q2))),
            ),
        );
        let t = _mm512_sub_ps(_mm512_set1_ps(3.0), _mm512_mul_ps(r1, hfx));
        let e = _mm512_mul_ps(
            hxs,
            _mm512_div_ps(
                _mm512_sub_ps(r1, t),
                _mm512_sub_ps(_mm512_set1_ps(6.0), _mm512_mul_ps(x, t)),
            ),
        );
        // k = 0.
        let r0 = _mm512_sub_ps(x, _mm512_sub_ps(_mm512_mul_ps(x, e), hxs));
        let e = _mm512_sub_ps(_mm512_mul_ps(x, _mm512_sub_ps(e, c)), c);
        let e = _mm512_sub_ps(e, hxs);
        // k = −1.
        let half1 = _mm512_set1_ps(0.5);
        let rm1 = _mm512_sub_ps(_mm512_mul_ps(half1, _mm512_sub_ps(x, e)), half1);
        // k = 1.
        let low = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_set1_ps(-0.25));
        let rp1_low = _mm512_mul_ps(
            _mm512_set1_ps(-2.0),
            _mm512_sub_ps(e, _mm512_add_ps(x, half1)),
        );
        let rp1_high = _mm512_add_ps(one, _mm512_mul_ps(_mm512_set1_ps(2.0), _mm512_sub_ps(x, e)));
        let rp1 = _mm512_mask_blend_ps(low, rp1_high, rp1_low);
        // 2 ≤ k ≤ 56.
        let twopk = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(
            k,
            _mm512_set1_epi32(0x7f),
        )));
        let uf = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_sub_epi32(
            _mm512_set1_epi32(0x7f),
            k,
        )));
        let below23 = _mm512_cmplt_epi32_mask(k, _mm512_set1_epi32(23));
        let rk_low = _mm512_mul_ps(
            _mm512_add_ps(_mm512_sub_ps(x, e), _mm512_sub_ps(one, uf)),
            twopk,
        );
        let rk_high = _mm512_mul_ps(
            _mm512_add_ps(_mm512_sub_ps(x, _mm512_add_ps(e, uf)), one),
            twopk,
        );
        let rk = _mm512_mask_blend_ps(below23, rk_high, rk_low);

        let is0 = _mm512_cmpeq_epi32_mask(k, _mm512_setzero_si512());
        let ism1 = _mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(-1));
        let isp1 = _mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(1));
        let y = _mm512_mask_blend_ps(is0, rk, r0);
        let y = _mm512_mask_blend_ps(ism1, y, rm1);
        let y = _mm512_mask_blend_ps(isp1, y, rp1);
        _mm512_mask_blend_ps(tiny & !reduce, y, u)
    }
}

/// `libm::tanhf` on sixteen lanes: on `|x|`, `1 + 0/|x|` above 10 (1, or
/// NaN for NaN), `1 − 2/(t + 2)` above `ln(3)/2`, `t/(t + 2)` above
/// `ln(5/3)/2` (with `t = expm1f(2|x|)`), `−t/(t + 2)` with
/// `t = expm1f(−2|x|)` down to the smallest normal, `|x|` below; then the
/// sign of `x`.
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
pub(crate) unsafe fn tanhf16(x: __m512) -> __m512 {
    // SAFETY: register-only AVX-512 F operations.
    unsafe {
        let bits = _mm512_castps_si512(x);
        let sign = _mm512_and_si512(bits, _mm512_set1_epi32(i32::MIN));
        let w = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fff_ffff));
        let ax = _mm512_castsi512_ps(w);
        let above_10 = _mm512_cmpgt_epi32_mask(w, _mm512_set1_epi32(0x4120_0000));
        let above_big = _mm512_cmpgt_epi32_mask(w, _mm512_set1_epi32(0x3f0c_9f54));
        let above_mid = _mm512_cmpgt_epi32_mask(w, _mm512_set1_epi32(0x3e82_c578));
        let normal = _mm512_cmpgt_epi32_mask(w, _mm512_set1_epi32(0x007f_ffff));

        let two = _mm512_set1_ps(2.0);
        let u = _mm512_mask_blend_ps(
            above_mid,
            _mm512_mul_ps(_mm512_set1_ps(-2.0), ax),
            _mm512_mul_ps(two, ax),
        );
        let t = expm1f16_tanh_domain(u);
        let t2 = _mm512_add_ps(t, two);
        let one = _mm512_set1_ps(1.0);
        let tt_big = _mm512_sub_ps(one, _mm512_div_ps(two, t2));
        let tt_mid = _mm512_div_ps(t, t2);
        let tt_small = _mm512_div_ps(_mm512_sub_ps(_mm512_setzero_ps(), t), t2);
        let tt_huge = _mm512_add_ps(one, _mm512_div_ps(_mm512_setzero_ps(), ax));
        let tt = _mm512_mask_blend_ps(normal, ax, tt_small);
        let tt = _mm512_mask_blend_ps(above_mid, tt, tt_mid);
        let tt = _mm512_mask_blend_ps(above_big, tt, tt_big);
        let tt = _mm512_mask_blend_ps(above_10, tt, tt_huge);
        _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(tt), sign))
    }
}

/// tanh in place, as [`crate::activations::tanh`].
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
pub(crate) unsafe fn tanh(xs: &mut [f32]) {
    // SAFETY: AVX-512 F (caller); `map16!` stays inside `xs`.
    unsafe { map16!(xs, |x| tanhf16(x)) }
}

/// `√(2/π)` and the cubic coefficient, as in `activations/gelu.rs`.
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_C: f32 = 0.044_715;

/// GELU (tanh form) in place, as [`crate::activations::gelu_tanh`]:
/// `u = √(2/π)·(x + ((c·x)·x)·x)`, `(0.5·x)·(1 + tanh u)`.
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
pub(crate) unsafe fn gelu_tanh(xs: &mut [f32]) {
    // SAFETY: AVX-512 F (caller); `map16!` stays inside `xs`.
    unsafe {
        let c = _mm512_set1_ps(GELU_C);
        let k = _mm512_set1_ps(SQRT_2_OVER_PI);
        let half = _mm512_set1_ps(0.5);
        let one = _mm512_set1_ps(1.0);
        map16!(xs, |x| {
            let cube = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(c, x), x), x);
            let u = _mm512_mul_ps(k, _mm512_add_ps(x, cube));
            _mm512_mul_ps(_mm512_mul_ps(half, x), _mm512_add_ps(one, tanhf16(u)))
        })
    }
}

/// `1 / (1 + expf(−x))`, as [`crate::activations::sigmoid`].
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
unsafe fn sigmoid16(x: __m512) -> __m512 {
    // SAFETY: register-only AVX-512 F operations.
    unsafe {
        let one = _mm512_set1_ps(1.0);
        let e = expf16(_mm512_sub_ps(_mm512_setzero_ps(), x));
        _mm512_div_ps(one, _mm512_add_ps(one, e))
    }
}

/// Sigmoid in place.
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
pub(crate) unsafe fn sigmoid(xs: &mut [f32]) {
    // SAFETY: AVX-512 F (caller); `map16!` stays inside `xs`.
    unsafe { map16!(xs, |x| sigmoid16(x)) }
}

/// SiLU `x·σ(x)` in place, as [`crate::activations::silu`].
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
pub(crate) unsafe fn silu(xs: &mut [f32]) {
    // SAFETY: AVX-512 F (caller); `map16!` stays inside `xs`.
    unsafe { map16!(xs, |x| _mm512_mul_ps(x, sigmoid16(x))) }
}

/// Softmax in place, as [`crate::activations::softmax`]: the maximum by the
/// same sequential `fmaxf` fold (its NaN handling is order-dependent), the
/// exponentials sixteen at a time, the sum in the canonical order, the
/// divisions sixteen at a time.
///
/// # Safety
/// AVX-512 F must be available.
#[inline(always)]
pub(crate) unsafe fn softmax(xs: &mut [f32]) {
    let m = xs.iter().fold(f32::NEG_INFINITY, |m, &x| libm::fmaxf(m, x));
    // SAFETY: AVX-512 F (caller); `map16!` stays inside `xs`.
    unsafe {
        let mv = _mm512_set1_ps(m);
        map16!(&mut *xs, |x| expf16(_mm512_sub_ps(x, mv)));
    }
    let s = super::reference::f32::Scalar::sum(xs);
    // SAFETY: AVX-512 F (caller); `map16!` stays inside `xs`.
    unsafe {
        let sv = _mm512_set1_ps(s);
        map16!(xs, |x| _mm512_div_ps(x, sv));
    }
}

#[cfg(all(test, not(miri)))]
mod tests {
    extern crate std;
    use super::*;

    fn run(f: unsafe fn(&mut [f32]), xs: &mut [f32]) {
        // SAFETY: the callers check AVX-512 F first.
        unsafe { f(xs) }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn exp_slice(xs: &mut [f32]) {
        // SAFETY: AVX-512 F enabled; `map16!` stays inside `xs`.
        unsafe { map16!(xs, |x| expf16(x)) }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn sigmoid_tf(xs: &mut [f32]) {
        // SAFETY: AVX-512 F enabled.
        unsafe { sigmoid(xs) }
    }

    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// Every 251st f32 bit pattern (17 million of them, all exponents and
    /// signs), plus ±4 ulps around every branch threshold of `expf`.
    pub(super) fn sweep() -> std::vec::Vec<f32> {
        let mut v: std::vec::Vec<f32> = (0..=u32::MAX).step_by(251).map(f32::from_bits).collect();
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
                v.push(f32::from_bits(b));
                v.push(f32::from_bits(b | 0x8000_0000));
            }
        }
        v
    }

    #[test]
    fn avx512_expf_equals_libm_on_a_sweep_of_all_bit_patterns() {
        if !std::is_x86_feature_detected!("avx512f") {
            return;
        }
        let xs = sweep();
        assert!(xs.len() > 17_000_000);
        let mut got = xs.clone();
        run(exp_slice, &mut got);
        for (x, g) in xs.iter().zip(&got) {
            let want = libm::expf(*x);
            assert!(
                same(*g, want),
                "expf({x:e} = {:#x}): {g:e} vs {want:e}",
                x.to_bits()
            );
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn tanh_tf(xs: &mut [f32]) {
        // SAFETY: AVX-512 F enabled.
        unsafe { tanh(xs) }
    }

    #[test]
    fn avx512_tanhf_equals_libm_on_a_sweep_of_all_bit_patterns() {
        if !std::is_x86_feature_detected!("avx512f") {
            return;
        }
        let mut xs = sweep();
        // tanhf's own thresholds, ±4 ulps, both signs.
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
        run(tanh_tf, &mut got);
        for (x, g) in xs.iter().zip(&got) {
            let want = libm::tanhf(*x);
            assert!(
                same(*g, want),
                "tanhf({x:e} = {:#x}): {g:e} vs {want:e}",
                x.to_bits()
            );
        }
    }

    #[test]
    fn avx512_sigmoid_equals_scalar_on_a_sweep() {
        if !std::is_x86_feature_detected!("avx512f") {
            return;
        }
        let xs: std::vec::Vec<f32> = sweep().into_iter().step_by(7).collect();
        let mut got = xs.clone();
        run(sigmoid_tf, &mut got);
        for (x, g) in xs.iter().zip(&got) {
            let want = crate::activations::sigmoid(*x);
            assert!(same(*g, want), "sigmoid({x:e}): {g:e} vs {want:e}");
        }
    }
}

/// The AVX2 twins: [`expf8`] is [`expf16`] on eight lanes with vector masks.
pub(crate) mod avx2 {
    use super::{INV_LN2, LN2_HI, LN2_LO, P1, P2};
    use core::arch::x86_64::*;

    /// Broadcast.
    ///
    /// # Safety
    /// AVX must be available.
    #[inline(always)]
    unsafe fn si(v: i32) -> __m256i {
        // SAFETY: AVX (caller).
        unsafe { _mm256_set1_epi32(v) }
    }

    /// Lane-wise `a > b` (signed) as an all-ones mask.
    ///
    /// # Safety
    /// AVX2 must be available.
    #[inline(always)]
    unsafe fn gt(a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: AVX2 (caller).
        unsafe { _mm256_cmpgt_epi32(a, b) }
    }

    /// A mask as floats.
    ///
    /// # Safety
    /// AVX must be available.
    #[inline(always)]
    unsafe fn f(m: __m256i) -> __m256 {
        // SAFETY: AVX (caller).
        unsafe { _mm256_castsi256_ps(m) }
    }

    /// `a` where the mask is set, else `b`.
    ///
    /// # Safety
    /// AVX must be available.
    #[inline(always)]
    unsafe fn sel(m: __m256i, a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX (caller).
        unsafe { _mm256_blendv_ps(b, a, f(m)) }
    }

    /// `a` where the mask is set, else `b` (integers).
    ///
    /// # Safety
    /// AVX2 must be available.
    #[inline(always)]
    unsafe fn seli(m: __m256i, a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: AVX2 (caller).
        unsafe { _mm256_blendv_epi8(b, a, m) }
    }

    /// `libm::expf` on eight lanes (same steps as [`super::expf16`]).
    ///
    /// # Safety
    /// AVX2 must be available.
    #[inline(always)]
    pub(crate) unsafe fn expf8(x: __m256) -> __m256 {
        // SAFETY: register-only AVX/AVX2 operations.
        unsafe {
            let bits = _mm256_castps_si256(x);
            let hx = _mm256_and_si256(bits, si(0x7fff_ffff));
            let neg = gt(_mm256_setzero_si256(), bits);
            let is_nan = gt(hx, si(0x7f80_0000));
            let not_nan_pos = _mm256_andnot_si256(_mm256_or_si256(neg, is_nan), si(-1));
            let overflow = _mm256_and_si256(gt(hx, si(0x42b1_7218 - 1)), not_nan_pos);
            let underflow =
                _mm256_andnot_si256(is_nan, _mm256_and_si256(gt(hx, si(0x42cf_f1b5 - 1)), neg));
            let big = gt(hx, si(0x3eb1_7218));
            let far = gt(hx, si(0x3f85_1592));
            let small = gt(hx, si(0x3900_0000));

            let half = sel(neg, _mm256_set1_ps(-0.5), _mm256_set1_ps(0.5));
            let k_far = _mm256_cvttps_epi32(_mm256_add_ps(
                _mm256_mul_ps(_mm256_set1_ps(INV_LN2), x),
                half,
            ));
            let k_near = seli(neg, si(-1), si(1));
            let k = _mm256_and_si256(seli(far, k_far, k_near), big);
            let kf = _mm256_cvtepi32_ps(k);
            let hi = sel(
                big,
                _mm256_sub_ps(x, _mm256_mul_ps(kf, _mm256_set1_ps(LN2_HI))),
                x,
            );
            let lo = _mm256_and_ps(_mm256_mul_ps(kf, _mm256_set1_ps(LN2_LO)), f(big));
            let r = sel(big, _mm256_sub_ps(hi, lo), x);

            let one = _mm256_set1_ps(1.0);
            let xx = _mm256_mul_ps(r, r);
            let poly = _mm256_add_ps(_mm256_set1_ps(P1), _mm256_mul_ps(xx, _mm256_set1_ps(P2)));
            let c = _mm256_sub_ps(r, _mm256_mul_ps(xx, poly));
            let q = _mm256_div_ps(_mm256_mul_ps(r, c), _mm256_sub_ps(_mm256_set1_ps(2.0), c));
            let y = _mm256_add_ps(one, _mm256_add_ps(_mm256_sub_ps(q, lo), hi));

            let up = gt(k, si(127));
            let down = gt(si(-126), k);
            let pre = sel(up, _mm256_set1_ps(f32::from_bits(0x7f00_0000)), one);
            let pre = sel(down, _mm256_set1_ps(f32::from_bits(0x0c80_0000)), pre);
            let n = _mm256_sub_epi32(k, _mm256_and_si256(up, si(127)));
            let n = _mm256_add_epi32(n, _mm256_and_si256(down, si(102)));
            let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n, si(127))));
            let y = _mm256_mul_ps(_mm256_mul_ps(y, pre), scale);

            let y = sel(small, y, _mm256_add_ps(one, x));
            let y = sel(underflow, _mm256_setzero_ps(), y);
            let y = sel(overflow, _mm256_set1_ps(f32::INFINITY), y);
            sel(is_nan, x, y)
        }
    }

    /// As [`super::map16`], eight lanes, the tail through a zero-padded copy.
    ///
    /// Must be used inside an `unsafe` block of a function with AVX2.
    macro_rules! map8 {
        ($xs:expr, |$v:ident| $body:expr) => {{
            let xs: &mut [f32] = $xs;
            let n = xs.len();
            let p = xs.as_mut_ptr();
            let mut i = 0;
            while i + 8 <= n {
                let $v = _mm256_loadu_ps(p.add(i));
                _mm256_storeu_ps(p.add(i), $body);
                i += 8;
            }
            if i < n {
                let mut t = [0.0f32; 8];
                t[..n - i].copy_from_slice(&xs[i..]);
                let $v = _mm256_loadu_ps(t.as_ptr());
                _mm256_storeu_ps(t.as_mut_ptr(), $body);
                xs[i..].copy_from_slice(&t[..n - i]);
            }
        }};
    }

    /// `1 / (1 + expf(−x))`.
    ///
    /// # Safety
    /// AVX2 must be available.
    #[inline(always)]
    unsafe fn sigmoid8(x: __m256) -> __m256 {
        // SAFETY: register-only AVX2 operations.
        unsafe {
            let one = _mm256_set1_ps(1.0);
            let e = expf8(_mm256_sub_ps(_mm256_setzero_ps(), x));
            _mm256_div_ps(one, _mm256_add_ps(one, e))
        }
    }

    /// Sigmoid in place.
    ///
    /// # Safety
    /// AVX2 must be available.
    #[inline(always)]
    pub(crate) unsafe fn sigmoid(xs: &mut [f32]) {
        // SAFETY: AVX2 (caller); `map8!` stays inside `xs`.
        unsafe { map8!(xs, |x| sigmoid8(x)) }
    }

    /// SiLU in place.
    ///
    /// # Safety
    /// AVX2 must be available.
    #[inline(always)]
    pub(crate) unsafe fn silu(xs: &mut [f32]) {
        // SAFETY: AVX2 (caller); `map8!` stays inside `xs`.
        unsafe { map8!(xs, |x| _mm256_mul_ps(x, sigmoid8(x))) }
    }

    /// `libm::expm1f` on eight lanes, tanh's domain only (see
    /// [`super::expm1f16_tanh_domain`], same steps).
    ///
    /// # Safety
    /// AVX2 must be available.
    #[inline(always)]
    unsafe fn expm1f8_tanh_domain(u: __m256) -> __m256 {
        use super::{M1_LN2_HI, M1_LN2_LO, Q1, Q2};
        // SAFETY: register-only AVX/AVX2 operations.
        unsafe {
            let ps = _mm256_set1_ps;
            let bits = _mm256_castps_si256(u);
            let hu = _mm256_and_si256(bits, si(0x7fff_ffff));
            let neg = gt(_mm256_setzero_si256(), bits);
            let reduce = gt(hu, si(0x3eb1_7218));
            let near = gt(si(0x3f85_1592), hu);
            let tiny = gt(si(0x3300_0000), hu);

            let half = sel(neg, ps(-0.5), ps(0.5));
            let k_far = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(ps(INV_LN2), u), half));
            let k_near = seli(neg, si(-1), si(1));
            let k = _mm256_and_si256(seli(near, k_near, k_far), reduce);
            let kf = _mm256_cvtepi32_ps(k);
            let hi = _mm256_sub_ps(u, _mm256_mul_ps(kf, ps(M1_LN2_HI)));
            let lo = _mm256_mul_ps(kf, ps(M1_LN2_LO));
            let xr = _mm256_sub_ps(hi, lo);
            let x = sel(reduce, xr, u);
            let c = _mm256_and_ps(_mm256_sub_ps(_mm256_sub_ps(hi, xr), lo), f(reduce));

            let one = ps(1.0);
            let hfx = _mm256_mul_ps(ps(0.5), x);
            let hxs = _mm256_mul_ps(x, hfx);
            let r1 = _mm256_add_ps(
                one,
                _mm256_mul_ps(hxs, _mm256_add_ps(ps(Q1), _mm256_mul_ps(hxs, ps(Q2)))),
            );
            let t = _mm256_sub_ps(ps(3.0), _mm256_mul_ps(r1, hfx));
            let e = _mm256_mul_ps(
                hxs,
                _mm256_div_ps(
                    _mm256_sub_ps(r1, t),
                    _mm256_sub_ps(ps(6.0), _mm256_mul_ps(x, t)),
                ),
            );
            let r0 = _mm256_sub_ps(x, _mm256_sub_ps(_mm256_mul_ps(x, e), hxs));
            let e = _mm256_sub_ps(_mm256_mul_ps(x, _mm256_sub_ps(e, c)), c);
            let e = _mm256_sub_ps(e, hxs);
            let half1 = ps(0.5);
            let rm1 = _mm256_sub_ps(_mm256_mul_ps(half1, _mm256_sub_ps(x, e)), half1);
            let low = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(x, ps(-0.25)));
            let rp1_low = _mm256_mul_ps(ps(-2.0), _mm256_sub_ps(e, _mm256_add_ps(x, half1)));
            let rp1_high = _mm256_add_ps(one, _mm256_mul_ps(ps(2.0), _mm256_sub_ps(x, e)));
            let rp1 = sel(low, rp1_low, rp1_high);
            let twopk = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(k, si(0x7f))));
            let uf = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_sub_epi32(si(0x7f), k)));
            let below23 = gt(si(23), k);
            let rk_low = _mm256_mul_ps(
                _mm256_add_ps(_mm256_sub_ps(x, e), _mm256_sub_ps(one, uf)),
                twopk,
            );
            let rk_high = _mm256_mul_ps(
                _mm256_add_ps(_mm256_sub_ps(x, _mm256_add_ps(e, uf)), one),
                twopk,
            );
            let rk = sel(below23, rk_low, rk_high);
            let y = sel(_mm256_cmpeq_epi32(k, _mm256_setzero_si256()), r0, rk);
            let y = sel(_mm256_cmpeq_epi32(k, si(-1)), rm1, y);
            let y = sel(_mm256_cmpeq_epi32(k, si(1)), rp1, y);
            sel(_mm256_andnot_si256(reduce, tiny), u, y)
        }
    }

    /// `libm::tanhf` on eight lanes (see [`super::tanhf16`], same steps).
    ///
    /// # Safety
    /// AVX2 must be available.
    #[inline(always)]
    pub(crate) unsafe fn tanhf8(x: __m256) -> __m256 {
        // SAFETY: register-only AVX/AVX2 operations.
        unsafe {
            let ps = _mm256_set1_ps;
            let bits = _mm256_castps_si256(x);
            let sign = _mm256_and_si256(bits, si(i32::MIN));
            let w = _mm256_and_si256(bits, si(0x7fff_ffff));
            let ax = _mm256_castsi256_ps(w);
            let above_10 = gt(w, si(0x4120_0000));
            let above_big = gt(w, si(0x3f0c_9f54));
            let above_mid = gt(w, si(0x3e82_c578));
            let normal = gt(w, si(0x007f_ffff));
            let two = ps(2.0);
            let u = sel(
                above_mid,
                _mm256_mul_ps(two, ax),
                _mm256_mul_ps(ps(-2.0), ax),
            );
            let t = expm1f8_tanh_domain(u);
            let t2 = _mm256_add_ps(t, two);
            let one = ps(1.0);
            let tt_big = _mm256_sub_ps(one, _mm256_div_ps(two, t2));
            let tt_mid = _mm256_div_ps(t, t2);
            let tt_small = _mm256_div_ps(_mm256_sub_ps(_mm256_setzero_ps(), t), t2);
            let tt_huge = _mm256_add_ps(one, _mm256_div_ps(_mm256_setzero_ps(), ax));
            let tt = sel(normal, tt_small, ax);
            let tt = sel(above_mid, tt_mid, tt);
            let tt = sel(above_big, tt_big, tt);
            let tt = sel(above_10, tt_huge, tt);
            _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(tt), sign))
        }
    }

    /// tanh in place.
    ///
    /// # Safety
    /// AVX2 must be available.
    #[inline(always)]
    pub(crate) unsafe fn tanh(xs: &mut [f32]) {
        // SAFETY: AVX2 (caller); `map8!` stays inside `xs`.
        unsafe { map8!(xs, |x| tanhf8(x)) }
    }

    /// GELU (tanh form) in place (see [`super::gelu_tanh`]).
    ///
    /// # Safety
    /// AVX2 must be available.
    #[inline(always)]
    pub(crate) unsafe fn gelu_tanh(xs: &mut [f32]) {
        // SAFETY: AVX2 (caller); `map8!` stays inside `xs`.
        unsafe {
            let c = _mm256_set1_ps(super::GELU_C);
            let k = _mm256_set1_ps(super::SQRT_2_OVER_PI);
            let half = _mm256_set1_ps(0.5);
            let one = _mm256_set1_ps(1.0);
            map8!(xs, |x| {
                let cube = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(c, x), x), x);
                let u = _mm256_mul_ps(k, _mm256_add_ps(x, cube));
                _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, tanhf8(u)))
            })
        }
    }

    /// Softmax in place (see [`super::softmax`]).
    ///
    /// # Safety
    /// AVX2 must be available.
    #[inline(always)]
    pub(crate) unsafe fn softmax(xs: &mut [f32]) {
        let m = xs.iter().fold(f32::NEG_INFINITY, |m, &x| libm::fmaxf(m, x));
        // SAFETY: AVX2 (caller); `map8!` stays inside `xs`.
        unsafe {
            let mv = _mm256_set1_ps(m);
            map8!(&mut *xs, |x| expf8(_mm256_sub_ps(x, mv)));
        }
        let s = crate::kernels::reference::f32::Scalar::sum(xs);
        // SAFETY: AVX2 (caller); `map8!` stays inside `xs`.
        unsafe {
            let sv = _mm256_set1_ps(s);
            map8!(xs, |x| _mm256_div_ps(x, sv));
        }
    }

    #[cfg(all(test, not(miri)))]
    mod tests {
        extern crate std;
        use super::*;

        #[target_feature(enable = "avx2,fma")]
        unsafe fn exp_slice(xs: &mut [f32]) {
            // SAFETY: AVX2 enabled; `map8!` stays inside `xs`.
            unsafe { map8!(xs, |x| expf8(x)) }
        }

        #[target_feature(enable = "avx2,fma")]
        unsafe fn tanh_slice(xs: &mut [f32]) {
            // SAFETY: AVX2 enabled.
            unsafe { tanh(xs) }
        }

        #[test]
        fn avx2_tanhf_equals_libm_on_a_sweep_of_all_bit_patterns() {
            if !std::is_x86_feature_detected!("avx2") {
                return;
            }
            let xs = super::super::tests::sweep();
            let mut got = xs.clone();
            // SAFETY: AVX2 detected above.
            unsafe { tanh_slice(&mut got) };
            for (x, g) in xs.iter().zip(&got) {
                let want = libm::tanhf(*x);
                let same = g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan());
                assert!(same, "tanhf({x:e} = {:#x}): {g:e} vs {want:e}", x.to_bits());
            }
        }

        #[test]
        fn avx2_expf_equals_libm_on_a_sweep_of_all_bit_patterns() {
            if !std::is_x86_feature_detected!("avx2") {
                return;
            }
            let xs = super::super::tests::sweep();
            assert!(xs.len() > 17_000_000);
            let mut got = xs.clone();
            // SAFETY: AVX2 detected above.
            unsafe { exp_slice(&mut got) };
            for (x, g) in xs.iter().zip(&got) {
                let want = libm::expf(*x);
                let same = g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan());
                assert!(same, "expf({x:e} = {:#x}): {g:e} vs {want:e}", x.to_bits());
            }
        }
    }
}
