//! Training the element-wise activations: forward and backward through
//! the core's `Activation` (f32: the device's vectorized bits; f64: the
//! gradient check's twins), row by row along the innermost dimension.

use axon_core::Activation;

use super::{Args, Grads};
use crate::train::Real;

/// `y = act(x)`, row by row.
pub fn forward<T: Real>(act: &Activation, a: &Args<'_, T>, y: &mut [T]) -> anyhow::Result<()> {
    let d = a.output_shape.last().copied().unwrap_or(1).max(1) as usize;
    for (xr, yr) in a.inputs[0].chunks(d).zip(y.chunks_mut(d)) {
        yr.copy_from_slice(xr);
        T::activate(act, yr);
    }
    Ok(())
}

/// `dx += (∂y/∂x)ᵀ·dy`, row by row.
pub fn backward<T: Real>(
    act: &Activation,
    a: &Args<'_, T>,
    y: &[T],
    dy: &[T],
    g: &mut Grads<'_, T>,
) {
    let d = a.output_shape.last().copied().unwrap_or(1).max(1) as usize;
    let Some(dx) = g.inputs.get_mut(0) else {
        return;
    };
    let mut tmp = vec![T::ZERO; d];
    for (((xr, yr), dyr), dxr) in a.inputs[0]
        .chunks(d)
        .zip(y.chunks(d))
        .zip(dy.chunks(d))
        .zip(dx.chunks_mut(d))
    {
        let t = &mut tmp[..xr.len()];
        T::activate_backward(act, xr, yr, dyr, t);
        for (o, &v) in dxr.iter_mut().zip(t.iter()) {
            *o += v;
        }
    }
}
