//! The dense layer: `y = W·x + b`, forward beside backward.

use super::real::Real;

/// `y = W·x + b`; `w: (out, in)` output-major, `x: (in)`, `b, y: (out)`.
/// In f32 this is `axon_core::kernels::gemv`, the microcontroller's bits.
pub fn dense_forward<T: Real>(w: &[T], b: &[T], x: &[T], y: &mut [T]) {
    T::gemv(w, x, b, y)
}

/// Accumulates one sample's gradients: `dW += dy·xᵀ`, `db += dy`, and
/// writes `dx = Wᵀ·dy`. `w, dw: (out, in)`, `x, dx: (in)`, `dy, db: (out)`.
pub fn dense_backward<T: Real>(
    w: &[T],
    x: &[T],
    dy: &[T],
    dw: &mut [T],
    db: &mut [T],
    dx: &mut [T],
) {
    let n = x.len();
    dx.iter_mut().for_each(|d| *d = T::ZERO);
    for (o, &g) in dy.iter().enumerate() {
        db[o] += g;
        let row = &w[o * n..(o + 1) * n];
        let drow = &mut dw[o * n..(o + 1) * n];
        for i in 0..n {
            drow[i] += g * x[i];
            dx[i] += row[i] * g;
        }
    }
}
