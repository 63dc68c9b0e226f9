//! `dequantize`: int8 codes to f32, TFLite's `Dequantize`:
//! `scale · (q − zero_point)` in f32, with the input tensor's parameters.
//! It also reads a staged vector directly (a packed layer's output), with
//! the same bits: a staged value is `2·(q − zero_point)`.

use super::{Io, OpDef, Signature, View};
use crate::blob::{BlobError, Record};
use crate::graph::{staged_index, DType, Quad};
use crate::quant::QuantParams;
use crate::Error;

crate::blob_layout! {
    /// The record: empty (the parameters are the input tensor's).
    pub mod record = "dequantize record", 0 {}
}

/// Dequantize (no parameters of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dequantize;

/// `y[i] = p.scale · (x[i] − p.zero_point)`.
#[inline]
pub fn dequantize(x: &[i8], p: QuantParams, y: &mut [f32]) {
    for (o, &q) in y.iter_mut().zip(x) {
        *o = p.dequantize(q);
    }
}

/// [`dequantize`] of a staged vector: `y[i] = p.scale · (v >> 1)` for
/// element `i`'s staged value `v` (exactly `q − zero_point`).
#[inline]
pub fn dequantize_staged(x: &[Quad], p: QuantParams, y: &mut [f32]) {
    for (i, o) in y.iter_mut().enumerate() {
        let j = staged_index(i);
        if let Some(&v) = x.get(j / 4).and_then(|q| q.0.get(j % 4)) {
            *o = p.scale * (v >> 1) as i32 as f32;
        }
    }
}

impl<'a> OpDef<'a> for Dequantize {
    const NAME: &'static str = "dequantize";

    fn check(&self, sig: &Signature<'a>) -> Result<(), &'static str> {
        match sig.input(0)?.dtype {
            DType::Staged if sig.output.shape.rows() != 1 => Err("unstages one vector only"),
            DType::Staged => sig.unary(DType::Staged, DType::F32).map(|_| ()),
            _ => sig.unary(DType::I8, DType::F32).map(|_| ()),
        }
    }

    fn run(&self, io: Io<'_>) -> Result<(), Error> {
        let p = io.in_params;
        let p = p.ok_or(Error::TypeMismatch { found: DType::F32 })?;
        match io.input(0) {
            View::Staged(x) => dequantize_staged(x, p, io.out.f32()?),
            x => dequantize(x.i8()?, p, io.out.f32()?),
        }
        Ok(())
    }

    fn decode(r: &Record<'a>) -> Result<Self, BlobError> {
        r.expect(&record::LAYOUT)?;
        Ok(Dequantize)
    }
}
