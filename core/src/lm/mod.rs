//! The character-level transformer language model in integer-only int8
//! (issue 12, `docs/lm.md`): the model borrowed from its blob
//! ([`LmModel`], [`blob`]), one token step with a KV cache in caller memory
//! ([`Session`]), integer sampling ([`sampler`]) and the generation policy
//! host and device share ([`Generator`], including the re-encode past the
//! context).
//!
//! Every tensor between ops is int8 with its own scale and zero point; the
//! ops are TFLite's int8 arithmetic (GATHER, ADD, FULLY_CONNECTED,
//! BATCH_MATMUL, SOFTMAX), Axon's integer layer norm
//! ([`crate::ops::layer_norm`]) and a 256-entry GELU table built on the
//! host. No floating point runs in a step.

pub mod blob;
mod generator;
pub mod sampler;
mod session;

pub use blob::{parse, LmBlobError};
pub use generator::Generator;
pub use sampler::Sampler;
pub use sampler::SamplerError;
pub use session::{NoProbe, OpKind, Probe, Session};

use crate::kernels::gemv_i8::{fully_connected_i8, FullyConnectedParams};
use crate::ops::add::AddInt8;
use crate::ops::batch_matmul::MatmulQuant;
use crate::ops::layer_norm::LayerNormQuant;
use crate::quant::{QuantParams, Rounding, SoftmaxParams};
use crate::Error;

/// Most blocks a model may have.
pub const MAX_LAYERS: usize = 8;
/// Longest context.
pub const MAX_CTX: usize = 4096;

/// A model's shape (`docs/lm.md`: `V, D, L, H, T, F`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Tokens in the vocabulary (`V`, 1..=256).
    pub vocab: usize,
    /// Width (`D`).
    pub d_model: usize,
    /// Blocks (`L`, 1..=[`MAX_LAYERS`]).
    pub n_layer: usize,
    /// Heads (`H`, dividing `D`).
    pub n_head: usize,
    /// Context (`T`, even, 2..=[`MAX_CTX`]).
    pub ctx: usize,
    /// Feed-forward width (`F`).
    pub d_ff: usize,
    /// Whether the f32 model tied the head to the token embedding (the int8
    /// head is stored on its own either way: its codes are per channel).
    pub tied: bool,
}

impl Shape {
    /// Width of a head (`Dh = D/H`).
    pub const fn head_dim(&self) -> usize {
        self.d_model / self.n_head
    }

    /// Bytes of KV cache a session needs: `L·2·T·D`.
    pub const fn kv_len(&self) -> usize {
        self.n_layer * 2 * self.ctx * self.d_model
    }

    /// Bytes of scratch a session needs: the step's activations
    /// (`5·D + 2·F + 2·T + V`) and the window of the last `T` tokens.
    pub const fn scratch_len(&self) -> usize {
        5 * self.d_model + 2 * self.d_ff + 3 * self.ctx + self.vocab
    }

    /// Why the shape is impossible, if it is.
    pub fn check(&self) -> Result<(), &'static str> {
        if !(1..=256).contains(&self.vocab) {
            return Err("vocab must be 1..=256 tokens");
        }
        if !(2..=crate::ops::layer_norm::MAX_WIDTH).contains(&self.d_model) {
            return Err("d_model must be 2..=4096");
        }
        if !(1..=MAX_LAYERS).contains(&self.n_layer) {
            return Err("n_layer must be 1..=8");
        }
        if self.n_head == 0 || !self.d_model.is_multiple_of(self.n_head) {
            return Err("n_head must divide d_model");
        }
        if !(2..=MAX_CTX).contains(&self.ctx) || !self.ctx.is_multiple_of(2) {
            return Err("ctx must be even, 2..=4096");
        }
        if !(1..=65536).contains(&self.d_ff) {
            return Err("d_ff must be 1..=65536");
        }
        Ok(())
    }
}

/// An int8 fully connected layer (TFLite's arithmetic, per-channel
/// weights, through [`crate::kernels`]' fastest kernel: the Cortex-M DSP
/// one on the device).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fc<'a> {
    /// `(out, in)` output-major, symmetric codes.
    pub weights: &'a [i8],
    /// `(out,)` at scale `s_in·s_w[c]`.
    pub bias: &'a [i32],
    /// `(out,)` Q31 multipliers of `s_in·s_w[c]/s_out`.
    pub multiplier: &'a [i32],
    /// `(out,)` their shifts.
    pub shift: &'a [i32],
    /// The input's zero point.
    pub input_zero_point: i32,
    /// The output's zero point.
    pub output_zero_point: i32,
}

impl Fc<'_> {
    /// `y = W·x + b`, requantized.
    #[inline]
    pub fn run(&self, rounding: Rounding, x: &[i8], y: &mut [i8]) -> Result<(), Error> {
        let p = FullyConnectedParams {
            input_offset: -self.input_zero_point,
            output_offset: self.output_zero_point,
            multiplier: self.multiplier,
            shift: self.shift,
            act_min: -128,
            act_max: 127,
            rounding,
        };
        fully_connected_i8(self.weights, x, self.bias, &p, y)
    }
}

