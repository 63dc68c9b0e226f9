//! The f32 activations on SIMD lanes, bit-exact with the scalar definitions
//! in [`crate::activations`], written once over [`F32Lanes`].
//!
//! The scalar activations call `libm::expf` and `libm::tanhf` (FreeBSD's
//! `e_expf.c`, `s_expm1f.c`, `s_tanhf.c`: plain f32 arithmetic). [`expf`],
//! [`expm1f_tanh_domain`] and [`tanhf`] are those algorithms lane for lane:
//! the same constants, the same argument reductions (`k` from
//! `INV_LN2·x ± 0.5` truncated, or ±1 near zero), the same unfused
//! multiplies, adds and correctly rounded divisions, the same special cases,
//! each branch of libm computed on every lane and the lane's own branch
//! selected, in libm's order of returns. Their error bound is libm's: the
//! results are libm's bits, which the sweeps below check against `libm`
//! itself on millions of bit patterns.

use super::{F32Lanes, I32Lanes, Mask};
use crate::kernels::reference::f32::Scalar;

const LN2_HI: f32 = 6.931_457_5e-1; // 0x3f317200
const LN2_LO: f32 = 1.428_606_8e-6; // 0x35bfbe8e
const INV_LN2: f32 = 1.442_695_1; // 0x3fb8aa3b
const P1: f32 = 1.666_662_5e-1; // 0x3e2aaa8f
const P2: f32 = -2.766_733_3e-3; // 0xbb355215

// `libm::expm1f`'s constants (they differ from `expf`'s), by their bits.
const M1_LN2_HI: f32 = f32::from_bits(0x3f31_7180);
const M1_LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
const Q1: f32 = f32::from_bits(0xbd08_8868); // -0x888868.0p-28
const Q2: f32 = f32::from_bits(0x3acf_3010); // 0xcf3010.0p-33

/// `√(2/π)` and the cubic coefficient, as in `activations/gelu.rs`.
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_C: f32 = 0.044_715;

/// `libm::expf` on every lane: the argument reduction, the rational
/// approximation with its correctly rounded division, `scalbnf`'s two-step
/// scaling for `k > 127` or `k < −126` (multiplying by 1.0 where libm skips
/// a step changes no bit), and the special cases (NaN, overflow to +∞,
/// underflow to 0, `1 + x` for tiny `x`).
///
/// # Safety
/// The CPU runs `L`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn expf<L: F32Lanes>(x: L) -> L {
    // SAFETY: lane operations only, on the caller's instruction set.
    unsafe {
        let si = <L::I as I32Lanes>::splat;
        let sf = L::splat;
        let bits = x.to_bits();
        let hx = bits.and(si(0x7fff_ffff));
        let neg = bits.lt(si(0));
        let is_nan = hx.gt(si(0x7f80_0000));
        let overflow = hx.gt(si(0x42b1_7218 - 1)).and_not(neg.or(is_nan));
        let underflow = hx.gt(si(0x42cf_f1b5 - 1)).and(neg).and_not(is_nan);
        // |x| > 0.5·ln2: reduce; > 1.5·ln2: k from the product; > 2^-14: polynomial.
        let big = hx.gt(si(0x3eb1_7218));
        let far = hx.gt(si(0x3f85_1592));
        let small = hx.gt(si(0x3900_0000));

        // k: trunc(INV_LN2·x + ±0.5) far out, ±1 nearer, 0 below 0.5·ln2.
        let half = L::select(neg, sf(-0.5), sf(0.5));
        let k_far = sf(INV_LN2).mul(x).add(half).to_i32();
        let k_near = L::I::select(neg, si(-1), si(1));
        let k = L::I::select(far, k_far, k_near).keep(big);
        let kf = L::from_i32(k);
        // hi = x − k·LN2_HI, lo = k·LN2_LO, x = hi − lo (only where k ≠ 0;
        // elsewhere hi = x, lo = 0 as in libm).
        let hi = L::select(big, x.sub(kf.mul(sf(LN2_HI))), x);
        let lo = kf.mul(sf(LN2_LO)).keep(big);
        let r = L::select(big, hi.sub(lo), x);

        let one = sf(1.0);
        let xx = r.mul(r);
        let poly = sf(P1).add(xx.mul(sf(P2)));
        let c = r.sub(xx.mul(poly));
        let q = r.mul(c).div(sf(2.0).sub(c));
        let y = one.add(q.sub(lo).add(hi));

        // scalbnf(y, k): pre-scale by 2^127 (k > 127) or 2^-102 (k < −126).
        let up = k.gt(si(127));
        let down = k.lt(si(-126));
        let pre = L::select(up, sf(f32::from_bits(0x7f00_0000)), one);
        let pre = L::select(down, sf(f32::from_bits(0x0c80_0000)), pre);
        let n = k.sub(si(127).keep(up)).add(si(102).keep(down));
        let scale = L::from_bits(n.add(si(127)).shl23());
        let y = y.mul(pre).mul(scale);

        // Special cases, last wins as in libm's order of returns.
        let y = L::select(small, y, one.add(x));
        let y = L::select(underflow, sf(0.0), y);
        let y = L::select(overflow, sf(f32::INFINITY), y);
        L::select(is_nan, x, y)
    }
}

