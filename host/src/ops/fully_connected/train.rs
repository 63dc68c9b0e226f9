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
/// row by row (each element's sum in the same order as a plain loop over
/// the outputs; `dW` and `dx` in one pass over `W`).
pub fn backward<T: Real>(a: &Args<'_, T>, _y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
    let (x, w) = (a.inputs[0], a.params[0]);
    let o = a.params[1].len().max(1);
    let n = w.len() / o;
    if n == 0 {
        return;
    }
    let Grads { inputs, params } = g;
    let [dw, db] = &mut params[..] else { return };
    let mut dx = inputs.get_mut(0).map(|d| d.chunks_exact_mut(n));
    for (xr, dyr) in x.chunks_exact(n).zip(dy.chunks(o)) {
        let dxr = dx.as_mut().and_then(|d| d.next());
        let rows = w.chunks_exact(n).zip(dw.chunks_exact_mut(n));
        match dxr {
            Some(dxr) => {
                for ((&gk, dbk), (row, drow)) in dyr.iter().zip(db.iter_mut()).zip(rows) {
                    *dbk += gk;
                    for (((d, dxi), &xi), &wi) in drow.iter_mut().zip(dxr.iter_mut()).zip(xr).zip(row) {
                        *d += gk * xi;
                        *dxi += wi * gk;
                    }
                }
            }
            None => {
                for ((&gk, dbk), (_, drow)) in dyr.iter().zip(db.iter_mut()).zip(rows) {
                    *dbk += gk;
                    for (d, &xi) in drow.iter_mut().zip(xr) {
                        *d += gk * xi;
                    }
                }
            }
        }
    }
}
