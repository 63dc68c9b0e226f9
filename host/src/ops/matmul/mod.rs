//! `matmul` on the host: the batched matrix products of the language
//! model's trainer (`y = x·Wᵀ + b` over a chunk of rows, its two backward
//! products, and the causal products of attention), through the `gemm`
//! crate, single-threaded per call so a chunk's result does not depend on
//! the thread count.
//!
//! [`Float`] is the number type of the batched ops (`embedding`,
//! `layer_norm`, `matmul`, `causal_softmax`, `gelu`'s batched form): f32
//! for training, f64 for the gradient checks, one code for both.

pub mod train;

use crate::train::Real;

/// `x·log₂e` rounds to an integer by adding and subtracting 1.5·2²³.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// Bound of [`exp_f32`]'s relative error on `[-87, 88]` (measured against
/// f64 `exp` in the tests; Cephes `expf`'s polynomial).
pub const EXP_F32_MAX_REL_ERROR: f32 = 3e-7;

/// Bound of [`erf_f32`]'s absolute error (measured against f64 `erf` in
/// the tests; Eigen's `generic_fast_erf_float` rational approximation).
pub const ERF_F32_MAX_ABS_ERROR: f32 = 5e-7;

/// The number type of the batched ops: f32 or f64.
pub trait Float: Real + Send + Sync + Default {
    /// `√x`.
    fn sqrt(self) -> Self;
    /// `self·a + b`, fused (one rounding).
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// The larger of two (the second when either is NaN).
    fn max(self, other: Self) -> Self;
    /// `eˣ` in a form the compiler vectorizes (f32: [`exp_f32`]; f64: libm).
    fn vexp(self) -> Self;
    /// `erf(x)` in a form the compiler vectorizes (f32: [`erf_f32`]; f64: libm).
    fn verf(self) -> Self;
}

impl Float for f32 {
    #[inline(always)]
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32) -> f32 {
        f32::mul_add(self, a, b)
    }
    #[inline(always)]
    fn max(self, other: f32) -> f32 {
        if self > other {
            self
        } else {
            other
        }
    }
    #[inline(always)]
    fn vexp(self) -> f32 {
        exp_f32(self)
    }
    #[inline(always)]
    fn verf(self) -> f32 {
        erf_f32(self)
    }
}

impl Float for f64 {
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
    fn mul_add(self, a: f64, b: f64) -> f64 {
        f64::mul_add(self, a, b)
    }
    fn max(self, other: f64) -> f64 {
        if self > other {
            self
        } else {
            other
        }
    }
    fn vexp(self) -> f64 {
        libm::exp(self)
    }
    fn verf(self) -> f64 {
        libm::erf(self)
    }
}

/// `eˣ` for f32 without a branch or a call, so loops over it vectorize:
/// Cephes `expf` (range reduction by `n = round(x·log₂e)`, `r = x − n·ln 2`
/// in two parts, a degree-6 polynomial on `|r| ≤ ln2/2`, then `·2ⁿ` by the
/// exponent bits). `x` is clamped to `[-87.3, 88.3]` (results below
/// `e^-87.3 ≈ 1.2e-38` are that value, not subnormals or 0). Relative error
/// within [`EXP_F32_MAX_REL_ERROR`].
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = if x > 88.3 { 88.3 } else { x };
    let x = if x < -87.3 { -87.3 } else { x };
    let t = x.mul_add(LOG2E, ROUND_MAGIC);
    let n = t - ROUND_MAGIC;
    let r = n.mul_add(-LN2_HI, x);
    let r = n.mul_add(-LN2_LO, r);
    let mut p: f32 = 1.987_569_1e-4;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 0.5); // Cephes' 5.0000001201e-1, rounded to f32
    let y = (p * r).mul_add(r, r) + 1.0;
    // n's integer value is in t's low mantissa bits (|n| ≤ 128 < 2²²).
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND_MAGIC.to_bits() as i32);
    y * f32::from_bits(((ni + 127) << 23) as u32)
}