/// `libm::expm1f` on every lane, for the arguments [`tanhf`] passes it:
/// `u` in `[−0.52, 20]` (finite, so none of expm1f's overflow/NaN/−1
/// special cases, and `k` in −1..=29). The same argument reduction (with
/// the correction term `c`), the same rational approximation and the same
/// per-`k` reconstructions (`k = 0`, `−1`, `1`, `2..23`, `23..=56`) in the
/// same operation order; `|u| < 2^-25` returns `u`.
///
/// # Safety
/// The CPU runs `L`'s instruction set.
#[inline(always)]
unsafe fn expm1f_tanh_domain<L: F32Lanes>(u: L) -> L {
    // SAFETY: lane operations only, on the caller's instruction set.
    unsafe {
        let si = <L::I as I32Lanes>::splat;
        let sf = L::splat;
        let bits = u.to_bits();
        let hu = bits.and(si(0x7fff_ffff));
        let neg = bits.lt(si(0));
        let reduce = hu.gt(si(0x3eb1_7218));
        let near = hu.lt(si(0x3f85_1592));
        let tiny = hu.lt(si(0x3300_0000));

        let half = L::select(neg, sf(-0.5), sf(0.5));
        let k_far = sf(INV_LN2).mul(u).add(half).to_i32();
        let k_near = L::I::select(neg, si(-1), si(1));
        let k = L::I::select(near, k_near, k_far).keep(reduce);
        // libm writes the |k| = 1 case as u ∓ LN2_HI and ±LN2_LO: the same
        // values as u − k·LN2_HI and k·LN2_LO for k = ±1.
        let kf = L::from_i32(k);
        let hi = u.sub(kf.mul(sf(M1_LN2_HI)));
        let lo = kf.mul(sf(M1_LN2_LO));
        let xr = hi.sub(lo);
        let x = L::select(reduce, xr, u);
        let c = hi.sub(xr).sub(lo).keep(reduce);

        let one = sf(1.0);
        let hfx = sf(0.5).mul(x);
        let hxs = x.mul(hfx);
        let r1 = one.add(hxs.mul(sf(Q1).add(hxs.mul(sf(Q2)))));
        let t = sf(3.0).sub(r1.mul(hfx));
        let e = hxs.mul(r1.sub(t).div(sf(6.0).sub(x.mul(t))));
        // k = 0.
        let r0 = x.sub(x.mul(e).sub(hxs));
        let e = x.mul(e.sub(c)).sub(c);
        let e = e.sub(hxs);
        // k = −1.
        let half1 = sf(0.5);
        let rm1 = half1.mul(x.sub(e)).sub(half1);
        // k = 1.
        let low = x.lt(sf(-0.25));
        let rp1_low = sf(-2.0).mul(e.sub(x.add(half1)));
        let rp1_high = one.add(sf(2.0).mul(x.sub(e)));
        let rp1 = L::select(low, rp1_low, rp1_high);
        // 2 ≤ k ≤ 56.
        let twopk = L::from_bits(k.add(si(0x7f)).shl23());
        let uf = L::from_bits(si(0x7f).sub(k).shl23());
        let below23 = k.lt(si(23));
        let rk_low = x.sub(e).add(one.sub(uf)).mul(twopk);
        let rk_high = x.sub(e.add(uf)).add(one).mul(twopk);
        let rk = L::select(below23, rk_low, rk_high);

        let y = L::select(k.eq(si(0)), r0, rk);
        let y = L::select(k.eq(si(-1)), rm1, y);
        let y = L::select(k.eq(si(1)), rp1, y);
        L::select(tiny.and_not(reduce), u, y)
    }
}

