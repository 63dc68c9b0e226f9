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
        let a = self.alpha;
        lut::map_f32(x, y, |xs| {
            xs.iter_mut()
                .for_each(|x| *x = crate::activations::leaky_relu(*x, a))
        })
    }
}

impl<'a> OpDef<'a> for LeakyRelu<'a> {
    const NAME: &'static str = "leaky_relu";

    fn check(&self, sig: &Signature<'a>) -> Result<(), &'static str> {
        if !self.alpha.is_finite() {
            return Err("alpha is not finite");
        }
        lut::check(sig, self.table.is_some())
    }

    fn run(&self, io: Io<'_>) -> Result<(), Error> {
        match self.table {
            Some(t) => lut::apply(t, io.input(0).i8()?, io.out.i8()?),
            None => self.run_f32(io.input(0).f32()?, io.out.f32()?),
        }
        Ok(())
    }

    fn decode(r: &Record<'a>) -> Result<Self, BlobError> {
        let d = lut::decode(r)?;
        if d.flag != 0 {
            return Err(r.bad("leaky_relu's flag byte must be 0"));
        }
        Ok(LeakyRelu {
            alpha: d.param,
            table: d.table,
        })
    }
}
