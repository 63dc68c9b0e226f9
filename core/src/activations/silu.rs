//! SiLU (swish) and the SwiGLU gate.

use super::sigmoid;

/// `silu(x) = x·σ(x)`.
#[inline]
pub fn silu(x: f32) -> f32 {
    x * sigmoid(x)
}

/// `σ(x)·(1 + x·(1 − σ(x)))`.
#[inline]
pub fn silu_derivative(x: f32) -> f32 {
    let s = sigmoid(x);
    s * (1.0 + x * (1.0 - s))
}

/// SwiGLU's gating: `silu(gate)·up` (Shazeer, "GLU Variants Improve
/// Transformer"), where `gate` and `up` are two projections of one input.
#[inline]
pub fn swiglu(gate: f32, up: f32) -> f32 {
    silu(gate) * up
}

/// Partial derivatives of [`swiglu`]: `(∂/∂gate, ∂/∂up)`.
#[inline]
pub fn swiglu_derivative(gate: f32, up: f32) -> (f32, f32) {
    (silu_derivative(gate) * up, silu(gate))
}
