//! The fully connected op's blob records: one layout per form, told apart
//! by the first byte.

use super::packed4::{Block, PackedDense, Scale};
use super::{FullyConnected, Int8, Packed, F32};
use crate::blob::{BlobError, Record};
use crate::kernels::gemv_i8::FullyConnectedParams;
use crate::ops::Fused;

crate::blob_layout! {
    /// The f32 form.
    pub mod record_f32 = "fully_connected record (f32)", 20 {
        /// 0.
        VARIANT: 0, Ty::U8;
        /// Must be 0.
        RESERVED0: 1, Ty::U8;
        /// Must be 0.
        RESERVED1: 2, Ty::U16;
        /// Input width.
        INPUTS: 4, Ty::U32;
        /// Output width.
        OUTPUTS: 8, Ty::U32;
        /// `(outputs, inputs)` weights, output-major.
        WEIGHTS: 12, Ty::Offset(Elem::F32);
        /// `(outputs,)` bias.
        BIAS: 16, Ty::Offset(Elem::F32);
    }
}

crate::blob_layout! {
    /// The int8 form (TFLite's arithmetic, reference layout).
    pub mod record_i8 = "fully_connected record (int8)", 52 {
        /// 1.
        VARIANT: 0, Ty::U8;
        /// Fused activation: 0 none, 1 relu, 2 relu6.
        ACTIVATION: 1, Ty::U8;
        /// 0: double rounding (TFLite Micro); 1: single (TFLite).
        ROUNDING: 2, Ty::U8;
        /// Must be 0.
        RESERVED0: 3, Ty::U8;
        /// Lower clamp (the fused activation's range).
        ACT_MIN: 4, Ty::I8;
        /// Upper clamp.
        ACT_MAX: 5, Ty::I8;
        /// Must be 0.
        RESERVED1: 6, Ty::U16;
        /// Input width.
        INPUTS: 8, Ty::U32;
        /// Output width.
        OUTPUTS: 12, Ty::U32;
        /// Requantization channels: 1 (per tensor) or `OUTPUTS`.
        CHANNELS: 16, Ty::U32;
        /// Minus the input zero point.
        INPUT_OFFSET: 20, Ty::I32;
        /// The output zero point.
        OUTPUT_OFFSET: 24, Ty::I32;
        /// `(outputs, inputs)` weights, output-major.
        WEIGHTS: 28, Ty::Offset(Elem::I8);
        /// `(outputs,)` bias, scale `s_in·s_w[c]`.
        BIAS: 32, Ty::Offset(Elem::I32);
        /// `(channels,)` Q31 multipliers.
        MULTIPLIER: 36, Ty::Offset(Elem::I32);
        /// `(channels,)` shifts (> 0 left), −31..=30.
        SHIFT: 40, Ty::Offset(Elem::I32);
        /// `(channels,)` weight scales.
        WEIGHT_SCALES: 44, Ty::Offset(Elem::F32);
        /// `(outputs,)` weight-row sums, or 0 for none.
        ROW_SUMS: 48, Ty::Offset(Elem::I32);
    }
}

crate::blob_layout! {
    /// The packed form: 4×4 weight blocks, staged activations.
    pub mod record_packed4 = "fully_connected record (packed4)", 28 {
        /// 2.
        VARIANT: 0, Ty::U8;
        /// 0: double rounding; 1: single.
        ROUNDING: 1, Ty::U8;
        /// Lower clamp.
        ACT_MIN: 2, Ty::I8;
        /// Upper clamp.
        ACT_MAX: 3, Ty::I8;
        /// Input width.
        INPUTS: 4, Ty::U32;
        /// Output width.
        OUTPUTS: 8, Ty::U32;
        /// The output zero point.
        OUTPUT_OFFSET: 12, Ty::I32;
        /// `Scale`s: 1 (per tensor) or one per row group of four outputs.
        SCALE_COUNT: 16, Ty::U32;
        /// The block stream (`packed4::stream_len` blocks of 16 bytes).
        STREAM: 20, Ty::Offset(Elem::I8);
        /// The `Scale`s, 20 bytes each: four right shifts minus one (u8),
        /// four multipliers (i32).
        SCALES: 24, Ty::Offset(Elem::I8);
    }
}

/// Decodes any of the three forms.
pub(super) fn decode<'a>(r: &Record<'a>) -> Result<FullyConnected<'a>, BlobError> {
    match r.u8(record_f32::VARIANT) {
        0 => {
            use record_f32::*;
            r.expect(&LAYOUT)?;
            r.zero(&[RESERVED0, RESERVED1])?;
            let (i, o) = (r.u32(INPUTS) as usize, r.u32(OUTPUTS) as usize);
            let n = i.checked_mul(o).ok_or(r.bad("inputs × outputs overflows"))?;
            Ok(FullyConnected::F32(F32 {
                weights: r.array(WEIGHTS, n)?,
                bias: r.array(BIAS, o)?,
            }))
        }
        1 => {
            use record_i8::*;
            r.expect(&LAYOUT)?;
            r.zero(&[RESERVED0, RESERVED1])?;
            let (i, o) = (r.u32(INPUTS) as usize, r.u32(OUTPUTS) as usize);
            let c = r.u32(CHANNELS) as usize;
            let n = i.checked_mul(o).ok_or(r.bad("inputs × outputs overflows"))?;
            let activation =
                Fused::from_code(r.u8(ACTIVATION)).ok_or(r.bad("unknown fused activation"))?;
            Ok(FullyConnected::Int8(Int8 {
                weights: r.array(WEIGHTS, n)?,
                bias: r.array(BIAS, o)?,
                weight_scales: r.array(WEIGHT_SCALES, c)?,
                row_sums: r.optional(ROW_SUMS, o)?,
                activation,
                params: FullyConnectedParams {
                    input_offset: r.i32(INPUT_OFFSET),
                    output_offset: r.i32(OUTPUT_OFFSET),
                    multiplier: r.array(MULTIPLIER, c)?,
                    shift: r.array(SHIFT, c)?,
                    act_min: r.i8(ACT_MIN),
                    act_max: r.i8(ACT_MAX),
                    rounding: r.rounding(ROUNDING)?,
                },
            }))
        }
        2 => {
            use record_packed4::*;
            r.expect(&LAYOUT)?;
            let (i, o) = (r.u32(INPUTS) as usize, r.u32(OUTPUTS) as usize);
            let blocks = super::packed4::stream_len(o, i);
            let len = blocks.checked_mul(16).ok_or(r.bad("the stream's length overflows"))?;
            let stream: &[Block] = bytemuck::try_cast_slice(r.array::<i8>(STREAM, len)?)
                .map_err(|_| r.bad("the block stream is misaligned"))?;
            let n = (r.u32(SCALE_COUNT) as usize)
                .checked_mul(20)
                .ok_or(r.bad("the scales' length overflows"))?;
            let scale: &[Scale] = bytemuck::try_cast_slice(r.array::<i8>(SCALES, n)?)
                .map_err(|_| r.bad("the scales are misaligned"))?;
            let layer = PackedDense::build(
                i,
                o,
                stream,
                scale,
                r.i32(OUTPUT_OFFSET),
                r.i8(ACT_MIN),
                r.i8(ACT_MAX),
                !r.checked(),
            )
            .map_err(|why| r.bad(why))?;
            Ok(FullyConnected::Packed4(Packed {
                layer,
                rounding: r.rounding(ROUNDING)?,
            }))
        }
        _ => Err(r.bad("fully_connected variant is not 0 (f32), 1 (int8) or 2 (packed4)")),
    }
}
