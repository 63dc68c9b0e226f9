//! A model's parameters: named f32 tensors in one fixed order, the layout
//! of PyTorch's `nn.Linear` (weights `[out, in]`, `y = x·Wᵀ + b`).
//!
//! Order (and names):
//! ```text
//! 0 tok_emb [V, D]        1 pos_emb [T, D]
//! per block l, from 2 + 12·l:
//!   h{l}.ln1.g [D]  h{l}.ln1.b [D]
//!   h{l}.attn.wqkv [3D, D]  h{l}.attn.bqkv [3D]   rows: q, then k, then v;
//!                                                 head h is rows h·Dh..(h+1)·Dh of each
//!   h{l}.attn.wo [D, D]     h{l}.attn.bo [D]
//!   h{l}.ln2.g [D]  h{l}.ln2.b [D]
//!   h{l}.mlp.w1 [F, D]  h{l}.mlp.b1 [F]   h{l}.mlp.w2 [D, F]  h{l}.mlp.b2 [D]
//! ln_f.g [D]  ln_f.b [D]
//! head.w [V, D]           (absent when tied: the head is tok_emb)
//! ```

use super::LmConfig;
use crate::train::rng::Rng;
use anyhow::{bail, Result};

/// One of a block's twelve tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum LayerParam {
    /// First LayerNorm's gain.
    Ln1G = 0,
    /// First LayerNorm's bias.
    Ln1B,
    /// Query, key and value weights `[3D, D]`.
    Wqkv,
    /// Their biases `[3D]`.
    Bqkv,
    /// Attention output projection `[D, D]`.
    Wo,
    /// Its bias `[D]`.
    Bo,
    /// Second LayerNorm's gain.
    Ln2G,
    /// Second LayerNorm's bias.
    Ln2B,
    /// Feed-forward up projection `[F, D]`.
    W1,
    /// Its bias `[F]`.
    B1,
    /// Feed-forward down projection `[D, F]`.
    W2,
    /// Its bias `[D]`.
    B2,
}

/// Tensors per block.
pub const PER_LAYER: usize = 12;

const LAYER_NAMES: [&str; PER_LAYER] = [
    "ln1.g",
    "ln1.b",
    "attn.wqkv",
    "attn.bqkv",
    "attn.wo",
    "attn.bo",
    "ln2.g",
    "ln2.b",
    "mlp.w1",
    "mlp.b1",
    "mlp.w2",
    "mlp.b2",
];

/// Index of `tok_emb`.
pub const TOK_EMB: usize = 0;
/// Index of `pos_emb`.
pub const POS_EMB: usize = 1;

/// Index of block `l`'s tensor `p`.
pub fn layer_index(l: usize, p: LayerParam) -> usize {
    2 + PER_LAYER * l + p as usize
}

/// Index of `ln_f.g` (`ln_f.b` is the next).
pub fn ln_f_index(cfg: &LmConfig) -> usize {
    2 + PER_LAYER * cfg.n_layer
}

/// Index of the head's weights: `head.w`, or `tok_emb` when tied.
pub fn head_index(cfg: &LmConfig) -> usize {
    if cfg.tied {
        TOK_EMB
    } else {
        ln_f_index(cfg) + 2
    }
}

/// The names and shapes of `cfg`'s tensors, in order.
pub fn shapes(cfg: &LmConfig) -> Vec<(String, Vec<usize>)> {
    let (v, d, t, f) = (cfg.vocab, cfg.d_model, cfg.ctx, cfg.d_ff);
    let mut out = vec![
        ("tok_emb".to_string(), vec![v, d]),
        ("pos_emb".to_string(), vec![t, d]),
    ];
    for l in 0..cfg.n_layer {
        let s: [Vec<usize>; PER_LAYER] = [
            vec![d],
            vec![d],
            vec![3 * d, d],
            vec![3 * d],
            vec![d, d],
            vec![d],
            vec![d],
            vec![d],
            vec![f, d],
            vec![f],
            vec![d, f],
            vec![d],
        ];
        for (name, shape) in LAYER_NAMES.iter().zip(s) {
            out.push((format!("h{l}.{name}"), shape));
        }
    }
    out.push(("ln_f.g".to_string(), vec![d]));
    out.push(("ln_f.b".to_string(), vec![d]));
    if !cfg.tied {
        out.push(("head.w".to_string(), vec![v, d]));
    }
    out
}

/// A model's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct LmParams {
    /// The shape.
    pub cfg: LmConfig,
    /// Names, in order.
    pub names: Vec<String>,
    /// Shapes, in order.
    pub shapes: Vec<Vec<usize>>,
    /// Values, in order (row-major).
    pub data: Vec<Vec<f32>>,
}

