//! `relu`: `max(0, x)`, element-wise. f32 through the vectorized kernels;
//! int8 as TFLite's `ReluQuantized`: rescale the input code to the output's
//! parameters, then clamp below at the output's zero point (real 0).
//!
//! (After a fully connected layer or an add, the quantizer fuses ReLU into
//! that op's clamp instead; a standalone int8 relu is what remains.)

use super::{Io, OpDef, Signature};
use crate::blob::{BlobError, Record};
use crate::graph::DType;
use crate::quant::Rounding;
use crate::Error;

crate::blob_layout! {
    /// The record.
    pub mod record = "relu record", 24 {
        /// 0: f32 (the other fields 0); 1: int8.
        VARIANT: 0, Ty::U8;
        /// 0: double rounding; 1: single.
        ROUNDING: 1, Ty::U8;
        /// Must be 0.
        RESERVED0: 2, Ty::U16;
        /// Q31 multiplier of `input_scale / output_scale`.
        MULTIPLIER: 4, Ty::I32;
        /// Its shift (TFLite's sign: > 0 left).
        SHIFT: 8, Ty::I32;
        /// The input zero point.
        INPUT_ZERO_POINT: 12, Ty::I32;
        /// The output zero point.
        OUTPUT_ZERO_POINT: 16, Ty::I32;
        /// Lower clamp: the output zero point.
        ACT_MIN: 20, Ty::I8;
        /// Upper clamp: 127.
        ACT_MAX: 21, Ty::I8;
        /// Must be 0.
        RESERVED1: 22, Ty::U16;
    }
}

/// The int8 relu's parameters (derived on the host from the two tensors'
/// scales; the zero points are checked against them here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReluInt8 {
    /// Q31 multiplier of `input_scale / output_scale`.
    pub multiplier: i32,
    /// Its shift.
    pub shift: i32,
    /// The input zero point.
    pub input_zero_point: i32,
    /// The output zero point.
    pub output_zero_point: i32,
    /// Lower clamp (the output zero point, at least −128).
    pub act_min: i8,
    /// Upper clamp.
    pub act_max: i8,
    /// How the rescaling rounds.
    pub rounding: Rounding,
}

/// ReLU, in f32 or int8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relu {
    /// f32.
    F32,
    /// int8.
    Int8(ReluInt8),
}

/// The f32 relu of `x` into `y`.
#[inline]
pub fn relu_f32(x: &[f32], y: &mut [f32]) {
    super::lut::map_f32(x, y, crate::kernels::dispatch::relu_f32)
}

/// The int8 relu of `x` into `y`.
pub fn relu_i8(p: &ReluInt8, x: &[i8], y: &mut [i8]) {
    for (o, &q) in y.iter_mut().zip(x) {
        let v = p
            .rounding
            .multiply(q as i32 - p.input_zero_point, p.multiplier, p.shift)
            .wrapping_add(p.output_zero_point);
        *o = v.max(p.act_min as i32).min(p.act_max as i32) as i8;
    }
}

impl<'a> OpDef<'a> for Relu {
    const NAME: &'static str = "relu";

    fn check(&self, sig: &Signature<'a>) -> Result<(), &'static str> {
        match self {
            Relu::F32 => sig.unary(DType::F32, DType::F32).map(|_| ()),
            Relu::Int8(p) => {
                let (x, y) = sig.unary(DType::I8, DType::I8)?;
                let (Some(px), Some(py)) = (x.params(), y.params()) else {
                    return Err("int8 tensors need quantization");
                };
                if p.input_zero_point != px.zero_point || p.output_zero_point != py.zero_point {
                    return Err("zero points differ from the tensors'");
                }
                if p.act_min as i32 != py.zero_point.max(-128) || p.act_min > p.act_max {
                    return Err("the clamp does not start at the output zero point");
                }
                if p.multiplier < 0 || !(-31..=30).contains(&p.shift) {
                    return Err("multiplier or shift out of range");
                }
                Ok(())
            }
        }
    }

    fn run(&self, io: Io<'_>) -> Result<(), Error> {
        match self {
            Relu::F32 => {
                relu_f32(io.input(0).f32()?, io.out.f32()?);
                Ok(())
            }
            Relu::Int8(p) => {
                relu_i8(p, io.input(0).i8()?, io.out.i8()?);
                Ok(())
            }
        }
    }

    fn decode(r: &Record<'a>) -> Result<Self, BlobError> {
        use record::*;
        r.expect(&LAYOUT)?;
        r.zero(&[RESERVED0, RESERVED1])?;
        match r.u8(VARIANT) {
            0 => {
                r.zero(&[ROUNDING, MULTIPLIER, SHIFT, INPUT_ZERO_POINT, OUTPUT_ZERO_POINT])?;
                r.zero(&[ACT_MIN, ACT_MAX])?;
                Ok(Relu::F32)
            }
            1 => Ok(Relu::Int8(ReluInt8 {
                multiplier: r.i32(MULTIPLIER),
                shift: r.i32(SHIFT),
                input_zero_point: r.i32(INPUT_ZERO_POINT),
                output_zero_point: r.i32(OUTPUT_ZERO_POINT),
                act_min: r.i8(ACT_MIN),
                act_max: r.i8(ACT_MAX),
                rounding: r.rounding(ROUNDING)?,
            })),
            _ => Err(r.bad("relu variant is neither 0 (f32) nor 1 (int8)")),
        }
    }
}
