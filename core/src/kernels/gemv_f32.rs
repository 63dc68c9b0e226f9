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
//!
//! This module holds the checked entry points, which go through
//! [`dispatch`](super::dispatch); the definition itself, [`Scalar`], lives in
//! the kernels' leaf module of scalar references and is re-exported here.

use crate::Error;

pub use super::reference::f32::{reduce_lanes, Scalar, F32_LANES};

/// Dot product in the canonical order; `a` and `b` must have equal length.
pub fn dot(a: &[f32], b: &[f32]) -> Result<f32, Error> {
    if a.len() != b.len() {
        return Err(Error::ShapeMismatch {
            expected: a.len(),
            found: b.len(),
        });
    }
    Ok(super::dispatch::dot_f32(a, b))
}

/// `y = W·x + b` with `W` output-major, shape `(y.len(), x.len())`, through
/// the fastest kernel that produces the canonical bits on this machine.
pub fn gemv(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) -> Result<(), Error> {
    check_gemv_shapes(w.len(), x.len(), b.len(), y.len())?;
    super::dispatch::gemv_f32(w, x, b, y);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemv_rejects_bad_shapes() {
        let mut y = [0.0; 2];
        assert!(gemv(&[0.0; 5], &[0.0; 3], &[0.0; 2], &mut y).is_err());
        assert!(gemv(&[0.0; 6], &[0.0; 3], &[0.0; 1], &mut y).is_err());
        assert!(gemv(&[0.0; 6], &[0.0; 3], &[0.0; 2], &mut y).is_ok());
    }
}
