//! The fully connected layer, f32.

use super::Layer;
use crate::activations::Activation;
use crate::kernels::dispatch;

/// `y = act(W·x + b)`, weights output-major: `weights[o]` is the row that
/// produces output `o` (shape `(OUT, IN)`), so each output is one contiguous
/// dot product.
#[derive(Debug, Clone)]
pub struct Dense<const IN: usize, const OUT: usize> {
    /// `(OUT, IN)`, output-major.
    pub weights: [[f32; IN]; OUT],
    /// `(OUT,)`.
    pub bias: [f32; OUT],
    /// Applied to `W·x + b`.
    pub activation: Activation,
}

impl<const IN: usize, const OUT: usize> Dense<IN, OUT> {
    /// A layer from its weights, bias and activation. Sizes of zero do not
    /// compile.
    pub const fn new(weights: [[f32; IN]; OUT], bias: [f32; OUT], activation: Activation) -> Self {
        const { assert!(IN > 0 && OUT > 0, "a Dense layer needs IN > 0 and OUT > 0") };
        Dense {
            weights,
            bias,
            activation,
        }
    }

    /// The pre-activation `z = W·x + b` alone (the article's "z").
    pub fn linear(&self, x: &[f32; IN], z: &mut [f32; OUT]) {
        dispatch::gemv_f32(self.weights.as_flattened(), x, &self.bias, z);
    }
}

impl<const IN: usize, const OUT: usize> Layer<IN, OUT> for Dense<IN, OUT> {
    const SCRATCH_BYTES: usize = 0;

    fn forward(&self, x: &[f32; IN], y: &mut [f32; OUT]) {
        self.linear(x, y);
        self.activation.apply(y);
    }
}