/// One transformer block's int8 parameters, in the order the step runs
/// them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Block<'a> {
    /// First layer norm.
    pub ln1: LayerNormQuant<'a>,
    /// Query.
    pub q: Fc<'a>,
    /// Key (written to the cache).
    pub k: Fc<'a>,
    /// Value (written to the cache).
    pub v: Fc<'a>,
    /// `q·kᵀ` with `1/√Dh` folded into the multiplier.
    pub scores: MatmulQuant,
    /// Softmax over the prefix (output scale 1/256, zero point −128).
    pub softmax: SoftmaxParams,
    /// Probabilities times values.
    pub pv: MatmulQuant,
    /// Attention output projection.
    pub proj: Fc<'a>,
    /// Residual after attention.
    pub add1: AddInt8,
    /// Second layer norm.
    pub ln2: LayerNormQuant<'a>,
    /// Feed-forward up projection.
    pub ff1: Fc<'a>,
    /// GELU: entry for code `q` at index `q as u8`.
    pub gelu: &'a [i8; 256],
    /// Feed-forward down projection.
    pub ff2: Fc<'a>,
    /// Residual after the feed-forward.
    pub add2: AddInt8,
}

/// An int8 language model, borrowed from its blob ([`parse`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LmModel<'a> {
    /// The shape.
    pub shape: Shape,
    /// How every requantization rounds.
    pub rounding: Rounding,
    /// The vocabulary: token `i` is the `i`-th character.
    pub vocab: &'a str,
    /// `(V, D)` token embedding codes.
    pub tok_emb: &'a [i8],
    /// `(T, D)` position embedding codes.
    pub pos_emb: &'a [i8],
    /// Their sum.
    pub embed: AddInt8,
    blocks: [Block<'a>; MAX_LAYERS],
    /// Final layer norm.
    pub ln_f: LayerNormQuant<'a>,
    /// The head: logits codes.
    pub head: Fc<'a>,
    /// The logits' scale and zero point (for the sampler's temperature and
    /// the host's loss).
    pub logits: QuantParams,
}

/// A model's parts, as [`LmModel::new`] takes them.
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a, 'b> {
    /// The shape.
    pub shape: Shape,
    /// How every requantization rounds.
    pub rounding: Rounding,
    /// The vocabulary.
    pub vocab: &'a str,
    /// `(V, D)` codes.
    pub tok_emb: &'a [i8],
    /// `(T, D)` codes.
    pub pos_emb: &'a [i8],
    /// Their sum.
    pub embed: AddInt8,
    /// The blocks (`n_layer` of them).
    pub blocks: &'b [Block<'a>],
    /// Final layer norm.
    pub ln_f: LayerNormQuant<'a>,
    /// The head.
    pub head: Fc<'a>,
    /// The logits' parameters.
    pub logits: QuantParams,
}

impl<'a> LmModel<'a> {
    /// A model from its parts (the blob parser's result, or a host's owned
    /// model viewed in place). Checks the shape and the block count only;
    /// [`parse`] checks everything else of an untrusted blob.
    pub fn new(p: Parts<'a, '_>) -> Result<Self, &'static str> {
        p.shape.check()?;
        let first = *p.blocks.first().ok_or("a model has at least one block")?;
        if p.blocks.len() != p.shape.n_layer {
            return Err("the number of blocks is not n_layer");
        }
        let mut blocks = [first; MAX_LAYERS];
        for (slot, b) in blocks.iter_mut().zip(p.blocks) {
            *slot = *b;
        }
        Ok(LmModel {
            shape: p.shape,
            rounding: p.rounding,
            vocab: p.vocab,
            tok_emb: p.tok_emb,
            pos_emb: p.pos_emb,
            embed: p.embed,
            blocks,
            ln_f: p.ln_f,
            head: p.head,
            logits: p.logits,
        })
    }

    /// The blocks, in order.
    pub fn blocks(&self) -> &[Block<'a>] {
        self.blocks.get(..self.shape.n_layer).unwrap_or(&[])
    }

    /// Bytes of KV cache a [`Session`] needs.
    pub const fn kv_len(&self) -> usize {
        self.shape.kv_len()
    }

    /// Bytes of scratch a [`Session`] needs.
    pub const fn scratch_len(&self) -> usize {
        self.shape.scratch_len()
    }

    /// The character of token `t`.
    pub fn char_of(&self, t: u8) -> Option<char> {
        self.vocab.chars().nth(t as usize)
    }

    /// The token of character `c`.
    pub fn token_of(&self, c: char) -> Option<u8> {
        self.vocab.chars().position(|v| v == c).map(|i| i as u8)
    }
}