impl LmParams {
    /// nanoGPT's initialisation, from Axon's seeded generator: every
    /// weight matrix and embedding N(0, 0.02²), the two residual
    /// projections (`attn.wo`, `mlp.w2`) N(0, (0.02/√(2L))²), biases 0,
    /// LayerNorm gains 1 and biases 0. Normals by Box–Muller in f64.
    pub fn init(cfg: LmConfig, seed: u64) -> Result<LmParams> {
        cfg.validate()?;
        let mut rng = Rng::new(seed, 0x1A4_6E7);
        let mut normal = move || {
            let u1 = 1.0 - rng.next_f64();
            let u2 = rng.next_f64();
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        };
        let proj_std = 0.02 / (2.0 * cfg.n_layer as f64).sqrt();
        let (names, shapes): (Vec<_>, Vec<_>) = shapes(&cfg).into_iter().unzip();
        let data = names
            .iter()
            .zip(&shapes)
            .map(|(name, shape)| {
                let n: usize = shape.iter().product();
                if name.ends_with(".g") {
                    vec![1.0; n]
                } else if shape.len() == 1 {
                    vec![0.0; n]
                } else {
                    let std = if name.ends_with("attn.wo") || name.ends_with("mlp.w2") {
                        proj_std
                    } else {
                        0.02
                    };
                    (0..n).map(|_| (normal() * std) as f32).collect()
                }
            })
            .collect();
        Ok(LmParams {
            cfg,
            names,
            shapes,
            data,
        })
    }

    /// From named tensors (a model file): every tensor of `cfg` present
    /// once with its shape and finite values.
    pub fn from_named(
        cfg: LmConfig,
        tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
    ) -> Result<LmParams> {
        cfg.validate()?;
        let want = shapes(&cfg);
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; want.len()];
        for (name, shape, values) in tensors {
            let Some(k) = want.iter().position(|(n, _)| *n == name) else {
                bail!("the model has a tensor {name:?} that this configuration does not");
            };
            if shape != want[k].1 {
                bail!(
                    "tensor {name} has shape {shape:?}, the configuration wants {:?}",
                    want[k].1
                );
            }
            if values.len() != shape.iter().product::<usize>() {
                bail!(
                    "tensor {name} has {} values for shape {shape:?}",
                    values.len()
                );
            }
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                bail!("tensor {name} holds a non-finite value at index {i}");
            }
            if slots[k].replace(values).is_some() {
                bail!("tensor {name} appears twice");
            }
        }
        let mut data = Vec::with_capacity(want.len());
        for ((name, _), slot) in want.iter().zip(slots) {
            match slot {
                Some(v) => data.push(v),
                None => bail!("the model lacks tensor {name}"),
            }
        }
        let (names, shapes) = want.into_iter().unzip();
        Ok(LmParams {
            cfg,
            names,
            shapes,
            data,
        })
    }

    /// Tensor `k`.
    pub fn tensor(&self, k: usize) -> &[f32] {
        &self.data[k]
    }

    /// Block `l`'s tensor `p`.
    pub fn layer(&self, l: usize, p: LayerParam) -> &[f32] {
        &self.data[layer_index(l, p)]
    }

    /// The head's weights `[V, D]` (the token embedding when tied).
    pub fn head(&self) -> &[f32] {
        &self.data[head_index(&self.cfg)]
    }

    /// Number of parameters.
    pub fn count(&self) -> usize {
        self.data.iter().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_has_pytorchs_parameter_count() {
        let cfg = LmConfig::default_for(65);
        assert_eq!(cfg.param_count(), 216_576);
        let p = LmParams::init(cfg, 1).unwrap();
        assert_eq!(p.count(), 216_576);
        assert_eq!(p.names[layer_index(3, LayerParam::B2)], "h3.mlp.b2");
        assert_eq!(p.names[head_index(&cfg)], "head.w");
        let tied = LmConfig { tied: true, ..cfg };
        assert_eq!(tied.param_count(), 216_576 - 65 * 64);
    }

    #[test]
    fn the_same_seed_gives_the_same_weights() {
        let cfg = LmConfig::default_for(65);
        let a = LmParams::init(cfg, 7).unwrap();
        assert_eq!(a, LmParams::init(cfg, 7).unwrap());
        assert_ne!(a, LmParams::init(cfg, 8).unwrap());
        let w = a.layer(0, LayerParam::Wqkv);
        let var = w.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / w.len() as f64;
        assert!((var.sqrt() - 0.02).abs() < 0.001, "std {}", var.sqrt());
    }
}
