//! `add`: the element-wise sum of two tensors of one shape (a residual
//! connection). f32: `x1 + x2`. int8: exactly TFLite's int8 ADD
//! (`reference_integer_ops::Add`, its parameters from `PrepareGeneralSubOp`):
//! both inputs rescaled to a common scale with 20 bits of headroom, summed
//! in int32, rescaled to the output, offset, clamped to the fused
//! activation's range:
//!
//! ```text
//! v_k   = (x_k − zp_k) · 2^20                                    k = 1, 2
//! s_k   = MultiplyByQuantizedMultiplierSmallerThanOneExp(v_k, m_k, shift_k)
//! y     = clamp(MultiplyByQuantizedMultiplierSmallerThanOneExp(s_1 + s_2, m_o, shift_o) + zp_o)
//! ```
//!
//! with `m_k, shift_k` from `s_k / (2·max(s_1, s_2))` and `m_o, shift_o`
//! from `2·max(s_1, s_2) / (2^20·s_o)`. The rescalings round as the op's
//! [`Rounding`] says (TFLite Micro: double; `TFLITE_SINGLE_ROUNDING`
//! builds: single).

use super::{Fused, Io, OpDef, Signature};
use crate::blob::{BlobError, Record};
use crate::graph::DType;
use crate::quant::{quantize_multiplier, QuantParams, Rounding};
use crate::Error;

crate::blob_layout! {
    /// The record.
    pub mod record = "add record", 48 {
        /// 0: f32 (the other fields 0); 1: int8.
        VARIANT: 0, Ty::U8;
        /// Fused activation: 0 none, 1 relu, 2 relu6.
        ACTIVATION: 1, Ty::U8;
        /// 0: double rounding; 1: single.
        ROUNDING: 2, Ty::U8;
        /// Must be 0.
        RESERVED0: 3, Ty::U8;
        /// Lower clamp.
        ACT_MIN: 4, Ty::I8;
        /// Upper clamp.
        ACT_MAX: 5, Ty::I8;
        /// The headroom shift (20 for int8).
        HEADROOM: 6, Ty::U16;
        /// Minus the first input's zero point.
        INPUT1_OFFSET: 8, Ty::I32;
        /// Minus the second input's zero point.
        INPUT2_OFFSET: 12, Ty::I32;
        /// The output zero point.
        OUTPUT_OFFSET: 16, Ty::I32;
        /// First input's Q31 multiplier.
        INPUT1_MULTIPLIER: 20, Ty::I32;
        /// Its shift (≤ 0).
        INPUT1_SHIFT: 24, Ty::I32;
        /// Second input's Q31 multiplier.
        INPUT2_MULTIPLIER: 28, Ty::I32;
        /// Its shift (≤ 0).
        INPUT2_SHIFT: 32, Ty::I32;
        /// Output Q31 multiplier.
        OUTPUT_MULTIPLIER: 36, Ty::I32;
        /// Its shift (≤ 0).
        OUTPUT_SHIFT: 40, Ty::I32;
        /// Must be 0.
        RESERVED1: 44, Ty::U32;
    }
}

/// The int8 add's parameters (TFLite's `OpData` for ADD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddInt8 {
    /// Minus the first input's zero point.
    pub input1_offset: i32,
    /// Minus the second input's zero point.
    pub input2_offset: i32,
    /// The output zero point.
    pub output_offset: i32,
    /// The headroom shift: 20.
    pub left_shift: u32,
    /// First input's multiplier and shift.
    pub input1: (i32, i32),
    /// Second input's multiplier and shift.
    pub input2: (i32, i32),
    /// Output multiplier and shift.
    pub output: (i32, i32),
    /// The fused activation.
    pub activation: Fused,
    /// Its clamp.
    pub act_min: i8,
    /// Its clamp.
    pub act_max: i8,
    /// How the rescalings round.
    pub rounding: Rounding,
}

/// TFLite's headroom for int8 add.
pub const LEFT_SHIFT: u32 = 20;

impl AddInt8 {
    /// The parameters TFLite derives from the three tensors' quantization
    /// (`QuantizeMultiplierSmallerThanOneExp` of each real multiplier, in
    /// double from the float scales).
    pub fn derive(
        x1: QuantParams,
        x2: QuantParams,
        y: QuantParams,
        activation: Fused,
        rounding: Rounding,
    ) -> AddInt8 {
        let twice_max = 2.0 * (x1.scale as f64).max(x2.scale as f64);
        let (act_min, act_max) = activation.clamp(y);
        AddInt8 {
            input1_offset: -x1.zero_point,
            input2_offset: -x2.zero_point,
            output_offset: y.zero_point,
            left_shift: LEFT_SHIFT,
            input1: quantize_multiplier(x1.scale as f64 / twice_max),
            input2: quantize_multiplier(x2.scale as f64 / twice_max),
            output: quantize_multiplier(twice_max / ((1u64 << LEFT_SHIFT) as f64 * y.scale as f64)),
            activation,
            act_min,
            act_max,
            rounding,
        }
    }

