//! GELU (erf form) over a batch, forward beside backward, in the
//! vectorizable forms of [`Float`] (the per-sample graph trainer uses the
//! core's `Activation::GeluErf` instead).

use crate::ops::matmul::Float;

/// `1/√2`.
const FRAC_1_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// `1/√(2π)`.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// `y = x·Φ(x) = 0.5·x·(1 + erf(x/√2))`, element-wise.
#[inline(always)]
pub fn gelu_forward<T: Float>(y: &mut [T], x: &[T]) {
    let (half, c) = (T::from_f64(0.5), T::from_f64(FRAC_1_SQRT_2));
    for (o, &v) in y.iter_mut().zip(x) {
        *o = half * v * (T::ONE + (v * c).verf());
    }
}

/// `dx = dy·(Φ(x) + x·φ(x))` (written, or added with `accumulate`).
#[inline(always)]
pub fn gelu_backward<T: Float>(dx: &mut [T], dy: &[T], x: &[T]) {
    let (half, c, k) = (
        T::from_f64(0.5),
        T::from_f64(FRAC_1_SQRT_2),
        T::from_f64(INV_SQRT_2PI),
    );
    for ((o, &g), &v) in dx.iter_mut().zip(dy).zip(x) {
        let cdf = half * (T::ONE + (v * c).verf());
        let pdf = k * (-half * v * v).vexp();
        *o = g * v.mul_add(pdf, cdf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::matmul::gradcheck::check;

    #[test]
    fn gelu_backward_matches_central_differences() {
        let x: Vec<f64> = (0..25).map(|i| f64::from(i) * 0.37 - 4.4).collect();
        let c: Vec<f64> = (0..25).map(|i| 1.0 + f64::from(i % 7) * 0.1).collect();
        let loss = |x: &[f64]| {
            let mut y = vec![0.0; x.len()];
            gelu_forward(&mut y, x);
            y.iter().zip(&c).map(|(a, b)| a * b).sum::<f64>()
        };
        let mut dx = vec![0.0; x.len()];
        gelu_backward(&mut dx, &c, &x);
        check("dx", &x, &dx, &loss, 1e-5);
    }

    #[test]
    fn batched_f32_gelu_is_the_cores_to_a_few_ulp() {
        let x: Vec<f32> = (0..2001).map(|i| i as f32 * 0.005 - 5.0).collect();
        let mut y = vec![0.0f32; x.len()];
        gelu_forward(&mut y, &x);
        for (&v, &got) in x.iter().zip(&y) {
            let want = axon_core::activations::gelu_erf(v);
            assert!((got - want).abs() <= 1e-6 + 2e-6 * want.abs(), "gelu({v}) = {got}, core {want}");
        }
    }
}
