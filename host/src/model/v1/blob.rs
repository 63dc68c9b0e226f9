//! Version-1 blobs (a chain of int8 layers), read on the host and converted
//! to the version-2 graph. The layout, for reference (all little-endian,
//! offsets from the blob's start):
//!
//! ```text
//! header 48 B: magic AXON, u16 version = 1, u16 flags (1 preprocess,
//!   2 single rounding), u32 total_len, u16 header_len = 48, u16 layers,
//!   u32 input_len, u32 output_len, f32 input scale, i32 input zero point,
//!   f32 output scale, i32 output zero point, u32 preprocess offset
//!   (mean then std, f32 × input_len), u32 reserved
//! layer entry 48 B: u8 kind (1 fc, 2 lut, 3 softmax), u8 lut function,
//!   i8 act_min, i8 act_max, u32 in, u32 out, f32 output scale, i32 output
//!   zero point, i32 a (fc: input offset; softmax: multiplier), i32 b (fc:
//!   channels; softmax: left shift), u32 data (fc weights; lut table;
//!   softmax diff_min), u32 bias, u32 multipliers, u32 shifts, u32 row sums
//! crc32 4 B over everything before it
//! ```
//!
//! A version-1 blob stores no weight scales; the converted model takes for
//! each channel an f32 scale that derives exactly the multiplier and shift
//! the blob stores, so it runs bit for bit like the original (the scale
//! may differ from the original's in its last bits). Nor does it store the
//! column names, labels or task: the converted model has none.

use anyhow::{anyhow, bail, Context};
use axon_core::quant::{QuantParams, Rounding, SoftmaxParams};

use super::{convert8, Layer8, Model8};
use crate::model::{Meta, Model};

const HEADER: usize = 48;
const ENTRY: usize = 48;

fn u16_at(b: &[u8], o: usize) -> anyhow::Result<u16> {
    b.get(o..o + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| anyhow!("truncated at byte {o}"))
}

fn u32_at(b: &[u8], o: usize) -> anyhow::Result<u32> {
    b.get(o..o + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| anyhow!("truncated at byte {o}"))
}

fn i32_at(b: &[u8], o: usize) -> anyhow::Result<i32> {
    u32_at(b, o).map(|v| v as i32)
}

fn f32_at(b: &[u8], o: usize) -> anyhow::Result<f32> {
    u32_at(b, o).map(f32::from_bits)
}

fn array<T>(
    b: &[u8],
    off: u32,
    n: usize,
    size: usize,
    f: impl Fn(&[u8]) -> T,
) -> anyhow::Result<Vec<T>> {
    let start = off as usize;
    let end = n.checked_mul(size).and_then(|l| l.checked_add(start));
    let s = end
        .and_then(|e| b.get(start..e))
        .ok_or_else(|| anyhow!("an array at byte {start} lies outside the blob"))?;
    Ok(s.chunks_exact(size).map(f).collect())
}

fn i32s(b: &[u8], off: u32, n: usize) -> anyhow::Result<Vec<i32>> {
    array(b, off, n, 4, |s| {
        i32::from_le_bytes([s[0], s[1], s[2], s[3]])
    })
}

/// A weight scale that gives back a version-1 layer's stored multiplier
/// and shift for input and output scales `si`, `so`: the f32 nearest
/// `m·2^(shift−31)·so/si`, or the nearest of its neighbours that derives
/// exactly `(m, shift)` (one exists: the stored pair was derived from an
/// f32 scale).
fn scale_of(m: i32, shift: i32, si: f32, so: f32) -> anyhow::Result<f32> {
    if !(si.is_finite() && si > 0.0 && so.is_finite() && so > 0.0) || m <= 0 {
        bail!("scales {si} and {so} with multiplier {m} describe no layer");
    }
    let est = (m as f64 * 2f64.powi(shift - 31) * so as f64 / si as f64) as f32;
    if !(est.is_finite() && est > 0.0) {
        bail!("the stored multiplier {m} and shift {shift} give no finite weight scale");
    }
    let derives = |w: f32| {
        axon_core::quant::quantize_multiplier(si as f64 * w as f64 / so as f64) == (m, shift)
    };
    for d in 0..256i32 {
        for cand in [est.to_bits() as i32 + d, est.to_bits() as i32 - d] {
            let w = f32::from_bits(cand as u32);
            if w.is_finite() && w > 0.0 && derives(w) {
                return Ok(w);
            }
        }
    }
    bail!("no weight scale derives the stored multiplier {m} and shift {shift}")
}

