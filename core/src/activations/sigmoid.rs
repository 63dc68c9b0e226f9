//! The logistic sigmoid.

/// `σ(x) = 1 / (1 + e^−x)`, with `libm::expf`. Saturates cleanly: for
/// `x < −88.7` the exponential is `+inf` and the result `+0.0`.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

/// `σ'(x) = σ(x)·(1 − σ(x))`.
#[inline]
pub fn sigmoid_derivative(x: f32) -> f32 {
    let s = sigmoid(x);
    s * (1.0 - s)
}