/// `libm::tanhf` on every lane: on `|x|`, `1 + 0/|x|` above 10 (1, or NaN
/// for NaN), `1 − 2/(t + 2)` above `ln(3)/2`, `t/(t + 2)` above
/// `ln(5/3)/2` (with `t = expm1f(2|x|)`), `−t/(t + 2)` with
/// `t = expm1f(−2|x|)` down to the smallest normal, `|x|` below; then the
/// sign of `x`.
///
/// # Safety
/// The CPU runs `L`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn tanhf<L: F32Lanes>(x: L) -> L {
    // SAFETY: lane operations only, on the caller's instruction set.
    unsafe {
        let si = <L::I as I32Lanes>::splat;
        let sf = L::splat;
        let bits = x.to_bits();
        let sign = bits.and(si(i32::MIN));
        let w = bits.and(si(0x7fff_ffff));
        let ax = L::from_bits(w);
        let above_10 = w.gt(si(0x4120_0000));
        let above_big = w.gt(si(0x3f0c_9f54));
        let above_mid = w.gt(si(0x3e82_c578));
        let normal = w.gt(si(0x007f_ffff));

        let two = sf(2.0);
        let u = L::select(above_mid, two.mul(ax), sf(-2.0).mul(ax));
        let t = expm1f_tanh_domain(u);
        let t2 = t.add(two);
        let one = sf(1.0);
        let tt_big = one.sub(two.div(t2));
        let tt_mid = t.div(t2);
        // `t` is neither 0 nor NaN where this is selected (0 < |x| ≤ 0.51).
        let tt_small = t.neg().div(t2);
        let tt_huge = one.add(sf(0.0).div(ax));
        let tt = L::select(normal, tt_small, ax);
        let tt = L::select(above_mid, tt_mid, tt);
        let tt = L::select(above_big, tt_big, tt);
        let tt = L::select(above_10, tt_huge, tt);
        L::from_bits(tt.to_bits().xor(sign))
    }
}

/// `1 / (1 + expf(−x))`, as [`crate::activations::sigmoid`].
///
/// # Safety
/// The CPU runs `L`'s instruction set.
#[inline(always)]
unsafe fn sigmoidf<L: F32Lanes>(x: L) -> L {
    // SAFETY: lane operations only, on the caller's instruction set.
    unsafe {
        let one = L::splat(1.0);
        one.div(one.add(expf(x.neg())))
    }
}

/// A lane-wise function for [`map`]: a type rather than a closure, so that
/// its body inlines into the caller's `#[target_feature]` wrapper (a closure
/// is a function of its own, compiled without those features).
trait LaneFn<L: F32Lanes> {
    /// The function on one register.
    ///
    /// # Safety
    /// The CPU runs `L`'s instruction set.
    unsafe fn apply(&self, v: L) -> L;
}

