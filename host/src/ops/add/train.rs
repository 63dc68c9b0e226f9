//! `add`, forward beside backward: `y = a + b`, so `da += dy`, `db += dy`
//! (a residual connection sends the same gradient down both paths, where
//! it is summed with what the block's other consumers send).

use crate::ops::{Args, Grads};
use crate::train::Real;

/// `y = a + b`.
pub fn forward<T: Real>(a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
    for ((o, &p), &q) in y.iter_mut().zip(a.inputs[0]).zip(a.inputs[1]) {
        *o = p + q;
    }
    Ok(())
}

/// `da += dy; db += dy`.
pub fn backward<T: Real>(_a: &Args<'_, T>, _y: &[T], dy: &[T], g: &mut Grads<'_, T>) {
    for dx in g.inputs.iter_mut() {
        for (o, &d) in dx.iter_mut().zip(dy) {
            *o += d;
        }
    }
}
