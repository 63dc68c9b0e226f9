//! The shape of a model: widths, depth, heads, context, and the options.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// A GPT's hyper-parameters (the vocabulary size comes from its
/// [`Vocab`](super::Vocab)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmConfig {
    /// Tokens in the vocabulary `V`.
    pub vocab: usize,
    /// Width of the residual stream `D`.
    pub d_model: usize,
    /// Transformer blocks `L`.
    pub n_layer: usize,
    /// Attention heads `H` (each `D / H` wide).
    pub n_head: usize,
    /// Context length `T`: positions with an embedding.
    pub ctx: usize,
    /// Width of the feed-forward layer (4·D by default).
    pub d_ff: usize,
    /// The output projection is the token embedding (no `head.w`).
    pub tied: bool,
}

/// LayerNorm's ε (PyTorch's default).
pub const LN_EPS: f32 = 1e-5;

impl LmConfig {
    /// The default: `D` 64, 4 blocks, 4 heads, context 128, `d_ff` 256,
    /// untied head — 216,576 parameters for the 65-character corpus.
    pub fn default_for(vocab: usize) -> LmConfig {
        LmConfig {
            vocab,
            d_model: 64,
            n_layer: 4,
            n_head: 4,
            ctx: 128,
            d_ff: 256,
            tied: false,
        }
    }

    /// Width of one head.
    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_head.max(1)
    }

    /// Checks the shape is one the trainer and the device can run.
    pub fn validate(&self) -> Result<()> {
        if !(2..=256).contains(&self.vocab) {
            bail!("the vocabulary has 2..=256 tokens (got {})", self.vocab);
        }
        if self.d_model == 0
            || self.n_layer == 0
            || self.n_head == 0
            || self.ctx == 0
            || self.d_ff == 0
        {
            bail!("d_model, n_layer, n_head, ctx and d_ff must all be at least 1");
        }
        if !self.d_model.is_multiple_of(self.n_head) {
            bail!(
                "d_model {} is not a multiple of n_head {}",
                self.d_model,
                self.n_head
            );
        }
        if self.ctx > 4096 || self.d_model > 4096 || self.d_ff > 16384 || self.n_layer > 64 {
            bail!("the model is larger than Axon supports (ctx ≤ 4096, d_model ≤ 4096, d_ff ≤ 16384, n_layer ≤ 64)");
        }
        Ok(())
    }

    /// Number of parameters.
    pub fn param_count(&self) -> usize {
        super::params::shapes(self)
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum()
    }

    /// Weight multiply-accumulates of one token step (the matrices only:
    /// QKV, output projection, feed-forward, head).
    pub fn weight_macs_per_token(&self) -> usize {
        let (d, f) = (self.d_model, self.d_ff);
        self.n_layer * (3 * d * d + d * d + 2 * d * f) + self.vocab * d
    }
}
