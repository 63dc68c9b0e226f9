//! ReLU and leaky ReLU.

/// `max(0, x)`; `relu(−0.0)` is `+0.0`, and NaN stays NaN.
#[inline]
pub fn relu(x: f32) -> f32 {
    if x > 0.0 || x.is_nan() {
        x
    } else {
        0.0
    }
}

/// `1` for `x > 0`, else `0` (the subgradient at 0 is taken as 0).
#[inline]
pub fn relu_derivative(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else {
        0.0
    }
}

/// `x` for `x > 0`, else `alpha·x`.
#[inline]
pub fn leaky_relu(x: f32, alpha: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        alpha * x
    }
}

/// `1` for `x > 0`, else `alpha`.
#[inline]
pub fn leaky_relu_derivative(x: f32, alpha: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else {
        alpha
    }
}
