//! `leaky_relu`: `x` for `x > 0`, else `alpha·x`, element-wise. f32 as
//! [`crate::activations::leaky_relu`]; int8 by a 256-entry table (Axon's
//! choice: TFLite's int8 kernel computes it with two fixed-point
//! multipliers instead).

use super::{lut, Io, OpDef, Signature};
use crate::blob::{BlobError, Record};
use crate::Error;

/// Leaky ReLU with its slope, in f32 or by table.
#[derive(Debug, Clone, Copy)]
pub struct LeakyRelu<'a> {
    /// The slope for negative inputs (finite).
    pub alpha: f32,
    /// The int8 table, or `None` for f32.
    pub table: Option<&'a [i8; 256]>,
}

impl LeakyRelu<'_> {
    /// The f32 run.
    #[inline]
    pub fn run_f32(&self, x: &[f32], y: &mut [f32]) {
        lut::map_f32(x, y, |xs| self.apply_f32(xs))
    }

    /// The function, in place.
    #[inline]
    fn apply_f32(&self, xs: &mut [f32]) {
        let a = self.alpha;
        xs.iter_mut().for_each(|x| *x = crate::activations::leaky_relu(*x, a));
    }
}

impl<'a> OpDef<'a> for LeakyRelu<'a> {
    const NAME: &'static str = "leaky_relu";

    fn check(&self, sig: &Signature<'a>) -> Result<(), &'static str> {
        lut::check_alpha(sig, self.alpha, self.table.is_some())
    }

    fn run(&self, io: Io<'_>) -> Result<(), Error> {
        lut::run(io, self.table, |xs| self.apply_f32(xs))
    }

    fn decode(r: &Record<'a>) -> Result<Self, BlobError> {
        let (alpha, table) = lut::decode_alpha(r, "leaky_relu's flag byte must be 0")?;
        Ok(LeakyRelu { alpha, table })
    }
}
