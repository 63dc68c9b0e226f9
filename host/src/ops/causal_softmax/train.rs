//! Softmax over each row's prefix, in place.

use super::super::matmul::{dot_lanes, max_lanes, sum_lanes, Float};

/// Row `p` of `s (len, stride)`: `s[p][0..=p] ← softmax(scale·s[p][0..=p])`.
#[inline(always)]
pub fn causal_softmax_forward<T: Float>(s: &mut [T], len: usize, stride: usize, scale: T) {
    for p in 0..len {
        let row = &mut s[p * stride..][..=p];
        let m = max_lanes(row);
        for v in row.iter_mut() {
            *v = ((*v - m) * scale).vexp();
        }
        let inv = T::ONE / sum_lanes(row);
        for v in row.iter_mut() {
            *v = *v * inv;
        }
    }
}

/// Given the probabilities `a` and `da = ∂L/∂a` (both `(len, stride)`,
/// prefixes), overwrites `da` with `∂L/∂s = scale·a ⊙ (da − Σ a·da)`.
#[inline(always)]
pub fn causal_softmax_backward<T: Float>(
    da: &mut [T],
    a: &[T],
    len: usize,
    stride: usize,
    scale: T,
) {
    for p in 0..len {
        let ar = &a[p * stride..][..=p];
        let dr = &mut da[p * stride..][..=p];
        let dot = dot_lanes(ar, dr);
        for (d, &x) in dr.iter_mut().zip(ar) {
            *d = scale * x * (*d - dot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::matmul::gradcheck::check;
    use crate::train::rng::Rng;

    #[test]
    fn causal_softmax_backward_matches_central_differences() {
        let (len, stride, scale) = (4, 5, 0.7);
        let mut rng = Rng::new(7, 1);
        let mut r = |k: usize| {
            (0..k)
                .map(|_| rng.next_f64() * 4.0 - 2.0)
                .collect::<Vec<f64>>()
        };
        let (s, c) = (r(len * stride), r(len * stride));
        let prefix = |m: &[f64], f: &dyn Fn(usize, usize) -> f64| {
            (0..len)
                .flat_map(|p| (0..=p).map(move |i| (p, i)))
                .map(|(p, i)| m[p * stride + i] * f(p, i))
                .sum::<f64>()
        };
        let loss = |s: &[f64]| {
            let mut a = s.to_vec();
            causal_softmax_forward(&mut a, len, stride, scale);
            prefix(&a, &|p, i| c[p * stride + i])
        };
        let mut a = s.clone();
        causal_softmax_forward(&mut a, len, stride, scale);
        for p in 0..len {
            let total: f64 = a[p * stride..][..=p].iter().sum();
            assert!((total - 1.0).abs() < 1e-12, "row {p} sums to {total}");
        }
        let mut ds = c.clone();
        causal_softmax_backward(&mut ds, &a, len, stride, scale);
        // Entries above the diagonal are not part of the op.
        for p in 0..len {
            for i in p + 1..stride {
                ds[p * stride + i] = 0.0;
            }
        }
        check("ds", &s, &ds, &loss, 1e-6);
    }
}
