//! Quantization arithmetic of the TFLite int8 spec: `real = scale·(q − zero_point)`.
//!
//! Activations are int8 with one (scale, zero point) per tensor; weights are
//! int8 symmetric in [−127, 127] with one scale per output channel; bias is
//! int32 with scale `s_in·s_w[c]`. Requantization uses a Q31 multiplier and a
//! power-of-two shift, with TFLite's default double rounding.

pub mod requantize;

pub use requantize::{
    multiply_by_quantized_multiplier, quantize_multiplier, rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
};
