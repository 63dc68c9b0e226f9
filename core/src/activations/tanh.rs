//! The hyperbolic tangent.

/// `tanh x`, with `libm::tanhf`.
#[inline]
pub fn tanh(x: f32) -> f32 {
    libm::tanhf(x)
}

/// `1 − tanh²x`.
#[inline]
pub fn tanh_derivative(x: f32) -> f32 {
    let t = tanh(x);
    1.0 - t * t
}
