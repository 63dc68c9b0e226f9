//! `standardize`: per-feature `(x − mean) / std` in f32, one subtraction and
//! one division (two roundings), feature by feature along the innermost
//! dimension: the input preprocessing a model was trained with.

use super::{Io, OpDef, Signature};
use crate::blob::{BlobError, Record};
use crate::graph::DType;
use crate::Error;

crate::blob_layout! {
    /// The record: the two arrays, one entry per feature.
    pub mod record = "standardize record", 12 {
        /// Features (the innermost dimension).
        FEATURES: 0, Ty::U32;
        /// Means.
        MEAN: 4, Ty::Offset(Elem::F32);
        /// Standard deviations (finite, > 0).
        STD: 8, Ty::Offset(Elem::F32);
    }
}

/// The per-feature means and standard deviations.
#[derive(Debug, Clone, Copy)]
pub struct Standardize<'a> {
    /// `(features,)`.
    pub mean: &'a [f32],
    /// `(features,)`, every entry finite and positive.
    pub std: &'a [f32],
}

impl Standardize<'_> {
    /// Whether it fits `features` features with finite means and finite,
    /// positive deviations.
    pub fn is_valid_for(&self, features: usize) -> bool {
        self.mean.len() == features
            && self.std.len() == features
            && self.mean.iter().all(|m| m.is_finite())
            && self.std.iter().all(|s| s.is_finite() && *s > 0.0)
    }

    /// Standardises one feature.
    #[inline(always)]
    pub fn apply(&self, i: usize, x: f32) -> f32 {
        match (self.mean.get(i), self.std.get(i)) {
            (Some(&m), Some(&s)) => (x - m) / s,
            _ => x,
        }
    }
}

/// `y = (x − mean) / std` row by row (`x`, `y` whole rows of
/// `mean.len()` features).
pub fn standardize(s: &Standardize<'_>, x: &[f32], y: &mut [f32]) {
    let d = s.mean.len().max(1);
    for (xr, yr) in x.chunks(d).zip(y.chunks_mut(d)) {
        for (((o, &v), &m), &sd) in yr.iter_mut().zip(xr).zip(s.mean).zip(s.std) {
            *o = (v - m) / sd;
        }
    }
}

impl<'a> OpDef<'a> for Standardize<'a> {
    const NAME: &'static str = "standardize";

    fn check(&self, sig: &Signature<'a>) -> Result<(), &'static str> {
        let (x, _) = sig.unary(DType::F32, DType::F32)?;
        if !self.is_valid_for(x.shape.last()) {
            return Err("needs one finite mean and one finite, positive std per feature");
        }
        Ok(())
    }

    fn run(&self, io: Io<'_>) -> Result<(), Error> {
        standardize(self, io.input(0).f32()?, io.out.f32()?);
        Ok(())
    }

    fn decode(r: &Record<'a>) -> Result<Self, BlobError> {
        r.expect(&record::LAYOUT)?;
        let n = r.u32(record::FEATURES) as usize;
        Ok(Standardize {
            mean: r.array(record::MEAN, n)?,
            std: r.array(record::STD, n)?,
        })
    }
}
