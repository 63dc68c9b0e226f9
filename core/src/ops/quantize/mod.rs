//! `quantize`: f32 to int8 codes, TFLite's `AffineQuantize`
//! ([`QuantParams::quantize`]) with the output tensor's parameters —
//! optionally after the input standardisation a model was trained with
//! (the same `(x − mean) / std` as [`super::standardize`], fused so that
//! the float values are read once).
//!
//! Prepared variant: an output of type [`DType::Staged`] writes the packed
//! fully connected layer's input form directly ([`staged`]: an assembly
//! routine on Cortex-M4F/M7).

use super::standardize::Standardize;
use super::{Io, OpDef, Signature};
use crate::blob::{BlobError, Record};
use crate::graph::{staged_index, DType, Quad};
use crate::quant::QuantParams;
use crate::Error;

pub mod staged;

crate::blob_layout! {
    /// The record: an optional fused standardisation.
    pub mod record = "quantize record", 12 {
        /// Features of the standardisation (0: none).
        FEATURES: 0, Ty::U32;
        /// Means (0 when `FEATURES` is 0).
        MEAN: 4, Ty::Offset(Elem::F32);
        /// Standard deviations (0 when `FEATURES` is 0).
        STD: 8, Ty::Offset(Elem::F32);
    }
}

/// Quantize, with an optional fused standardisation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quantize<'a> {
    /// Standardise each feature first.
    pub standardize: Option<Standardize<'a>>,
}

/// Quantizes `x` into `y` (row by row when standardising).
pub fn quantize_i8(x: &[f32], s: Option<&Standardize<'_>>, p: QuantParams, y: &mut [i8]) {
    match s {
        Some(s) => {
            let d = s.mean.len().max(1);
            for (xr, yr) in x.chunks(d).zip(y.chunks_mut(d)) {
                for (((q, &v), &m), &sd) in yr.iter_mut().zip(xr).zip(s.mean).zip(s.std) {
                    *q = p.quantize((v - m) / sd);
                }
            }
        }
        None => p.quantize_slice(x, y),
    }
}

/// Quantizes `x` (one vector) into staged quads: `2·(q − zero_point)` at
/// [`staged_index`]`(i)`, the padding of the last quad untouched. Whole
/// groups of four go through the assembly routine where there is one.
#[inline(always)]
pub fn quantize_staged(x: &[f32], s: Option<&Standardize<'_>>, p: QuantParams, y: &mut [Quad]) {
    let off = -p.zero_point;
    let std = s.map(|s| (s.mean, s.std));
    let done = staged::stage_groups(x, std, p.scale, p.zero_point, off, y);
    // Usually every input went in groups of four; returning early lets
    // the optimiser drop the loop below (at opt-level z it stays).
    let Some(rest) = x.get(done..).filter(|r| !r.is_empty()) else {
        return;
    };
    for (i, &v) in (done..).zip(rest) {
        let v = match s {
            Some(s) => s.apply(i, v),
            None => v,
        };
        let j = staged_index(i);
        if let Some(d) = y.get_mut(j / 4).and_then(|d| d.0.get_mut(j % 4)) {
            *d = (2 * (p.quantize(v) as i32 + off)) as i16;
        }
    }
}

impl<'a> OpDef<'a> for Quantize<'a> {
    const NAME: &'static str = "quantize";

    fn check(&self, sig: &Signature<'a>) -> Result<(), &'static str> {
        sig.expect_arity(1)?;
        let x = sig.input(0)?;
        let y = sig.output;
        if x.dtype != DType::F32 || !matches!(y.dtype, DType::I8 | DType::Staged) {
            return Err("turns f32 into i8 or staged codes");
        }
        if x.shape != y.shape {
            return Err("input and output shapes differ");
        }
        if y.dtype == DType::Staged && x.shape.rows() != 1 {
            return Err("stages one vector only");
        }
        if let Some(s) = &self.standardize {
            if !s.is_valid_for(x.shape.last()) {
                return Err("needs one finite mean and one finite, positive std per feature");
            }
        }
        Ok(())
    }

    fn run(&self, io: Io<'_>) -> Result<(), Error> {
        let p = io.out_params;
        let p = p.ok_or(Error::TypeMismatch { found: DType::F32 })?;
        let x = io.input(0).f32()?;
        let s = self.standardize.as_ref();
        match io.out.dtype() {
            DType::Staged => quantize_staged(x, s, p, io.out.staged()?),
            _ => quantize_i8(x, s, p, io.out.i8()?),
        }
        Ok(())
    }

    fn decode(r: &Record<'a>) -> Result<Self, BlobError> {
        r.expect(&record::LAYOUT)?;
        let n = r.u32(record::FEATURES) as usize;
        if n == 0 {
            r.zero(&[record::MEAN, record::STD])?;
            return Ok(Quantize { standardize: None });
        }
        Ok(Quantize {
            standardize: Some(Standardize {
                mean: r.array(record::MEAN, n)?,
                std: r.array(record::STD, n)?,
            }),
        })
    }
}