    /// One output code.
    #[inline(always)]
    pub fn add(&self, a: i8, b: i8) -> i8 {
        let r = self.rounding;
        let v1 = (a as i32 + self.input1_offset).wrapping_shl(self.left_shift);
        let v2 = (b as i32 + self.input2_offset).wrapping_shl(self.left_shift);
        let s1 = r.multiply(v1, self.input1.0, self.input1.1);
        let s2 = r.multiply(v2, self.input2.0, self.input2.1);
        let raw = r
            .multiply(s1.wrapping_add(s2), self.output.0, self.output.1)
            .wrapping_add(self.output_offset);
        raw.max(self.act_min as i32).min(self.act_max as i32) as i8
    }
}

/// The add op, in f32 or int8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Add {
    /// f32.
    F32,
    /// int8.
    Int8(AddInt8),
}

/// `y = x1 + x2`.
#[inline]
pub fn add_f32(x1: &[f32], x2: &[f32], y: &mut [f32]) {
    for ((o, &a), &b) in y.iter_mut().zip(x1).zip(x2) {
        *o = a + b;
    }
}

/// The int8 add of `x1` and `x2` into `y`.
#[inline]
pub fn add_i8(p: &AddInt8, x1: &[i8], x2: &[i8], y: &mut [i8]) {
    for ((o, &a), &b) in y.iter_mut().zip(x1).zip(x2) {
        *o = p.add(a, b);
    }
}

impl<'a> OpDef<'a> for Add {
    const NAME: &'static str = "add";

    fn check(&self, sig: &Signature<'a>) -> Result<(), &'static str> {
        sig.expect_arity(2)?;
        let (a, b, y) = (sig.input(0)?, sig.input(1)?, sig.output);
        if a.shape != y.shape || b.shape != y.shape {
            return Err("its inputs and output differ in shape (no broadcasting)");
        }
        let t = match self {
            Add::F32 => DType::F32,
            Add::Int8(_) => DType::I8,
        };
        if a.dtype != t || b.dtype != t || y.dtype != t {
            return Err("its tensors have the wrong element type");
        }
        let Add::Int8(p) = self else {
            return Ok(());
        };
        let (Some(pa), Some(pb), Some(py)) = (a.params(), b.params(), y.params()) else {
            return Err("int8 tensors need quantization");
        };
        if p.input1_offset != -pa.zero_point
            || p.input2_offset != -pb.zero_point
            || p.output_offset != py.zero_point
        {
            return Err("its offsets are not its tensors' zero points");
        }
        if p.left_shift != LEFT_SHIFT {
            return Err("its headroom shift is not 20");
        }
        let ok = |(m, s): (i32, i32)| m >= 0 && (-31..=0).contains(&s);
        if !(ok(p.input1) && ok(p.input2) && ok(p.output)) {
            return Err("a multiplier is negative or a shift outside −31..=0");
        }
        if (p.act_min, p.act_max) != p.activation.clamp(py) {
            return Err("its clamp is not its fused activation's range");
        }
        Ok(())
    }

    fn run(&self, io: Io<'_>) -> Result<(), Error> {
        let (a, b) = (io.input(0), io.input(1));
        match self {
            Add::F32 => add_f32(a.f32()?, b.f32()?, io.out.f32()?),
            Add::Int8(p) => add_i8(p, a.i8()?, b.i8()?, io.out.i8()?),
        }
        Ok(())
    }

    fn decode(r: &Record<'a>) -> Result<Self, BlobError> {
        use record::*;
        r.expect(&LAYOUT)?;
        r.zero(&[RESERVED0, RESERVED1])?;
        match r.u8(VARIANT) {
            0 => {
                r.zero(&LAYOUT.fields[1..LAYOUT.fields.len()])?;
                Ok(Add::F32)
            }
            1 => Ok(Add::Int8(AddInt8 {
                input1_offset: r.i32(INPUT1_OFFSET),
                input2_offset: r.i32(INPUT2_OFFSET),
                output_offset: r.i32(OUTPUT_OFFSET),
                left_shift: r.u16(HEADROOM) as u32,
                input1: (r.i32(INPUT1_MULTIPLIER), r.i32(INPUT1_SHIFT)),
                input2: (r.i32(INPUT2_MULTIPLIER), r.i32(INPUT2_SHIFT)),
                output: (r.i32(OUTPUT_MULTIPLIER), r.i32(OUTPUT_SHIFT)),
                activation: Fused::from_code(r.u8(ACTIVATION))
                    .ok_or(r.bad("unknown fused activation"))?,
                act_min: r.i8(ACT_MIN),
                act_max: r.i8(ACT_MAX),
                rounding: r.rounding(ROUNDING)?,
            })),
            _ => Err(r.bad("add variant is neither 0 (f32) nor 1 (int8)")),
        }
    }
}
