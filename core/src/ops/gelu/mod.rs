//! `gelu`: the Gaussian error linear unit, element-wise, in its exact
//! form `0.5·x·(1 + erf(x/√2))` or PyTorch's `approximate='tanh'` one.
//! f32 as [`crate::activations::gelu_erf`] / [`crate::activations::gelu_tanh`]
//! (the tanh form vectorized); int8 by a 256-entry table.

use super::{lut, Io, OpDef, Signature};
use crate::blob::{BlobError, Record};
use crate::Error;

/// GELU in one of its two forms, in f32 or by table.
#[derive(Debug, Clone, Copy)]
pub struct Gelu<'a> {
    /// The tanh approximation (`true`) or the erf form.
    pub tanh: bool,
    /// The int8 table, or `None` for f32.
    pub table: Option<&'a [i8; 256]>,
}

impl Gelu<'_> {
    /// The f32 run.
    #[inline]
    pub fn run_f32(&self, x: &[f32], y: &mut [f32]) {
        lut::map_f32(x, y, |xs| self.apply_f32(xs))
    }

    /// The function, in place.
    #[inline]
    fn apply_f32(&self, xs: &mut [f32]) {
        if self.tanh {
            crate::kernels::dispatch::gelu_tanh_f32(xs)
        } else {
            xs.iter_mut()
                .for_each(|x| *x = crate::activations::gelu_erf(*x))
        }
    }
}

impl<'a> OpDef<'a> for Gelu<'a> {
    const NAME: &'static str = "gelu";

    fn check(&self, sig: &Signature<'a>) -> Result<(), &'static str> {
        lut::check(sig, self.table.is_some())
    }

    fn run(&self, io: Io<'_>) -> Result<(), Error> {
        lut::run(io, self.table, |xs| self.apply_f32(xs))
    }

    fn decode(r: &Record<'a>) -> Result<Self, BlobError> {
        let d = lut::decode(r)?;
        if d.flag > 1 || d.param != 0.0 {
            return Err(r.bad("gelu's flag is 0 (erf) or 1 (tanh), its parameter 0"));
        }
        Ok(Gelu {
            tanh: d.flag == 1,
            table: d.table,
        })
    }
}
