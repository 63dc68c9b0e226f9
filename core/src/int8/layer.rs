//! The int8 layers: fully connected (with the fused ReLU/ReLU6 clamp), the
//! lookup-table activations, and softmax. Each borrows its constants
//! (`&'a [i8]`, `&'a [i32]`), so a layer can sit in a `static`, point into
//! a blob in flash, or borrow a host-side `Vec`.

use crate::kernels::{fully_connected_i8, fully_connected_i8_with_row_sums, FullyConnectedParams};
use crate::quant::lut::Lut;
use crate::quant::softmax::{
    exp_table_matches, softmax_i8, softmax_i8_with_table, SoftmaxParams, SOFTMAX_OUTPUT,
};
use crate::quant::{QuantParams, Rounding};
use crate::Error;

/// int8 fully connected, TFLite's reference arithmetic
/// ([`crate::kernels::gemv_i8`]).
#[derive(Debug, Clone, Copy)]
pub struct FullyConnected<'a> {
    /// Input width.
    pub input_len: usize,
    /// Output width.
    pub output_len: usize,
    /// `(output_len, input_len)`, output-major, symmetric codes in −127..=127.
    pub weights: &'a [i8],
    /// `(output_len,)`, scale `s_in·s_w[c]`, zero point 0.
    pub bias: &'a [i32],
    /// `(channels,)` Q31 multipliers of `s_in·s_w[c] / s_out`; `channels`
    /// is 1 (per tensor) or `output_len` (per channel).
    pub multiplier: &'a [i32],
    /// `(channels,)` shifts paired with `multiplier`, in −31..=30.
    pub shift: &'a [i32],
    /// `−input_zero_point`.
    pub input_offset: i32,
    /// The output tensor's parameters (its zero point is the output offset).
    pub output: QuantParams,
    /// Lower clamp: −128, or the output zero point for a fused ReLU.
    pub act_min: i8,
    /// Upper clamp: 127, or the code of 6.0 for a fused ReLU6.
    pub act_max: i8,
    /// `(output_len,)` precomputed `Σ_d w[c, d]` (wrapping), for kernels
    /// that fold the input offset in (AVX-512 VNNI); `None` to let them
    /// compute it. Same bits either way; must equal the weights' sums
    /// ([`FullyConnected::row_sums_match`]).
    pub row_sums: Option<&'a [i32]>,
    /// How requantization rounds (TFLite Micro's double rounding or the
    /// TFLite interpreter's single rounding); one mode per model.
    pub rounding: Rounding,
}

impl<'a> FullyConnected<'a> {
    /// The kernel's parameter block.
    pub fn params(&self) -> FullyConnectedParams<'a> {
        FullyConnectedParams {
            input_offset: self.input_offset,
            output_offset: self.output.zero_point,
            multiplier: self.multiplier,
            shift: self.shift,
            act_min: self.act_min,
            act_max: self.act_max,
            rounding: self.rounding,
        }
    }

    /// Whether every length and range is consistent (what a blob parser or a
    /// model validator checks once, before any inference).
    pub fn is_consistent(&self) -> bool {
        let channels = self.multiplier.len();
        self.input_len > 0
            && self.output_len > 0
            && self.input_len.checked_mul(self.output_len) == Some(self.weights.len())
            && self.bias.len() == self.output_len
            && self.shift.len() == channels
            && (channels == 1 || channels == self.output_len)
            && self.shift.iter().all(|s| (-31..=30).contains(s))
            && self.multiplier.iter().all(|&m| m >= 0)
            && self.output.is_valid()
            && (-127..=128).contains(&self.input_offset)
            && self.act_min <= self.act_max
            && self.row_sums.is_none_or(|r| r.len() == self.output_len)
    }

    /// Whether `row_sums`, if present, are the sums of the weight rows.
    pub fn row_sums_match(&self) -> bool {
        let Some(sums) = self.row_sums else {
            return true;
        };
        if self.input_len == 0 || sums.len() != self.output_len {
            return false;
        }
        self.weights
            .chunks_exact(self.input_len)
            .zip(sums)
            .all(|(row, &s)| row.iter().fold(0i32, |a, &v| a.wrapping_add(v as i32)) == s)
    }
}

/// Which function a lookup-table layer computes (for display and export;
/// the table alone defines the arithmetic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LutKind {
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Leaky ReLU (the slope is in the table).
    LeakyRelu,
    /// GELU, tanh approximation.
    Gelu,
    /// GELU, erf form.
    GeluErf,
    /// SiLU (swish).
    Silu,
}