/// Reads a version-1 blob.
pub fn from_blob(b: &[u8]) -> anyhow::Result<Model> {
    if u16_at(b, 4)? != 1 {
        bail!("not a version-1 blob");
    }
    let flags = u16_at(b, 6)?;
    if flags & !3 != 0 {
        bail!("unknown flag bits {flags:#x}");
    }
    let total = u32_at(b, 8)? as usize;
    if total < HEADER + 4 || b.len() < total {
        bail!(
            "truncated: the header says {total} bytes, the file has {}",
            b.len()
        );
    }
    let b = &b[..total];
    let stored = u32_at(b, total - 4)?;
    let computed = axon_core::crc32::crc32(&b[..total - 4]);
    if stored != computed {
        bail!("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}");
    }
    let count = u16_at(b, 14)? as usize;
    let inputs = u32_at(b, 16)? as usize;
    let input = QuantParams::new(f32_at(b, 24)?, i32_at(b, 28)?);
    let (mean, std) = if flags & 1 != 0 {
        let off = u32_at(b, 40)?;
        let f = |s: &[u8]| f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        (
            array(b, off, inputs, 4, f)?,
            array(b, off + 4 * inputs as u32, inputs, 4, f)?,
        )
    } else {
        (vec![0.0; inputs], vec![1.0; inputs])
    };
    let rounding = if flags & 2 != 0 {
        Rounding::Single
    } else {
        Rounding::Double
    };
    let mut layers = Vec::with_capacity(count);
    let mut prev = input;
    for i in 0..count {
        let e = HEADER + i * ENTRY;
        let at = |k: usize| e + k;
        let kind = *b.get(e).ok_or_else(|| anyhow!("layer {i} is truncated"))?;
        let (n_in, n_out) = (u32_at(b, at(4))? as usize, u32_at(b, at(8))? as usize);
        let output = QuantParams::new(f32_at(b, at(12))?, i32_at(b, at(16))?);
        let layer = match kind {
            1 => {
                let channels = i32_at(b, at(24))? as usize;
                let weights = array(b, u32_at(b, at(28))?, n_in * n_out, 1, |s| s[0] as i8)?;
                let multiplier = i32s(b, u32_at(b, at(36))?, channels)?;
                let shift = i32s(b, u32_at(b, at(40))?, channels)?;
                let weight_scales = multiplier
                    .iter()
                    .zip(&shift)
                    .map(|(&m, &s)| scale_of(m, s, prev.scale, output.scale))
                    .collect::<anyhow::Result<_>>()
                    .with_context(|| format!("layer {i}"))?;
                Layer8::FullyConnected {
                    inputs: n_in,
                    outputs: n_out,
                    weights,
                    weight_scales,
                    bias: i32s(b, u32_at(b, at(32))?, n_out)?,
                    multiplier,
                    shift,
                    output,
                    act_min: b[at(2)] as i8,
                    act_max: b[at(3)] as i8,
                    activation: None,
                }
            }
            2 => {
                let names = ["sigmoid", "tanh", "leaky_relu", "gelu", "gelu_erf", "silu"];
                let function = names
                    .get(b[at(1)] as usize)
                    .ok_or_else(|| anyhow!("layer {i} has unknown table function {}", b[at(1)]))?;
                Layer8::Lut {
                    function: (*function).to_owned(),
                    len: n_in,
                    output,
                    table: array(b, u32_at(b, at(28))?, 256, 1, |s| s[0] as i8)?,
                }
            }
            3 => Layer8::Softmax {
                len: n_in,
                beta: 1.0,
                params: SoftmaxParams {
                    input_multiplier: i32_at(b, at(20))?,
                    input_left_shift: i32_at(b, at(24))?,
                    diff_min: i32_at(b, at(28))?,
                },
            },
            k => bail!("layer {i} has unknown kind {k}"),
        };
        prev = output;
        layers.push(layer);
    }
    let m8 = Model8 {
        inputs,
        mean,
        std,
        input,
        layers,
        rounding,
    };
    let m = convert8(&m8, Meta::default())?;
    m.validate()
        .context("the converted version-1 blob does not validate")?;
    eprintln!("note: a version-1 blob; converted to version 2 on read (weight scales reconstructed from its multipliers)");
    Ok(m)
}
