//! `fully_connected`: `y = W·x + b` over the innermost dimension, row by
//! row (a vector `[in]`, or each of the `T` rows of a sequence `[T, in]`).
//!
//! * f32: the canonical-order GEMV ([`crate::kernels::gemv_f32`]), the
//!   same bits on every kernel and target.
//! * int8: TFLite's reference arithmetic ([`crate::kernels::gemv_i8`]):
//!   int8 weights per tensor or per output channel, int32 bias, the
//!   requantization in the op's rounding, the fused activation (none,
//!   ReLU, ReLU6, by name) as the clamp; through the fastest kernel here.
//!
//! Prepared variants, same bits as the int8 one:
//!
//! * [`packed4`]: weights in 4×4 blocks and activations staged
//!   ([`DType::Staged`]), one assembly routine per layer on Cortex-M4/M7.
//! * [`Vnni`]: weights in the AVX-512 VNNI layout
//!   ([`crate::kernels::gemv_i8::pack_vnni`]) with their row sums.

use super::{Fused, Io, OpDef, Signature};
use crate::blob::{BlobError, Record};
use crate::graph::{DType, Quad};
use crate::kernels::gemv_i8::{fully_connected_i8_packed, packed_vnni_len, FullyConnectedParams};
use crate::quant::{quantize_multiplier, QuantParams, Rounding};
use crate::Error;

mod blob;
pub mod packed4;

pub use blob::{record_f32, record_i8, record_packed4};
use packed4::PackedDense;

/// The f32 layer's constants.
#[derive(Debug, Clone, Copy)]
pub struct F32<'a> {
    /// `(out, in)`, output-major.
    pub weights: &'a [f32],
    /// `(out,)`.
    pub bias: &'a [f32],
}

/// The int8 layer's constants and parameters: one struct, from the host's
/// quantizer through the JSON, the blob and the Rust export to the kernel.
#[derive(Debug, Clone, Copy)]
pub struct Int8<'a> {
    /// `(out, in)` output-major, symmetric codes.
    pub weights: &'a [i8],
    /// `(out,)`, scale `s_in·s_w[c]`, zero point 0.
    pub bias: &'a [i32],
    /// `(channels,)` weight scales: one (per tensor) or one per output.
    pub weight_scales: &'a [f32],
    /// `(out,)` `Σ_d w[c, d]` (wrapping), for kernels that fold the input
    /// offset in (AVX-512 VNNI); `None` lets them compute it. Must be the
    /// weights' sums (checked at load).
    pub row_sums: Option<&'a [i32]>,
    /// The fused activation; the clamp in `params` is its range.
    pub activation: Fused,
    /// The kernel's parameters: offsets (minus the input zero point, the
    /// output zero point), `(channels,)` multipliers and shifts, clamp,
    /// rounding.
    pub params: FullyConnectedParams<'a>,
}

/// The packed layer and its rounding.
#[derive(Debug, Clone, Copy)]
pub struct Packed<'a> {
    /// The layer in 4×4 blocks.
    pub layer: PackedDense<'a>,
    /// How it requantizes.
    pub rounding: Rounding,
}

/// The int8 layer with its weights in the VNNI layout.
#[derive(Debug, Clone, Copy)]
pub struct Vnni<'a> {
    /// `packed_vnni_len(out, in)` bytes.
    pub packed: &'a [i8],
    /// `(out,)` row sums of the unpacked weights.
    pub row_sums: &'a [i32],
    /// `(out,)`.
    pub bias: &'a [i32],
    /// The fused activation.
    pub activation: Fused,
    /// As [`Int8::params`].
    pub params: FullyConnectedParams<'a>,
}