/// `erf(x)` for f32 without a branch or a call: Eigen's
/// `generic_fast_erf_float`, an odd degree-13 over even degree-8
/// rational function on `x` clamped to `[-4, 4]` (beyond, erf is ±1 in
/// f32). Absolute error within [`ERF_F32_MAX_ABS_ERROR`].
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let x = if x > 4.0 { 4.0 } else { x };
    let x = if x < -4.0 { -4.0 } else { x };
    let x2 = x * x;
    let mut p: f32 = -2.726_142_3e-10;
    p = x2.mul_add(p, 2.770_681_4e-8);
    p = x2.mul_add(p, -2.101_024e-6);
    p = x2.mul_add(p, -5.692_506_4e-5);
    p = x2.mul_add(p, -7.349_906e-4);
    p = x2.mul_add(p, -2.954_6e-3);
    p = x2.mul_add(p, -1.609_603_3e-2);
    let p = x * p;
    let mut q: f32 = -1.456_607_2e-5;
    q = x2.mul_add(q, -2.133_740_6e-4);
    q = x2.mul_add(q, -1.682_827e-3);
    q = x2.mul_add(q, -7.373_329e-3);
    q = x2.mul_add(q, -1.426_474e-2);
    p / q
}

/// Lanes of the fixed-order reductions below (one AVX2 register of f32).
pub const LANES: usize = 8;

/// `Σ xs` in a fixed order the compiler vectorizes: [`LANES`] running
/// sums over the elements `i ≡ j (mod LANES)`, added pairwise at the end,
/// then the remainder in order.
#[inline(always)]
pub fn sum_lanes<T: Float>(xs: &[T]) -> T {
    let mut acc = [T::ZERO; LANES];
    let mut it = xs.chunks_exact(LANES);
    for c in &mut it {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let mut s = reduce_lanes(acc);
    for &x in it.remainder() {
        s += x;
    }
    s
}

/// `Σ a·b`, fused multiply-adds in [`sum_lanes`]'s order.
#[inline(always)]
pub fn dot_lanes<T: Float>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::ZERO; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((s, &p), &q) in acc.iter_mut().zip(x).zip(y) {
            *s = p.mul_add(q, *s);
        }
    }
    let mut s = reduce_lanes(acc);
    for (&p, &q) in ra.iter().zip(rb) {
        s = p.mul_add(q, s);
    }
    s
}

/// The largest of `xs` (non-empty; NaN-free in use), in lanes.
#[inline(always)]
pub fn max_lanes<T: Float>(xs: &[T]) -> T {
    let mut acc = [xs[0]; LANES];
    let mut it = xs.chunks_exact(LANES);
    for c in &mut it {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = a.max(x);
        }
    }
    let mut m = acc[0];
    for &a in &acc[1..] {
        m = m.max(a);
    }
    for &x in it.remainder() {
        m = m.max(x);
    }
    m
}

#[inline(always)]
fn reduce_lanes<T: Float>(a: [T; LANES]) -> T {
    ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
}

/// The gradient check shared by the batched ops' tests and the model's.
#[cfg(test)]
pub(crate) mod gradcheck {
    /// Checks `grad`, the analytic `∂f/∂x` at `x`, against f64 central
    /// differences (step `1e-6`): each component within `tol` of the
    /// numeric one relative to the larger of the two magnitudes and
    /// `floor`. Panics naming `what` and the index.
    pub fn check(what: &str, x: &[f64], grad: &[f64], f: &dyn Fn(&[f64]) -> f64, tol: f64) {
        assert_eq!(x.len(), grad.len(), "{what}: gradient length");
        let h = 1e-6;
        let floor = 1e-3;
        let mut xs = x.to_vec();
        for i in 0..x.len() {
            xs[i] = x[i] + h;
            let up = f(&xs);
            xs[i] = x[i] - h;
            let down = f(&xs);
            xs[i] = x[i];
            let num = (up - down) / (2.0 * h);
            let rel = (num - grad[i]).abs() / num.abs().max(grad[i].abs()).max(floor);
            assert!(
                rel < tol,
                "{what}[{i}]: analytic {} vs numeric {num} (relative error {rel:e})",
                grad[i]
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_f32_is_within_its_bound() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = libm::exp(f64::from(x));
            let rel = ((f64::from(exp_f32(x)) - want) / want).abs();
            worst = worst.max(rel);
            x += 0.000_37;
        }
        assert!(worst < f64::from(EXP_F32_MAX_REL_ERROR), "worst {worst:e}");
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(-1000.0) > 0.0 && exp_f32(-1000.0) < 2e-38);
    }

    #[test]
    fn erf_f32_is_within_its_bound() {
        let mut worst = 0.0f64;
        let mut x = -6.0f32;
        while x < 6.0 {
            let err = (f64::from(erf_f32(x)) - libm::erf(f64::from(x))).abs();
            worst = worst.max(err);
            x += 0.000_13;
        }
        assert!(worst < f64::from(ERF_F32_MAX_ABS_ERROR), "worst {worst:e}");
        assert_eq!(erf_f32(0.0), 0.0);
    }
}
