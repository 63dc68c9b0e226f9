//! Activations for the trainer. In f32 the trainer uses the core's own
//! `Activation::apply` / `Activation::backward` (the MCU's bits); this file
//! holds the f64 twins the gradient check differentiates numerically, each
//! `*_forward` beside its `*_backward`.

use axon_core::Activation;

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_C: f64 = 0.044_715;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-x))
}

/// f64 forward of `a`, in place.
pub fn forward_f64(a: &Activation, xs: &mut [f64]) {
    match *a {
        Activation::Identity => {}
        Activation::Relu => xs.iter_mut().for_each(|x| *x = x.max(0.0)),
        Activation::LeakyRelu { alpha } => xs
            .iter_mut()
            .for_each(|x| *x = if *x > 0.0 { *x } else { f64::from(alpha) * *x }),
        Activation::Sigmoid => xs.iter_mut().for_each(|x| *x = sigmoid(*x)),
        Activation::Tanh => xs.iter_mut().for_each(|x| *x = libm::tanh(*x)),
        Activation::GeluTanh => xs.iter_mut().for_each(|x| {
            let u = SQRT_2_OVER_PI * (*x + GELU_C * *x * *x * *x);
            *x = 0.5 * *x * (1.0 + libm::tanh(u));
        }),
        Activation::GeluErf => xs
            .iter_mut()
            .for_each(|x| *x = 0.5 * *x * (1.0 + libm::erf(*x / std::f64::consts::SQRT_2))),
        Activation::Silu => xs.iter_mut().for_each(|x| *x *= sigmoid(*x)),
        Activation::Softmax => {
            let m = xs.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
            xs.iter_mut().for_each(|x| *x = libm::exp(*x - m));
            let s: f64 = xs.iter().sum();
            xs.iter_mut().for_each(|x| *x /= s);
        }
    }
}

/// f64 backward of `a`: `dx = (∂y/∂x)ᵀ·dy`.
pub fn backward_f64(a: &Activation, x: &[f64], y: &[f64], dy: &[f64], dx: &mut [f64]) {
    let each = |dx: &mut [f64], f: &dyn Fn(f64) -> f64| {
        for ((d, &xi), &g) in dx.iter_mut().zip(x).zip(dy) {
            *d = f(xi) * g;
        }
    };
    match *a {
        Activation::Identity => each(dx, &|_| 1.0),
        Activation::Relu => each(dx, &|v| if v > 0.0 { 1.0 } else { 0.0 }),
        Activation::LeakyRelu { alpha } => {
            each(dx, &|v| if v > 0.0 { 1.0 } else { f64::from(alpha) })
        }
        Activation::Sigmoid => each(dx, &|v| sigmoid(v) * (1.0 - sigmoid(v))),
        Activation::Tanh => each(dx, &|v| 1.0 - libm::tanh(v).powi(2)),
        Activation::GeluTanh => each(dx, &|v| {
            let t = libm::tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v));
            0.5 * (1.0 + t)
                + 0.5 * v * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * v * v)
        }),
        Activation::GeluErf => each(dx, &|v| {
            let cdf = 0.5 * (1.0 + libm::erf(v / std::f64::consts::SQRT_2));
            let pdf = libm::exp(-0.5 * v * v) / (2.0 * std::f64::consts::PI).sqrt();
            cdf + v * pdf
        }),
        Activation::Silu => each(dx, &|v| sigmoid(v) * (1.0 + v * (1.0 - sigmoid(v)))),
        Activation::Softmax => {
            let dot: f64 = y.iter().zip(dy).map(|(a, b)| a * b).sum();
            for ((d, &yi), &g) in dx.iter_mut().zip(y).zip(dy) {
                *d = yi * (g - dot);
            }
        }
    }
}
