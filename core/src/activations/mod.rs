//! Activation functions, f32, forward and derivative, one file per function.
//!
//! Transcendentals go through `libm`, which computes the same bits on every
//! target (it is plain Rust, not the platform's libm). Each `*_derivative`
//! takes the *pre-activation* `x` and returns `d act(x) / dx`; it sits next
//! to its forward function so the two can be read on one screen.

mod gelu;
mod relu;
mod sigmoid;
mod silu;
mod softmax;
mod tanh;

pub use gelu::{gelu_erf, gelu_erf_derivative, gelu_tanh, gelu_tanh_derivative};
pub use relu::{leaky_relu, leaky_relu_derivative, relu, relu_derivative};
pub use sigmoid::{sigmoid, sigmoid_derivative};
pub use silu::{silu, silu_derivative, swiglu, swiglu_derivative};
pub use softmax::{softmax, softmax_backward};
pub use tanh::{tanh, tanh_derivative};

/// An element-wise (or, for softmax, vector-wise) activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `x`.
    Identity,
    /// `max(0, x)`.
    Relu,
    /// `x` for `x > 0`, else `alpha·x`.
    LeakyRelu {
        /// Slope for negative inputs.
        alpha: f32,
    },
    /// `1 / (1 + e^−x)`.
    Sigmoid,
    /// `tanh x`.
    Tanh,
    /// GELU, tanh approximation: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    GeluTanh,
    /// GELU, exact erf form: `0.5·x·(1 + erf(x/√2))`.
    GeluErf,
    /// SiLU (swish): `x·σ(x)`.
    Silu,
    /// Softmax over the whole vector, max-subtracted.
    Softmax,
}

impl Activation {
    /// Applies the activation in place.
    pub fn apply(&self, xs: &mut [f32]) {
        match *self {
            Activation::Identity => {}
            Activation::Relu => crate::kernels::dispatch::relu_f32(xs),
            Activation::LeakyRelu { alpha } => {
                xs.iter_mut().for_each(|x| *x = leaky_relu(*x, alpha))
            }
            Activation::Sigmoid => crate::kernels::dispatch::sigmoid_f32(xs),
            Activation::Tanh => crate::kernels::dispatch::tanh_f32(xs),
            Activation::GeluTanh => crate::kernels::dispatch::gelu_tanh_f32(xs),
            Activation::GeluErf => xs.iter_mut().for_each(|x| *x = gelu_erf(*x)),
            Activation::Silu => crate::kernels::dispatch::silu_f32(xs),
            Activation::Softmax => crate::kernels::dispatch::softmax_f32(xs),
        }
    }

    /// Backward pass: given the pre-activation `x`, the output `y` (as
    /// [`apply`](Self::apply) produced it) and the upstream gradient `dy`,
    /// writes `dx = (∂y/∂x)ᵀ·dy`. All four slices have the same length.
    pub fn backward(&self, x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32]) {
        let each = |dx: &mut [f32], f: &dyn Fn(f32) -> f32| {
            for ((d, &xi), &g) in dx.iter_mut().zip(x).zip(dy) {
                *d = f(xi) * g;
            }
        };
        match *self {
            Activation::Identity => each(dx, &|_| 1.0),
            Activation::Relu => each(dx, &relu_derivative),
            Activation::LeakyRelu { alpha } => each(dx, &|v| leaky_relu_derivative(v, alpha)),
            Activation::Sigmoid => each(dx, &sigmoid_derivative),
            Activation::Tanh => each(dx, &tanh_derivative),
            Activation::GeluTanh => each(dx, &gelu_tanh_derivative),
            Activation::GeluErf => each(dx, &gelu_erf_derivative),
            Activation::Silu => each(dx, &silu_derivative),
            Activation::Softmax => softmax_backward(y, dy, dx),
        }
    }

    /// The name used in model files and on the command line.
    pub const fn name(&self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::GeluTanh => "gelu",
            Activation::GeluErf => "gelu_erf",
            Activation::Silu => "silu",
            Activation::Softmax => "softmax",
        }
    }
}
