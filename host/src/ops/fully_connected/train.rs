//! `fully_connected`, forward beside backward, row by row (a vector is one
//! row; a sequence `[T, in]` has `T`).

use crate::ops::{Args, Grads};
use crate::train::Real;

/// `y = W·x + b` per row; `w: (out, in)` output-major. In f32 this is the
/// core's canonical-order GEMV, the bits the microcontroller computes.
pub fn forward<T: Real>(a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
    let (x, w, b) = (a.inputs[0], a.params[0], a.params[1]);
    let (o, i) = (b.len().max(1), w.len() / b.len().max(1));
    for (xr, yr) in x.chunks(i.max(1)).zip(y.chunks_mut(o)) {
        T::gemv(w, xr, b, yr);
    }
    Ok(())
}

/// Adds one sample's gradients: `dW += dy·xᵀ`, `db += dy`, `dx += Wᵀ·dy`,
/// row by row.
pub fn backward<T: Real>(a: &Args<'_, T>, _y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
    let (x, w) = (a.inputs[0], a.params[0]);
    let o = a.params[1].len().max(1);
    let n = w.len() / o;
    let Grads { inputs, params } = g;
    let [dw, db] = &mut params[..] else { return };
    let mut dx = inputs.get_mut(0);
    for (r, (xr, dyr)) in x.chunks(n.max(1)).zip(dy.chunks(o)).enumerate() {
        for (k, &gk) in dyr.iter().enumerate() {
            db[k] += gk;
            let row = &w[k * n..(k + 1) * n];
            let drow = &mut dw[k * n..(k + 1) * n];
            for i in 0..n {
                drow[i] += gk * xr[i];
            }
            if let Some(dx) = dx.as_deref_mut() {
                let dxr = &mut dx[r * n..(r + 1) * n];
                for i in 0..n {
                    dxr[i] += row[i] * gk;
                }
            }
        }
    }
}
