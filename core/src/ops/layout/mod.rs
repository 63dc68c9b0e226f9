//! `layout`: moves int8 codes between the plain layout and the packed
//! layer's staged one ([`DType::Staged`]: `2·(q − zero_point)` as i16 in
//! `[x0, x2, x1, x3]` groups), with the same quantization on both sides.
//! The exporter inserts these where a packed layer meets an op that reads
//! or writes plain codes; nothing else produces them.

use super::{Io, OpDef, Signature};
use crate::blob::{BlobError, Record};
use crate::graph::{staged_index, DType, Quad};
use crate::Error;

crate::blob_layout! {
    /// The record: the direction.
    pub mod record = "layout record", 4 {
        /// 0: plain → staged; 1: staged → plain.
        DIRECTION: 0, Ty::U8;
        /// Must be 0.
        RESERVED0: 1, Ty::U8;
        /// Must be 0.
        RESERVED1: 2, Ty::U16;
    }
}

/// Which way the codes move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Plain int8 codes into staged ones.
    Stage,
    /// Staged codes back to plain int8.
    Unstage,
}

/// Stages `x` (codes with zero point `zp`) into quads; the padding of the
/// last quad is set to 0 (real 0).
pub fn stage(x: &[i8], zp: i32, y: &mut [Quad]) {
    for q in y.iter_mut() {
        *q = Quad([0; 4]);
    }
    for (i, &c) in x.iter().enumerate() {
        let j = staged_index(i);
        if let Some(d) = y.get_mut(j / 4).and_then(|d| d.0.get_mut(j % 4)) {
            *d = (2 * (c as i32 - zp)) as i16;
        }
    }
}

/// Unstages the first `y.len()` codes of `x` (zero point `zp`).
#[inline]
pub fn unstage(x: &[Quad], zp: i32, y: &mut [i8]) {
    for (i, c) in y.iter_mut().enumerate() {
        let j = staged_index(i);
        if let Some(&v) = x.get(j / 4).and_then(|q| q.0.get(j % 4)) {
            *c = ((v >> 1) as i32 + zp) as i8;
        }
    }
}

/// The first index of the largest of the first `n` staged codes (staged
/// values are `2·(code − zero point)`: ordered as the codes), or `None`
/// for `n = 0`.
pub fn argmax_staged(x: &[Quad], n: usize) -> Option<usize> {
    let mut best: Option<(usize, i16)> = None;
    for i in 0..n {
        let j = staged_index(i);
        let v = x.get(j / 4).and_then(|q| q.0.get(j % 4)).copied()?;
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

impl<'a> OpDef<'a> for Layout {
    const NAME: &'static str = "layout";

    fn check(&self, sig: &Signature<'a>) -> Result<(), &'static str> {
        let (a, b) = match self {
            Layout::Stage => (DType::I8, DType::Staged),
            Layout::Unstage => (DType::Staged, DType::I8),
        };
        let (x, y) = sig.unary(a, b)?;
        if x.quant != y.quant {
            return Err("input and output quantization differ");
        }
        if x.shape.rows() != 1 {
            return Err("stages one vector only");
        }
        Ok(())
    }

    fn run(&self, io: Io<'_>) -> Result<(), Error> {
        let zp = io.out_params.map_or(0, |p| p.zero_point);
        match self {
            Layout::Stage => stage(io.input(0).i8()?, zp, io.out.staged()?),
            Layout::Unstage => unstage(io.input(0).staged()?, zp, io.out.i8()?),
        }
        Ok(())
    }

    fn decode(r: &Record<'a>) -> Result<Self, BlobError> {
        r.expect(&record::LAYOUT)?;
        r.zero(&[record::RESERVED0, record::RESERVED1])?;
        match r.u8(record::DIRECTION) {
            0 => Ok(Layout::Stage),
            1 => Ok(Layout::Unstage),
            _ => Err(r.bad("layout direction is neither 0 nor 1")),
        }
    }
}
