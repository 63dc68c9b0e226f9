//! The canonical f32 order, defined by its scalar reference (the contract
//! itself is documented on [`crate::kernels::gemv_f32`]).

/// The number of partial sums in the canonical order.
pub const F32_LANES: usize = 16;

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
    /// that fit and never panics (the checked entry point is
    /// [`gemv`](crate::kernels::gemv)).
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
}
