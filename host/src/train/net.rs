//! The network being trained: a chain of dense and activation layers with
//! its parameters as flat tensors `[W₀, b₀, W₁, b₁, …]`.

use anyhow::bail;
use axon_core::Activation;

use super::dense::{dense_backward, dense_forward};
use super::real::Real;
use crate::model::LayerSpec;

/// One layer of the chain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NetLayer {
    /// Dense layer; its weights are `params[2·k]` `(outputs, inputs)` and its
    /// bias `params[2·k + 1]` `(outputs)`.
    Dense {
        /// Input width.
        inputs: usize,
        /// Output width.
        outputs: usize,
        /// Index `k` of the layer among the dense layers.
        k: usize,
    },
    /// An activation.
    Act(Activation),
}

/// A trainable chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Net<T> {
    /// Input width.
    pub inputs: usize,
    /// The layers.
    pub layers: Vec<NetLayer>,
    /// `[W₀, b₀, W₁, b₁, …]`, each `W` output-major `(out, in)`.
    pub params: Vec<Vec<T>>,
}

/// Every intermediate vector of one forward pass: `acts[0]` is the input,
/// `acts[i + 1]` the output of layer `i`.
#[derive(Debug, Clone)]
pub struct Cache<T> {
    /// The vectors.
    pub acts: Vec<Vec<T>>,
    grad_a: Vec<T>,
    grad_b: Vec<T>,
}

impl<T: Real> Net<T> {
    /// Builds from model layers; every width must chain.
    pub fn from_specs(inputs: usize, specs: &[LayerSpec]) -> anyhow::Result<Net<T>> {
        let mut layers = Vec::new();
        let mut params = Vec::new();
        let mut width = inputs;
        for (i, s) in specs.iter().enumerate() {
            match s {
                LayerSpec::Dense {
                    inputs: n_in,
                    outputs,
                    weights,
                    bias,
                } => {
                    if *n_in != width || weights.len() != n_in * outputs || bias.len() != *outputs {
                        bail!("layer {i}: dense {n_in}→{outputs} does not fit (the previous width is {width})");
                    }
                    layers.push(NetLayer::Dense {
                        inputs: *n_in,
                        outputs: *outputs,
                        k: params.len() / 2,
                    });
                    params.push(weights.iter().map(|&w| T::from_f64(f64::from(w))).collect());
                    params.push(bias.iter().map(|&b| T::from_f64(f64::from(b))).collect());
                    width = *outputs;
                }
                LayerSpec::Activation(a) => layers.push(NetLayer::Act(*a)),
            }
        }
        Ok(Net {
            inputs,
            layers,
            params,
        })
    }

    /// The layers as model layers (parameters rounded to f32).
    pub fn to_specs(&self) -> Vec<LayerSpec> {
        self.layers
            .iter()
            .map(|l| match *l {
                NetLayer::Dense { inputs, outputs, k } => LayerSpec::Dense {
                    inputs,
                    outputs,
                    weights: self.params[2 * k]
                        .iter()
                        .map(|w| w.to_f64() as f32)
                        .collect(),
                    bias: self.params[2 * k + 1]
                        .iter()
                        .map(|b| b.to_f64() as f32)
                        .collect(),
                },
                NetLayer::Act(a) => LayerSpec::Activation(a),
            })
            .collect()
    }

    /// The same network in another number type.
    pub fn convert<U: Real>(&self) -> Net<U> {
        Net {
            inputs: self.inputs,
            layers: self.layers.clone(),
            params: self
                .params
                .iter()
                .map(|p| p.iter().map(|v| U::from_f64(v.to_f64())).collect())
                .collect(),
        }
    }

    /// Output width.
    pub fn outputs(&self) -> usize {
        self.layers.iter().fold(self.inputs, |w, l| match l {
            NetLayer::Dense { outputs, .. } => *outputs,
            NetLayer::Act(_) => w,
        })
    }

    /// Zeroed gradient tensors shaped like the parameters.
    pub fn zero_grads(&self) -> Vec<Vec<T>> {
        self.params.iter().map(|p| vec![T::ZERO; p.len()]).collect()
    }

    /// Buffers for [`forward`](Self::forward) / [`backward`](Self::backward).
    pub fn cache(&self) -> Cache<T> {
        let mut acts = vec![vec![T::ZERO; self.inputs]];
        let mut w = self.inputs;
        let mut widest = w;
        for l in &self.layers {
            if let NetLayer::Dense { outputs, .. } = l {
                w = *outputs;
            }
            widest = widest.max(w);
            acts.push(vec![T::ZERO; w]);
        }
        Cache {
            acts,
            grad_a: vec![T::ZERO; widest],
            grad_b: vec![T::ZERO; widest],
        }
    }

    /// Forward pass of one sample; the output is `cache.acts.last()`.
    pub fn forward<'c>(&self, x: &[T], cache: &'c mut Cache<T>) -> &'c [T] {
        cache.acts[0].copy_from_slice(x);
        for (i, l) in self.layers.iter().enumerate() {
            let (before, after) = cache.acts.split_at_mut(i + 1);
            let input = &before[i];
            let out = &mut after[0];
            match *l {
                NetLayer::Dense { k, .. } => {
                    dense_forward(&self.params[2 * k], &self.params[2 * k + 1], input, out)
                }
                NetLayer::Act(a) => {
                    out.copy_from_slice(input);
                    T::activate(&a, out);
                }
            }
        }
        cache.acts.last().map(Vec::as_slice).unwrap_or(&[])
    }

    /// Backward pass of the sample last run through [`forward`](Self::forward):
    /// given `dout = ∂L/∂output`, adds `∂L/∂params` into `grads` and returns
    /// `∂L/∂input`.
    pub fn backward<'c>(
        &self,
        cache: &'c mut Cache<T>,
        dout: &[T],
        grads: &mut [Vec<T>],
    ) -> &'c [T] {
        let Cache {
            acts,
            grad_a,
            grad_b,
        } = cache;
        let mut width = dout.len();
        grad_a[..width].copy_from_slice(dout);
        for (i, l) in self.layers.iter().enumerate().rev() {
            let x = &acts[i];
            match *l {
                NetLayer::Dense { k, .. } => {
                    let (gw, gb) = grads.split_at_mut(2 * k + 1);
                    dense_backward(
                        &self.params[2 * k],
                        x,
                        &grad_a[..width],
                        &mut gw[2 * k],
                        &mut gb[0],
                        &mut grad_b[..x.len()],
                    );
                }
                NetLayer::Act(a) => {
                    T::activate_backward(
                        &a,
                        x,
                        &acts[i + 1],
                        &grad_a[..width],
                        &mut grad_b[..x.len()],
                    );
                }
            }
            width = x.len();
            std::mem::swap(grad_a, grad_b);
        }
        &grad_a[..width]
    }

    /// Are all parameters finite?
    pub fn all_finite(&self) -> bool {
        self.params.iter().all(|p| p.iter().all(|v| v.is_finite()))
    }
}