impl LutKind {
    /// The name used in model files.
    pub const fn name(self) -> &'static str {
        match self {
            LutKind::Sigmoid => "sigmoid",
            LutKind::Tanh => "tanh",
            LutKind::LeakyRelu => "leaky_relu",
            LutKind::Gelu => "gelu",
            LutKind::GeluErf => "gelu_erf",
            LutKind::Silu => "silu",
        }
    }

    /// Every kind, in blob code order (the code is the index).
    pub const ALL: [LutKind; 6] = [
        LutKind::Sigmoid,
        LutKind::Tanh,
        LutKind::LeakyRelu,
        LutKind::Gelu,
        LutKind::GeluErf,
        LutKind::Silu,
    ];

    /// The kind's code in a blob's layer table.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The kind with blob code `code`.
    pub fn from_code(code: u8) -> Option<LutKind> {
        Self::ALL.get(code as usize).copied()
    }

    /// The kind named `name` (as in model files).
    pub fn from_name(name: &str) -> Option<LutKind> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }
}

/// An element-wise activation through a 256-entry table.
#[derive(Debug, Clone, Copy)]
pub struct LutLayer<'a> {
    /// What the table computes.
    pub kind: LutKind,
    /// Width (input = output).
    pub len: usize,
    /// The table, indexed by `code as u8`.
    pub table: &'a [i8; 256],
    /// The output tensor's parameters.
    pub output: QuantParams,
}

/// One layer of an int8 model.
#[derive(Debug, Clone, Copy)]
pub enum Layer<'a> {
    /// Fully connected with a fused clamp.
    FullyConnected(FullyConnected<'a>),
    /// Sigmoid or tanh by table.
    Lut(LutLayer<'a>),
    /// TFLite int8 softmax; output parameters [`SOFTMAX_OUTPUT`].
    Softmax {
        /// Width (input = output).
        len: usize,
        /// Scaling derived from the input scale.
        params: SoftmaxParams,
        /// The exponential of every difference from the row maximum,
        /// [`crate::quant::softmax_exp_table`]`(params)` without its
        /// trailing zeros (built at export or load), so that each element
        /// is a lookup instead of a fixed-point exponential; `None`
        /// computes them per element. Same bits either way; must be the
        /// table of `params` ([`Layer::exp_table_matches`], checked by
        /// `Model::validate`).
        exp_table: Option<&'a [i32]>,
    },
}

impl<'a> Layer<'a> {
    /// Input width.
    pub const fn input_len(&self) -> usize {
        match self {
            Layer::FullyConnected(fc) => fc.input_len,
            Layer::Lut(l) => l.len,
            Layer::Softmax { len, .. } => *len,
        }
    }

    /// Output width.
    pub const fn output_len(&self) -> usize {
        match self {
            Layer::FullyConnected(fc) => fc.output_len,
            Layer::Lut(l) => l.len,
            Layer::Softmax { len, .. } => *len,
        }
    }

    /// The output tensor's quantization parameters.
    pub const fn output_params(&self) -> QuantParams {
        match self {
            Layer::FullyConnected(fc) => fc.output,
            Layer::Lut(l) => l.output,
            Layer::Softmax { .. } => SOFTMAX_OUTPUT,
        }
    }

    /// Whether the layer's own fields are consistent (lengths, ranges).
    pub fn is_consistent(&self) -> bool {
        match self {
            Layer::FullyConnected(fc) => fc.is_consistent(),
            Layer::Lut(l) => l.len > 0 && l.output.is_valid(),
            Layer::Softmax { len, params, .. } => *len > 0 && params.is_valid(),
        }
    }

    /// Whether a softmax's exponential table, if present, is the one its
    /// parameters define (256 fixed-point exponentials: a load-time check,
    /// not an inference-time one). Other layers have no such table.
    pub fn exp_table_matches(&self) -> bool {
        match self {
            Layer::Softmax {
                params,
                exp_table: Some(t),
                ..
            } => exp_table_matches(params, t),
            _ => true,
        }
    }

    /// Runs the layer: `x` must be `input_len` codes, `y` `output_len`.
    pub fn run(&self, x: &[i8], y: &mut [i8]) -> Result<(), Error> {
        let (i, o) = (self.input_len(), self.output_len());
        if x.len() != i {
            return Err(Error::ShapeMismatch {
                expected: i,
                found: x.len(),
            });
        }
        if y.len() != o {
            return Err(Error::ShapeMismatch {
                expected: o,
                found: y.len(),
            });
        }
        match self {
            Layer::FullyConnected(fc) => match fc.row_sums {
                Some(sums) => {
                    fully_connected_i8_with_row_sums(fc.weights, x, fc.bias, sums, &fc.params(), y)
                }
                None => fully_connected_i8(fc.weights, x, fc.bias, &fc.params(), y),
            },
            Layer::Lut(l) => {
                Lut::new(l.table).apply_slice(x, y);
                Ok(())
            }
            Layer::Softmax {
                exp_table: Some(t), ..
            } => {
                softmax_i8_with_table(t, x, y);
                Ok(())
            }
            Layer::Softmax { params, .. } => {
                softmax_i8(params, x, y);
                Ok(())
            }
        }
    }
}