/// A fully connected layer, in one of its forms.
#[derive(Debug, Clone, Copy)]
pub enum FullyConnected<'a> {
    /// f32.
    F32(F32<'a>),
    /// int8, reference layout.
    Int8(Int8<'a>),
    /// int8, packed 4×4 blocks, staged activations.
    Packed4(Packed<'a>),
    /// int8, VNNI layout.
    Vnni(Vnni<'a>),
}

/// The f32 layer on every row of `x` (rows of `d_in = x.len() / rows`).
#[inline]
pub fn run_f32(p: &F32<'_>, x: &[f32], y: &mut [f32]) {
    let d_out = p.bias.len().max(1);
    let d_in = p.weights.len() / d_out;
    for (xr, yr) in x.chunks(d_in.max(1)).zip(y.chunks_mut(d_out)) {
        crate::kernels::dispatch::gemv_f32(p.weights, xr, p.bias, yr);
    }
}

/// The int8 layer on every row of `x` (shapes as the op's check accepted
/// them; the kernels compute the rows that fit otherwise, and never panic).
#[inline]
pub fn run_i8(p: &Int8<'_>, x: &[i8], y: &mut [i8]) -> Result<(), Error> {
    let d_out = p.bias.len().max(1);
    let d_in = p.weights.len() / d_out;
    let sums = p.row_sums.unwrap_or(&[]);
    if x.len() == d_in {
        crate::kernels::dispatch::fully_connected_i8_with_row_sums(p.weights, x, p.bias, sums, &p.params, y);
        return Ok(());
    }
    for (xr, yr) in x.chunks(d_in.max(1)).zip(y.chunks_mut(d_out)) {
        crate::kernels::dispatch::fully_connected_i8_with_row_sums(p.weights, xr, p.bias, sums, &p.params, yr);
    }
    Ok(())
}

/// The packed layer: staged input, staged output.
#[inline(always)]
pub fn run_packed(p: &Packed<'_>, x: &[Quad], y: &mut [Quad]) {
    match p.rounding {
        Rounding::Double => p.layer.run_double(x, y),
        Rounding::Single => p.layer.run_single(x, y),
    }
}

/// The VNNI layer on every row of `x` (rows of `d_in`).
#[inline]
pub fn run_vnni(p: &Vnni<'_>, d_in: usize, x: &[i8], y: &mut [i8]) -> Result<(), Error> {
    let d_out = p.bias.len().max(1);
    for (xr, yr) in x.chunks(d_in.max(1)).zip(y.chunks_mut(d_out)) {
        fully_connected_i8_packed(p.packed, xr, p.bias, p.row_sums, &p.params, yr)?;
    }
    Ok(())
}

/// TFLite's requantization multipliers of a layer: for each weight scale
/// `s_w`, `QuantizeMultiplier((double)s_in · (double)s_w / (double)s_out)`
/// (`PopulateConvolutionQuantizationParams`).
pub fn multipliers(
    input: f32,
    weight_scales: &[f32],
    output: f32,
) -> impl Iterator<Item = (i32, i32)> + '_ {
    weight_scales
        .iter()
        .map(move |&w| quantize_multiplier(input as f64 * w as f64 / output as f64))
}

impl Int8<'_> {
    /// Checks the parameters derived on the host against what they derive
    /// from: each channel's multiplier and shift against the input, weight
    /// and output scales. Returns the first channel that disagrees, with
    /// the stored and the expected `(multiplier, shift)`.
    pub fn derived_mismatch(
        &self,
        input: QuantParams,
        output: QuantParams,
    ) -> Option<Mismatch> {
        let stored = self.params.multiplier.iter().zip(self.params.shift);
        multipliers(input.scale, self.weight_scales, output.scale)
            .zip(stored)
            .enumerate()
            .find(|(_, (want, (&m, &s)))| *want != (m, s))
            .map(|(c, (want, (&m, &s)))| (c, (m, s), want))
    }
}

/// A channel whose stored `(multiplier, shift)` (the first pair) is not
/// the one its scales derive (the second).
pub type Mismatch = (usize, (i32, i32), (i32, i32));

/// The `(in, out, rows)` of a node: `x` and `y` of the same number of rows.
fn widths(sig: &Signature<'_>, a: DType, b: DType) -> Result<(usize, usize, usize), &'static str> {
    sig.expect_arity(1)?;
    let x = sig.input(0)?;
    let y = sig.output;
    if x.dtype != a || y.dtype != b {
        return Err("input or output has the wrong element type");
    }
    let rows = x.shape.rows();
    if rows != y.shape.rows() || x.shape.rank() != y.shape.rank() {
        return Err("input and output differ in their outer dimensions");
    }
    Ok((x.shape.last(), y.shape.last(), rows))
}

/// The checks the reference and VNNI int8 forms share.
fn check_params(
    sig: &Signature<'_>,
    p: &FullyConnectedParams<'_>,
    act: Fused,
    out: usize,
) -> Result<(), &'static str> {
    let (Some(pin), Some(pout)) = (sig.input(0)?.params(), sig.output.params()) else {
        return Err("int8 tensors need quantization");
    };
    let channels = p.multiplier.len();
    if !(channels == 1 || channels == out) || p.shift.len() != channels {
        return Err("multipliers and shifts: one per tensor or one per output channel");
    }
    if p.shift.iter().any(|s| !(-31..=30).contains(s)) || p.multiplier.iter().any(|&m| m < 0) {
        return Err("a multiplier is negative or a shift outside −31..=30");
    }
    if p.input_offset != -pin.zero_point {
        return Err("its input offset is not minus the input zero point");
    }
    if p.output_offset != pout.zero_point {
        return Err("its output offset is not the output zero point");
    }
    if (p.act_min, p.act_max) != act.clamp(pout) {
        return Err("its clamp is not its fused activation's range");
    }
    Ok(())
}

impl<'a> OpDef<'a> for FullyConnected<'a> {
    const NAME: &'static str = "fully_connected";

    fn check(&self, sig: &Signature<'a>) -> Result<(), &'static str> {
        match self {
            FullyConnected::F32(p) => {
                let (i, o, _) = widths(sig, DType::F32, DType::F32)?;
                if p.weights.len() != i * o || p.bias.len() != o {
                    return Err("weights are not out × in, or the bias not out");
                }
                Ok(())
            }
            FullyConnected::Int8(p) => {
                let (i, o, _) = widths(sig, DType::I8, DType::I8)?;
                if p.weights.len() != i * o || p.bias.len() != o {
                    return Err("weights are not out × in, or the bias not out");
                }
                if p.weight_scales.len() != p.params.multiplier.len()
                    || p.weight_scales.iter().any(|s| !(s.is_finite() && *s > 0.0))
                {
                    return Err("weight scales: one per multiplier, each finite and positive");
                }
                check_params(sig, &p.params, p.activation, o)?;
                if let Some(sums) = p.row_sums {
                    let ok = sums.len() == o
                        && p.weights
                            .chunks_exact(i.max(1))
                            .zip(sums)
                            .all(|(r, &s)| r.iter().fold(0i32, |a, &v| a.wrapping_add(v as i32)) == s);
                    if !ok {
                        return Err("its row sums are not the sums of its weight rows");
                    }
                }
                Ok(())
            }
            FullyConnected::Packed4(p) => {
                let (i, o, rows) = widths(sig, DType::Staged, DType::Staged)?;
                if rows != 1 || i != p.layer.inputs() || o != p.layer.outputs() {
                    return Err("the packed layer's widths are not its tensors'");
                }
                let pout = sig.output.params().ok_or("staged tensors need quantization")?;
                if p.layer.output_offset() != pout.zero_point {
                    return Err("its output offset is not the output zero point");
                }
                Ok(())
            }
            FullyConnected::Vnni(p) => {
                let (i, o, _) = widths(sig, DType::I8, DType::I8)?;
                if packed_vnni_len(o, i) != Some(p.packed.len())
                    || p.bias.len() != o
                    || p.row_sums.len() != o
                {
                    return Err("packed weights, bias or row sums do not fit out × in");
                }
                check_params(sig, &p.params, p.activation, o)
            }
        }
    }

    fn run(&self, io: Io<'_>) -> Result<(), Error> {
        match self {
            FullyConnected::F32(p) => run_f32(p, io.input(0).f32()?, io.out.f32()?),
            FullyConnected::Int8(p) => run_i8(p, io.input(0).i8()?, io.out.i8()?)?,
            FullyConnected::Packed4(p) => run_packed(p, io.input(0).staged()?, io.out.staged()?),
            FullyConnected::Vnni(p) => {
                let d_in = io.in_last;
                run_vnni(p, d_in, io.input(0).i8()?, io.out.i8()?)?
            }
        }
        Ok(())
    }

    fn decode(r: &Record<'a>) -> Result<Self, BlobError> {
        blob::decode(r)
    }

    fn macs(&self, sig: &Signature<'a>) -> u64 {
        let Ok(x) = sig.input(0) else { return 0 };
        (x.len() as u64) * (sig.output.shape.last() as u64)
    }
}
