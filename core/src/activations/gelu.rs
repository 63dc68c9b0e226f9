//! GELU in both common forms.

/// `√(2/π)`.
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
/// The cubic coefficient of the tanh approximation (Hendrycks & Gimpel).
const GELU_C: f32 = 0.044_715;
/// `1/√(2π)`.
const INV_SQRT_2PI: f32 = 0.398_942_3;

/// GELU, tanh approximation: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
#[inline]
pub fn gelu_tanh(x: f32) -> f32 {
    let u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
    0.5 * x * (1.0 + libm::tanhf(u))
}

/// Derivative of [`gelu_tanh`]:
/// `0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)`, `t = tanh(u)`.
#[inline]
pub fn gelu_tanh_derivative(x: f32) -> f32 {
    let u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
    let t = libm::tanhf(u);
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * x * x)
}

/// GELU, erf form: `0.5·x·(1 + erf(x/√2))`.
#[inline]
pub fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x * core::f32::consts::FRAC_1_SQRT_2))
}

/// Derivative of [`gelu_erf`]: `Φ(x) + x·φ(x)`.
#[inline]
pub fn gelu_erf_derivative(x: f32) -> f32 {
    let cdf = 0.5 * (1.0 + libm::erff(x * core::f32::consts::FRAC_1_SQRT_2));
    let pdf = INV_SQRT_2PI * libm::expf(-0.5 * x * x);
    cdf + x * pdf
}
