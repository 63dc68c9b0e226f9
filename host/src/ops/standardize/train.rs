//! `standardize`, forward beside backward. The parameters are fixed
//! (computed from the training split), so only the input's gradient flows.

use crate::ops::{Args, Grads};
use crate::train::Real;

/// `y = (x − mean) / std`, feature by feature.
pub fn forward<T: Real>(a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
    let (x, mean, std) = (a.inputs[0], a.params[0], a.params[1]);
    let d = mean.len().max(1);
    for (xr, yr) in x.chunks(d).zip(y.chunks_mut(d)) {
        for (((o, &v), &m), &s) in yr.iter_mut().zip(xr).zip(mean).zip(std) {
            *o = (v - m) / s;
        }
    }
    Ok(())
}

/// `dx += dy / std`.
pub fn backward<T: Real>(a: &Args<'_, T>, _y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
    let std = a.params[1];
    let d = std.len().max(1);
    if let Some(dx) = g.inputs.get_mut(0) {
        for (dxr, dyr) in dx.chunks_mut(d).zip(dy.chunks(d)) {
            for ((o, &gy), &s) in dxr.iter_mut().zip(dyr).zip(std) {
                *o += gy / s;
            }
        }
    }
}
