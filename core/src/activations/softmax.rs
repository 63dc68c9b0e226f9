//! Softmax, max-subtracted, with the canonical lane-split sum.

use crate::kernels::gemv_f32::Scalar;

/// In-place softmax: `m = max x`, `e_i = expf(x_i − m)`, `s = Σ e_i` in the
/// canonical order of [`crate::kernels::gemv_f32`], `y_i = e_i / s`.
///
/// Subtracting the maximum keeps every exponent ≤ 0, so inputs of ±1e4 (or
/// any finite size) neither overflow nor produce NaN. An empty slice is left
/// as it is.
pub fn softmax(xs: &mut [f32]) {
    let m = xs.iter().fold(f32::NEG_INFINITY, |m, &x| libm::fmaxf(m, x));
    for x in xs.iter_mut() {
        *x = libm::expf(*x - m);
    }
    let s = Scalar::sum(xs);
    for x in xs.iter_mut() {
        *x /= s;
    }
}

/// Softmax backward from its output `y`: `dx_i = y_i·(dy_i − Σ_j y_j·dy_j)`.
pub fn softmax_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) {
    let dot = Scalar::dot(y, dy);
    for ((d, &yi), &gi) in dx.iter_mut().zip(y).zip(dy) {
        *d = yi * (gi - dot);
    }
}
