//! `elu`, forward beside backward: `y = x` for `x > 0`, else
//! `alpha·(eˣ − 1)`; so `dx = dy` for `x > 0`, else `dy·(y + alpha)`
//! (`alpha·eˣ` is `y + alpha`).

use crate::ops::{Args, Grads};
use crate::train::Real;

/// `y = elu(x)`.
pub fn forward<T: Real>(alpha: T, a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
    for (o, &x) in y.iter_mut().zip(a.inputs[0]) {
        *o = if x > T::ZERO {
            x
        } else {
            alpha * (x.exp() - T::ONE)
        };
    }
    Ok(())
}

/// `dx += dy · elu'(x)`.
pub fn backward<T: Real>(alpha: T, a: &Args<'_, T>, y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
    let Some(dx) = g.inputs.get_mut(0) else {
        return;
    };
    for (((o, &x), &y), &d) in dx.iter_mut().zip(a.inputs[0]).zip(y).zip(dy) {
        *o += if x > T::ZERO { d } else { d * (y + alpha) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The analytic gradient against central differences in f64, on both
    /// sides of 0 and for two alphas.
    #[test]
    fn backward_is_the_derivative_of_forward() {
        let xs = [-4.0, -1.3, -0.2, -1e-3, 2e-3, 0.4, 3.1];
        for alpha in [1.0f64, 0.35] {
            let shape = [xs.len() as u32];
            let f = |x: &[f64]| {
                let a = Args {
                    inputs: &[x],
                    input_shapes: &[&shape[..]],
                    params: &[],
                    output_shape: &shape[..],
                };
                let mut y = vec![0.0; x.len()];
                forward(alpha, &a, &mut y).unwrap();
                y
            };
            let y = f(&xs);
            let a = Args {
                inputs: &[&xs[..]],
                input_shapes: &[&shape[..]],
                params: &[],
                output_shape: &shape[..],
            };
            for k in 0..xs.len() {
                let mut dy = vec![0.0; xs.len()];
                dy[k] = 1.0;
                let mut dx = vec![0.0; xs.len()];
                backward(
                    alpha,
                    &a,
                    &y,
                    &dy,
                    &mut Grads {
                        inputs: &mut [&mut dx[..]],
                        params: &mut [],
                    },
                );
                let h = 1e-6;
                let (mut up, mut down) = (xs, xs);
                up[k] += h;
                down[k] -= h;
                let numeric = (f(&up)[k] - f(&down)[k]) / (2.0 * h);
                assert!(
                    (dx[k] - numeric).abs() < 1e-6,
                    "alpha {alpha}, x {}: analytic {} numeric {numeric}",
                    xs[k],
                    dx[k]
                );
            }
        }
    }
}
