//! f32 dot product and GEMV (y = W·x + b), with Axon's one canonical
//! accumulation order.
//!
//! # The canonical order
//!
//! Every f32 kernel — this scalar reference and every SIMD twin — computes a
//! dot product of length `n` exactly like this:
//!
//! 1. **Lane split.** There are [`F32_LANES`] = 16 partial sums
//!    `acc[0..16]`, each starting at `+0.0`. Element `i` goes to lane
//!    `i % 16`, and each lane takes its elements in increasing `i`.
//! 2. **Fused multiply-add.** Each step is `acc[l] = fma(a[i], b[i], acc[l])`,
//!    one rounding per step (IEEE 754 fusedMultiplyAdd, as `libm::fmaf`,
//!    x86 `vfmadd231ps`, NEON `vfmaq_f32` and Cortex-M `vfma.f32` all compute).
//! 3. **Reduction tree.** Halve the lanes four times, adding lane `l` and
//!    lane `l + h` for `h` = 8, 4, 2, 1: `acc[l] = acc[l] + acc[l + h]`.
//! 4. **Bias.** For GEMV, `y[o] = acc[0] + b[o]` (one more rounding).
//!
//! Sixteen lanes are one AVX-512 register, two AVX2 registers, or four NEON
//! registers, and the tree is their natural horizontal sum; a tail shorter
//! than 16 lands in the low lanes, so a SIMD twin may zero-fill it (a lane
//! that starts at `+0.0` can never become `-0.0`, so adding `0·0` to it
//! changes no bit).
//!
//! NaN results are NaN on every kernel; their payload and sign are not part
//! of the contract (hardware and software FMA propagate payloads differently).

use crate::Error;

/// The number of partial sums in the canonical order.
pub const F32_LANES: usize = 16;

/// Dot product in the canonical order; `a` and `b` must have equal length.
pub fn dot(a: &[f32], b: &[f32]) -> Result<f32, Error> {
    if a.len() != b.len() {
        return Err(Error::ShapeMismatch {
            expected: a.len(),
            found: b.len(),
        });
    }
    Ok(crate::kernels::dispatch::dot_f32(a, b))
}

/// `y = W·x + b` with `W` output-major, shape `(y.len(), x.len())`, through
/// the fastest kernel that produces the canonical bits on this machine.
pub fn gemv(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) -> Result<(), Error> {
    check_gemv_shapes(w.len(), x.len(), b.len(), y.len())?;
    crate::kernels::dispatch::gemv_f32(w, x, b, y);
    Ok(())
}

/// Checks `w: (rows, cols)`, `b: rows`, `y: rows`, `x: cols`.
pub(crate) fn check_gemv_shapes(w: usize, x: usize, b: usize, y: usize) -> Result<(), Error> {
    if b != y {
        return Err(Error::ShapeMismatch {
            expected: y,
            found: b,
        });
    }
    let expected = y.saturating_mul(x);
    if w != expected {
        return Err(Error::ShapeMismatch { expected, found: w });
    }
    Ok(())
}

/// The scalar reference: it is the definition of the canonical order.
pub struct Scalar;

impl Scalar {
    /// Canonical dot product over `min(a.len(), b.len())` elements.
    #[inline]
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0.0f32; F32_LANES];
        for (i, (&ai, &bi)) in a.iter().zip(b).enumerate() {
            let l = i % F32_LANES;
            acc[l] = libm::fmaf(ai, bi, acc[l]);
        }
        reduce_lanes(&mut acc)
    }

    /// Sum in the canonical order (the dot product with a vector of ones:
    /// `fma(a, 1, acc)` is `acc + a` rounded once).
    #[inline]
    pub fn sum(a: &[f32]) -> f32 {
        let mut acc = [0.0f32; F32_LANES];
        for (i, &ai) in a.iter().enumerate() {
            acc[i % F32_LANES] += ai;
        }
        reduce_lanes(&mut acc)
    }

    /// Canonical GEMV. Total: with inconsistent lengths it computes the rows
    /// that fit and never panics (the checked entry point is [`gemv`]).
    #[inline]
    pub fn gemv(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
        if x.is_empty() {
            for (yo, &bo) in y.iter_mut().zip(b) {
                *yo = 0.0 + bo;
            }
            return;
        }
        for ((row, &bo), yo) in w.chunks_exact(x.len()).zip(b).zip(y.iter_mut()) {
            *yo = Self::dot(row, x) + bo;
        }
    }
}

/// Step 3 of the canonical order: the pairwise tree 16 → 8 → 4 → 2 → 1.
#[inline(always)]
pub fn reduce_lanes(acc: &mut [f32; F32_LANES]) -> f32 {
    let mut h = F32_LANES / 2;
    while h > 0 {
        for l in 0..h {
            acc[l] += acc[l + h];
        }
        h /= 2;
    }
    acc[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_dot_is_positive_zero() {
        assert_eq!(Scalar::dot(&[], &[]).to_bits(), 0.0f32.to_bits());
    }

    #[test]
    fn lane_split_is_observable() {
        // A sequential sum would give 1 here; the canonical order gives 0,
        // because a[16] joins lane 0 (where 1e8 absorbs it) before the tree
        // cancels lane 0 against lane 8.
        let mut a = [0.0f32; 17];
        let b = [1.0f32; 17];
        a[0] = 1.0e8;
        a[8] = -1.0e8;
        a[16] = 1.0;
        assert_eq!(Scalar::dot(&a, &b), 0.0);
        // In a lane of its own, the 1 survives: lanes 0 and 8 cancel first.
        a[16] = 0.0;
        a[2] = 1.0;
        assert_eq!(Scalar::dot(&a, &b), 1.0);
    }

    #[test]
    fn gemv_rejects_bad_shapes() {
        let mut y = [0.0; 2];
        assert!(gemv(&[0.0; 5], &[0.0; 3], &[0.0; 2], &mut y).is_err());
        assert!(gemv(&[0.0; 6], &[0.0; 3], &[0.0; 1], &mut y).is_err());
        assert!(gemv(&[0.0; 6], &[0.0; 3], &[0.0; 2], &mut y).is_ok());
    }
}
