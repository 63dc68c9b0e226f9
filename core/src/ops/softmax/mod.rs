//! `softmax`: `e^(x_i − max) / Σ e^(x_j − max)` along the innermost
//! dimension, row by row. f32 through the vectorized kernels (the bits of
//! [`crate::activations::softmax`]); int8 exactly as TFLite's reference
//! kernel ([`crate::quant::softmax`]: gemmlowp fixed point, output
//! parameters [`SOFTMAX_OUTPUT`]), its exponentials looked up in a table
//! built at load or export when one is given.
//!
//! Prepared variant: [`trimmed`], the table cut where it stops mattering,
//! for a classifier's last op on a microcontroller.

use super::{Io, OpDef, Signature};
use crate::blob::{BlobError, Record};
use crate::graph::DType;
use crate::quant::softmax::{
    exp_table_matches, softmax_i8, softmax_i8_with_table, SoftmaxParams, SOFTMAX_OUTPUT,
};
use crate::Error;

pub mod trimmed;

pub use trimmed::{softmax_trimmed, SoftmaxTable};

crate::blob_layout! {
    /// The record.
    pub mod record = "softmax record", 28 {
        /// 0: f32 (the other fields 0); 1: int8.
        VARIANT: 0, Ty::U8;
        /// Must be 0.
        RESERVED0: 1, Ty::U8;
        /// Must be 0.
        RESERVED1: 2, Ty::U16;
        /// `beta` (1 for a plain softmax).
        BETA: 4, Ty::F32;
        /// Q31 multiplier of `beta·input_scale·2^26`.
        INPUT_MULTIPLIER: 8, Ty::I32;
        /// Its left shift, 0..=30.
        INPUT_LEFT_SHIFT: 12, Ty::I32;
        /// Differences below this (in codes) contribute 0.
        DIFF_MIN: 16, Ty::I32;
        /// Entries of the exponential table (0: none, computed per element).
        TABLE_LEN: 20, Ty::U32;
        /// The exponential of each difference from the row maximum, Q0.31
        /// (`quant::softmax_exp_table` without its trailing zeros).
        TABLE: 24, Ty::Offset(Elem::I32);
    }
}

/// Softmax, in f32, int8 or the trimmed int8 form.
#[derive(Debug, Clone, Copy)]
pub enum Softmax<'a> {
    /// f32 (beta 1).
    F32,
    /// int8, TFLite's arithmetic.
    Int8 {
        /// `beta` (the parameters are derived from it and the input scale).
        beta: f32,
        /// The fixed-point parameters.
        params: SoftmaxParams,
        /// The exponential table of `params` without its trailing zeros,
        /// or `None` to compute each exponential. Same bits either way.
        exp_table: Option<&'a [i32]>,
    },
    /// The trimmed form (one row of at most 256 codes).
    Trimmed(SoftmaxTable<'a>),
}

/// int8 softmax of every row of `d` codes of `x` into `y`.
pub fn softmax_rows_i8(
    params: &SoftmaxParams,
    table: Option<&[i32]>,
    d: usize,
    x: &[i8],
    y: &mut [i8],
) {
    for (xr, yr) in x.chunks(d.max(1)).zip(y.chunks_mut(d.max(1))) {
        match table {
            Some(t) => softmax_i8_with_table(t, xr, yr),
            None => softmax_i8(params, xr, yr),
        }
    }
}

impl Softmax<'_> {
    /// The int8 forms on rows of `d` codes (the f32 form does nothing
    /// here; it runs through [`softmax_rows_f32`]).
    #[inline]
    pub fn run_i8(&self, d: usize, x: &[i8], y: &mut [i8]) {
        match self {
            Softmax::F32 => {}
            Softmax::Int8 {
                params, exp_table, ..
            } => softmax_rows_i8(params, *exp_table, d, x, y),
            Softmax::Trimmed(t) => softmax_trimmed(t, x, y),
        }
    }
}

/// f32 softmax of every row of `d` values of `x` into `y`.
pub fn softmax_rows_f32(d: usize, x: &[f32], y: &mut [f32]) {
    for (xr, yr) in x.chunks(d.max(1)).zip(y.chunks_mut(d.max(1))) {
        super::lut::map_f32(xr, yr, crate::kernels::dispatch::softmax_f32);
    }
}

impl<'a> OpDef<'a> for Softmax<'a> {
    const NAME: &'static str = "softmax";

    fn check(&self, sig: &Signature<'a>) -> Result<(), &'static str> {
        let int8 = |sig: &Signature<'a>| -> Result<_, &'static str> {
            let (x, y) = sig.unary(DType::I8, DType::I8)?;
            if y.params() != Some(SOFTMAX_OUTPUT) {
                return Err("int8 output must have TFLite's softmax parameters (1/256, −128)");
            }
            Ok(x)
        };
        match self {
            Softmax::F32 => sig.unary(DType::F32, DType::F32).map(|_| ()),
            Softmax::Int8 {
                beta,
                params,
                exp_table,
            } => {
                int8(sig)?;
                if !(params.is_valid() && beta.is_finite() && *beta > 0.0) {
                    return Err("parameters out of range");
                }
                if exp_table.is_some_and(|t| !exp_table_matches(params, t)) {
                    return Err("the exponential table is not its parameters'");
                }
                Ok(())
            }
            Softmax::Trimmed(_) => {
                let x = int8(sig)?;
                if x.shape.rows() != 1 || x.len() > 256 {
                    return Err("the trimmed form takes one row of at most 256 codes");
                }
                Ok(())
            }
        }
    }

    fn run(&self, io: Io<'_>) -> Result<(), Error> {
        let d = io.out_last;
        match self {
            Softmax::F32 => softmax_rows_f32(d, io.input(0).f32()?, io.out.f32()?),
            _ => self.run_i8(d, io.input(0).i8()?, io.out.i8()?),
        }
        Ok(())
    }

    fn decode(r: &Record<'a>) -> Result<Self, BlobError> {
        use record::*;
        r.expect(&LAYOUT)?;
        r.zero(&[RESERVED0, RESERVED1])?;
        match r.u8(VARIANT) {
            0 => {
                r.zero(&[BETA, INPUT_MULTIPLIER, INPUT_LEFT_SHIFT, DIFF_MIN, TABLE_LEN, TABLE])?;
                Ok(Softmax::F32)
            }
            1 => {
                let n = r.u32(TABLE_LEN) as usize;
                if n > 256 {
                    return Err(r.bad("the exponential table has more than 256 entries"));
                }
                Ok(Softmax::Int8 {
                    beta: r.f32(BETA),
                    params: SoftmaxParams {
                        input_multiplier: r.i32(INPUT_MULTIPLIER),
                        input_left_shift: r.i32(INPUT_LEFT_SHIFT),
                        diff_min: r.i32(DIFF_MIN),
                    },
                    exp_table: if n == 0 {
                        r.zero(&[TABLE])?;
                        None
                    } else {
                        Some(r.array(TABLE, n)?)
                    },
                })
            }
            _ => Err(r.bad("softmax variant is neither 0 (f32) nor 1 (int8)")),
        }
    }
}