/// Replaces every element `v` of `xs` by `f(v)`, `L::N` lanes at a time,
/// the tail through a partial load and store.
///
/// # Safety
/// The CPU runs `L`'s instruction set.
#[inline(always)]
unsafe fn map<L: F32Lanes, F: LaneFn<L>>(xs: &mut [f32], f: F) {
    let n = xs.len();
    let p = xs.as_mut_ptr();
    let mut i = 0;
    // SAFETY: full chunks stay below `n`; the tail touches `i .. n` only;
    // the instruction set is the caller's.
    unsafe {
        while i + L::N <= n {
            f.apply(L::load(p.add(i))).store(p.add(i));
            i += L::N;
        }
        if i < n {
            f.apply(L::load_partial(p.add(i), n - i))
                .store_partial(p.add(i), n - i);
        }
    }
}

/// Declares a [`LaneFn`] type and the in-place slice function over it.
macro_rules! slice_fn {
    ($(#[$doc:meta])* $name:ident, $ty:ident, |$v:ident| $body:expr) => {
        struct $ty;

        impl<L: F32Lanes> LaneFn<L> for $ty {
            #[inline(always)]
            unsafe fn apply(&self, $v: L) -> L {
                // SAFETY: lane operations only, on the caller's instruction set.
                unsafe { $body }
            }
        }

        $(#[$doc])*
        ///
        /// # Safety
        /// The CPU runs `L`'s instruction set.
        #[inline(always)]
        pub(crate) unsafe fn $name<L: F32Lanes>(xs: &mut [f32]) {
            // SAFETY: the caller's instruction set.
            unsafe { map::<L, _>(xs, $ty) }
        }
    };
}

slice_fn!(
    /// ReLU in place: keeps `x` where `!(x ≤ 0)` (`x > 0` or NaN, bits and
    /// all, as [`crate::activations::relu`]), `+0.0` elsewhere.
    relu,
    Relu,
    |x| x.keep(x.not_le(L::splat(0.0)))
);

slice_fn!(
    /// Sigmoid in place, as [`crate::activations::sigmoid`].
    sigmoid,
    Sigmoid,
    |x| sigmoidf(x)
);

slice_fn!(
    /// SiLU `x·σ(x)` in place, as [`crate::activations::silu`].
    silu,
    Silu,
    |x| x.mul(sigmoidf(x))
);

slice_fn!(
    /// tanh in place, as [`crate::activations::tanh`].
    tanh,
    Tanh,
    |x| tanhf(x)
);

slice_fn!(
    /// GELU (tanh form) in place, as [`crate::activations::gelu_tanh`]:
    /// `u = √(2/π)·(x + ((c·x)·x)·x)`, `(0.5·x)·(1 + tanh u)`.
    gelu_tanh,
    GeluTanh,
    |x| {
        let cube = L::splat(GELU_C).mul(x).mul(x).mul(x);
        let u = L::splat(SQRT_2_OVER_PI).mul(x.add(cube));
        L::splat(0.5).mul(x).mul(L::splat(1.0).add(tanhf(u)))
    }
);

#[cfg(all(test, not(miri)))]
slice_fn!(
    /// `libm::expf` in place (for the sweeps).
    exp,
    Exp,
    |x| expf(x)
);

/// `expf(v − m)`, softmax's numerators.
struct ExpMinus<L>(L);

impl<L: F32Lanes> LaneFn<L> for ExpMinus<L> {
    #[inline(always)]
    unsafe fn apply(&self, v: L) -> L {
        // SAFETY: lane operations only, on the caller's instruction set.
        unsafe { expf(v.sub(self.0)) }
    }
}

/// `v / s`, softmax's normalisation.
struct DivBy<L>(L);

impl<L: F32Lanes> LaneFn<L> for DivBy<L> {
    #[inline(always)]
    unsafe fn apply(&self, v: L) -> L {
        // SAFETY: lane operations only, on the caller's instruction set.
        unsafe { v.div(self.0) }
    }
}

/// Softmax in place, as [`crate::activations::softmax`]: the maximum by the
/// same sequential `fmaxf` fold (its NaN handling is order-dependent), the
/// exponentials a register at a time, the sum in the canonical order, the
/// divisions a register at a time.
///
/// # Safety
/// The CPU runs `L`'s instruction set.
#[inline(always)]
pub(crate) unsafe fn softmax<L: F32Lanes>(xs: &mut [f32]) {
    let m = xs.iter().fold(f32::NEG_INFINITY, |m, &x| libm::fmaxf(m, x));
    // SAFETY: the caller's instruction set.
    unsafe { map(xs, ExpMinus(L::splat(m))) };
    let s = Scalar::sum(xs);
    // SAFETY: the caller's instruction set.
    unsafe { map(xs, DivBy(L::splat(s))) };
}

/// The ports against `libm` itself, on sweeps of bit patterns, for every
/// lane type this machine runs (the parity sweeps in `kernels/parity.rs`
/// compare whole kernels with the scalar activations).
#[cfg(all(test, not(miri)))]
mod tests {
    extern crate std;
    use std::vec::Vec;

    /// Every `step`th f32 bit pattern (all exponents and signs), plus ±4
    /// ulps around each of `thresholds`, both signs.
    pub(super) fn sweep(step: usize, thresholds: &[u32]) -> Vec<f32> {
        let mut v: Vec<f32> = (0..=u32::MAX).step_by(step).map(f32::from_bits).collect();
        for &t in thresholds {
            for d in 0..9u32 {
                let b = t.wrapping_add(d).wrapping_sub(4);
                v.push(f32::from_bits(b));
                v.push(f32::from_bits(b | 0x8000_0000));
            }
        }
        v
    }

    /// `expf`'s branch thresholds.
    const EXPF_EDGES: [u32; 7] = [
        0x42aeac50, 0x42b17218, 0x42cff1b5, 0x3eb17218, 0x3f851592, 0x39000000, 0x7f800000,
    ];
    /// `tanhf`'s (and its `expm1f`'s) branch thresholds.
    const TANHF_EDGES: [u32; 6] = [
        0x3f0c9f54, 0x41200000, 0x3e82c578, 0x00800000, 0x3eb17218, 0x3f851592,
    ];

    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// `f` (a port, in place) equals `want` element by element on `xs`.
    fn check(name: &str, xs: &[f32], f: impl Fn(&mut [f32]), want: impl Fn(f32) -> f32) {
        let mut got = xs.to_vec();
        f(&mut got);
        for (x, g) in xs.iter().zip(&got) {
            let w = want(*x);
            assert!(
                same(*g, w),
                "{name}({x:e} = {:#x}): {g:e} vs {w:e}",
                x.to_bits()
            );
        }
    }

    /// The x86 sweeps: every 251st bit pattern (17 million of them).
    #[cfg(target_arch = "x86_64")]
    fn x86_sweep(edges: &[u32]) -> Vec<f32> {
        let xs = sweep(251, edges);
        assert!(xs.len() > 17_000_000);
        xs
    }

    /// The sweeps of one x86 lane type, each port through a
    /// `#[target_feature]` wrapper, skipped where the CPU lacks it.
    #[cfg(target_arch = "x86_64")]
    macro_rules! x86_sweeps {
        ($module:ident, $features:literal, $lanes:ty, $has:expr,
         $expf:ident, $tanhf:ident, $sigmoid:ident) => {
            mod $module {
                use super::super::{exp, sigmoid, tanh};
                use super::*;

                #[target_feature(enable = $features)]
                unsafe fn exp_slice(xs: &mut [f32]) {
                    // SAFETY: the features are enabled by this wrapper.
                    unsafe { exp::<$lanes>(xs) }
                }

                #[target_feature(enable = $features)]
                unsafe fn tanh_slice(xs: &mut [f32]) {
                    // SAFETY: the features are enabled by this wrapper.
                    unsafe { tanh::<$lanes>(xs) }
                }

                #[target_feature(enable = $features)]
                unsafe fn sigmoid_slice(xs: &mut [f32]) {
                    // SAFETY: the features are enabled by this wrapper.
                    unsafe { sigmoid::<$lanes>(xs) }
                }

                #[test]
                fn $expf() {
                    if $has {
                        let xs = x86_sweep(&EXPF_EDGES);
                        // SAFETY: the features were detected.
                        check("expf", &xs, |v| unsafe { exp_slice(v) }, libm::expf);
                    }
                }

                #[test]
                fn $tanhf() {
                    if $has {
                        let xs = x86_sweep(&[&EXPF_EDGES[..], &TANHF_EDGES[..]].concat());
                        // SAFETY: the features were detected.
                        check("tanhf", &xs, |v| unsafe { tanh_slice(v) }, libm::tanhf);
                    }
                }

                #[test]
                fn $sigmoid() {
                    if $has {
                        let xs: Vec<f32> = x86_sweep(&EXPF_EDGES).into_iter().step_by(7).collect();
                        let want = crate::activations::sigmoid;
                        // SAFETY: the features were detected.
                        check("sigmoid", &xs, |v| unsafe { sigmoid_slice(v) }, want);
                    }
                }
            }
        };
    }

    #[cfg(target_arch = "x86_64")]
    x86_sweeps!(
        avx2,
        "avx2,fma",
        crate::kernels::avx2::F32x8,
        crate::kernels::parity::runs(crate::kernels::KernelId::Avx2),
        avx2_expf_equals_libm_on_a_sweep_of_all_bit_patterns,
        avx2_tanhf_equals_libm_on_a_sweep_of_all_bit_patterns,
        avx2_sigmoid_equals_scalar_on_a_sweep
    );

    #[cfg(target_arch = "x86_64")]
    x86_sweeps!(
        avx512,
        "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma",
        crate::kernels::avx512::F32x16,
        crate::kernels::parity::runs(crate::kernels::KernelId::Avx512),
        avx512_expf_equals_libm_on_a_sweep_of_all_bit_patterns,
        avx512_tanhf_equals_libm_on_a_sweep_of_all_bit_patterns,
        avx512_sigmoid_equals_scalar_on_a_sweep
    );

    #[cfg(target_arch = "aarch64")]
    mod neon {
        use super::super::{exp, tanh};
        use super::*;
        use crate::kernels::neon::F32x4;

        #[target_feature(enable = "neon")]
        unsafe fn exp_slice(xs: &mut [f32]) {
            // SAFETY: NEON enabled.
            unsafe { exp::<F32x4>(xs) }
        }

        #[target_feature(enable = "neon")]
        unsafe fn tanh_slice(xs: &mut [f32]) {
            // SAFETY: NEON enabled.
            unsafe { tanh::<F32x4>(xs) }
        }

        fn has() -> bool {
            std::arch::is_aarch64_feature_detected!("neon")
        }

        // Every 4093rd bit pattern (about a million, all exponents and
        // signs; coarser than the x86 sweep because this runs under qemu).

        #[test]
        fn neon_expf_equals_libm_on_a_sweep_of_bit_patterns() {
            if has() {
                let xs = sweep(4093, &EXPF_EDGES);
                // SAFETY: NEON detected.
                check("expf", &xs, |v| unsafe { exp_slice(v) }, libm::expf);
            }
        }

        #[test]
        fn neon_tanhf_equals_libm_on_a_sweep_of_bit_patterns() {
            if has() {
                let xs = sweep(4093, &TANHF_EDGES);
                // SAFETY: NEON detected.
                check("tanhf", &xs, |v| unsafe { tanh_slice(v) }, libm::tanhf);
            }
        }
    }
}
