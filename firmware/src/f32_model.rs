//! An f32 model as static data, run exactly as the host's
//! `axon_host::model::Model::forward` runs it: standardise each feature
//! (`(x − mean) / std`), then each layer through the core's kernels
//! (`axon_core::kernels::gemv`, `Activation::apply`). Same code, same bits.
//!
//! `cargo xtask models` writes the `static` items (`models/*_f32.rs`).

use axon_core::{Activation, Error};

/// One layer of an f32 model.
#[derive(Debug, Clone, Copy)]
pub enum F32Layer {
    /// `y = W·x + b`, `weights` output-major `(outputs, inputs)`.
    Dense {
        /// Inputs.
        inputs: usize,
        /// Outputs.
        outputs: usize,
        /// `(outputs, inputs)`, output-major.
        weights: &'static [f32],
        /// `(outputs,)`.
        bias: &'static [f32],
    },
    /// An element-wise (or softmax) activation, in place.
    Activation(Activation),
}

/// An f32 model: standardisation, then layers.
#[derive(Debug, Clone, Copy)]
pub struct F32Model {
    /// Input features.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// Standardisation mean, `(inputs,)`.
    pub mean: &'static [f32],
    /// Standardisation standard deviation, `(inputs,)`.
    pub std: &'static [f32],
    /// First to last.
    pub layers: &'static [F32Layer],
}

impl F32Model {
    /// Runs the model on `x` (`inputs`), writing `y` (`outputs`), with two
    /// scratch buffers `a`, `b` as wide as the widest layer.
    pub fn run(&self, x: &[f32], a: &mut [f32], b: &mut [f32], y: &mut [f32]) -> Result<(), Error> {
        if x.len() != self.inputs || y.len() != self.outputs || self.mean.len() != self.inputs {
            return Err(Error::ShapeMismatch {
                expected: self.inputs,
                found: x.len(),
            });
        }
        let (mut cur, mut next) = (a, b);
        let mut width = self.inputs;
        let room = cur.len().min(next.len());
        if width > room {
            return Err(Error::ShapeMismatch {
                expected: width,
                found: room,
            });
        }
        for (((o, &v), &m), &s) in cur.iter_mut().zip(x).zip(self.mean).zip(self.std) {
            *o = (v - m) / s;
        }
        for layer in self.layers {
            match *layer {
                F32Layer::Dense {
                    inputs,
                    outputs,
                    weights,
                    bias,
                } => {
                    if inputs != width || outputs > room {
                        return Err(Error::ShapeMismatch {
                            expected: width,
                            found: inputs,
                        });
                    }
                    axon_core::kernels::gemv(weights, &cur[..width], bias, &mut next[..outputs])?;
                    core::mem::swap(&mut cur, &mut next);
                    width = outputs;
                }
                F32Layer::Activation(act) => act.apply(&mut cur[..width]),
            }
        }
        if width != self.outputs {
            return Err(Error::ShapeMismatch {
                expected: self.outputs,
                found: width,
            });
        }
        y.copy_from_slice(&cur[..width]);
        Ok(())
    }
}
