//! The number type the backward math is written over: f32 for training
//! (forward through `axon_core`'s kernels), f64 for the gradient check.

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

use axon_core::Activation;

/// f32 or f64.
pub trait Real:
    Copy
    + Debug
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + 'static
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Rounds an f64 into this type.
    fn from_f64(x: f64) -> Self;
    /// Widens to f64.
    fn to_f64(self) -> f64;
    /// `e^x`.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// `ln(1 + x)`.
    fn ln_1p(self) -> Self;
    /// `|x|`.
    fn abs(self) -> Self;
    /// Is it neither NaN nor infinite?
    fn is_finite(self) -> bool;
    /// `y = W·x + b`, `W` output-major `(y.len(), x.len())`.
    fn gemv(w: &[Self], x: &[Self], b: &[Self], y: &mut [Self]);
    /// An activation, in place.
    fn activate(a: &Activation, xs: &mut [Self]);
    /// Its backward: `dx = (∂y/∂x)ᵀ·dy` from pre-activation `x` and output `y`.
    fn activate_backward(a: &Activation, x: &[Self], y: &[Self], dy: &[Self], dx: &mut [Self]);
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    fn from_f64(x: f64) -> f32 {
        x as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn exp(self) -> f32 {
        libm::expf(self)
    }
    fn ln(self) -> f32 {
        libm::logf(self)
    }
    fn ln_1p(self) -> f32 {
        libm::log1pf(self)
    }
    fn abs(self) -> f32 {
        f32::abs(self)
    }
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
    /// The core's kernel: the bits the microcontroller computes.
    fn gemv(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
        axon_core::kernels::gemv(w, x, b, y)
            .expect("layer shapes are checked when the network is built");
    }
    /// The core's activation: the bits the microcontroller computes.
    fn activate(a: &Activation, xs: &mut [f32]) {
        a.apply(xs)
    }
    /// The core's derivatives.
    fn activate_backward(a: &Activation, x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32]) {
        a.backward(x, y, dy, dx)
    }
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    fn from_f64(x: f64) -> f64 {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn exp(self) -> f64 {
        libm::exp(self)
    }
    fn ln(self) -> f64 {
        libm::log(self)
    }
    fn ln_1p(self) -> f64 {
        libm::log1p(self)
    }
    fn abs(self) -> f64 {
        f64::abs(self)
    }
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
    fn gemv(w: &[f64], x: &[f64], b: &[f64], y: &mut [f64]) {
        let n = x.len();
        for (o, yo) in y.iter_mut().enumerate() {
            let row = &w[o * n..(o + 1) * n];
            *yo = row.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() + b[o];
        }
    }
    fn activate(a: &Activation, xs: &mut [f64]) {
        super::activation::forward_f64(a, xs)
    }
    fn activate_backward(a: &Activation, x: &[f64], y: &[f64], dy: &[f64], dx: &mut [f64]) {
        super::activation::backward_f64(a, x, y, dy, dx)
    }
}
