//! Quantization arithmetic of the TFLite int8 spec: `real = scale·(q − zero_point)`.
//!
//! Activations are int8 with one (scale, zero point) per tensor; weights are
//! int8 symmetric in [−127, 127] with one scale per output channel; bias is
//! int32 with scale `s_in·s_w[c]`. Requantization uses a Q31 multiplier and a
//! power-of-two shift, rounded as TFLite Micro does (gemmlowp's double
//! rounding, the default) or as the TFLite interpreter does (single
//! rounding): [`Rounding`].

pub mod argmax;
pub mod lut;
pub mod params;
pub mod requantize;
pub mod softmax;

pub use argmax::argmax_i8;
pub use lut::Lut;
pub use params::QuantParams;
pub use softmax::{
    exp_table_len, exp_table_matches, softmax_exp_table, softmax_i8, softmax_i8_with_table,
    SoftmaxParams,
};

pub use requantize::{
    multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_single_rounding,
    quantize_multiplier, rounding_divide_by_pot, saturating_rounding_doubling_high_mul, Rounding,
};
