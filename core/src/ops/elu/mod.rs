//! `elu`: `x` for `x > 0`, else `alpha·(eˣ − 1)`, element-wise (PyTorch's
//! `nn.ELU`). f32 with `libm::expm1f`; int8 by a 256-entry table built on
//! the host from the same function (TFLite has no int8 ELU kernel of its
//! own; its converter lowers ELU to a lookup table as well).

use super::{lut, Io, OpDef, Signature};
use crate::blob::{BlobError, Record};
use crate::Error;

/// PyTorch's default `alpha`.
pub const DEFAULT_ALPHA: f32 = 1.0;

/// ELU of one value: `x` for `x > 0`, else `alpha·expm1(x)` (NaN stays
/// NaN; `−∞` gives `−alpha`).
#[inline]
pub fn elu(x: f32, alpha: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        alpha * libm::expm1f(x)
    }
}

/// ELU with its `alpha`, in f32 or by table.
#[derive(Debug, Clone, Copy)]
pub struct Elu<'a> {
    /// The scale of the negative side (finite).
    pub alpha: f32,
    /// The int8 table, or `None` for f32.
    pub table: Option<&'a [i8; 256]>,
}

impl Elu<'_> {
    /// The f32 run.
    #[inline]
    pub fn run_f32(&self, x: &[f32], y: &mut [f32]) {
        lut::map_f32(x, y, |xs| self.apply_f32(xs))
    }

    /// The function, in place.
    #[inline]
    fn apply_f32(&self, xs: &mut [f32]) {
        let a = self.alpha;
        xs.iter_mut().for_each(|x| *x = elu(*x, a));
    }
}

impl<'a> OpDef<'a> for Elu<'a> {
    const NAME: &'static str = "elu";

    fn check(&self, sig: &Signature<'a>) -> Result<(), &'static str> {
        lut::check_alpha(sig, self.alpha, self.table.is_some())
    }

    fn run(&self, io: Io<'_>) -> Result<(), Error> {
        lut::run(io, self.table, |xs| self.apply_f32(xs))
    }

    fn decode(r: &Record<'a>) -> Result<Self, BlobError> {
        let (alpha, table) = lut::decode_alpha(r, "elu's flag byte must be 0")?;
        Ok(Elu { alpha, table })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_definition() {
        assert_eq!(elu(2.5, 1.0).to_bits(), 2.5f32.to_bits());
        assert_eq!(elu(0.0, 1.0).to_bits(), 0.0f32.to_bits());
        // e^-1 − 1 = −0.632120558…, the f32 nearest it.
        assert_eq!(elu(-1.0, 1.0), -0.632_120_56);
        assert_eq!(elu(-1.0, 0.5), 0.5 * -0.632_120_56);
        assert_eq!(elu(f32::NEG_INFINITY, 2.0), -2.0);
        assert!(elu(f32::NAN, 1.0).is_nan());
        // Near 0, expm1 keeps the digits that exp(x) − 1 would lose.
        assert_eq!(elu(-1e-8, 1.0), -1e-8);
    }

    #[test]
    fn runs_in_place_over_a_slice() {
        let op = Elu {
            alpha: 1.0,
            table: None,
        };
        let x = [-3.0f32, -0.5, 0.0, 0.5, 3.0];
        let mut y = [0f32; 5];
        op.run_f32(&x, &mut y);
        for (a, b) in x.iter().zip(&y) {
            assert_eq!(elu(*a, 1.0).to_bits(), b.to_bits());
        }
    }
}
