//! The compiled int8 engine: a model whose layout and checks were settled
//! at export time (`axon export --rust` writes it), for the smallest and
//! fastest firmware. Same bits as the generic [`super::Model`] on the same
//! model — `tests/export_parity.rs` compares them on every bundled sample,
//! and the firmware's parity check does so in QEMU.
//!
//! What the export settles, so that nothing is decided per inference:
//!
//! * **Layout.** Weights in the blocks of [`crate::kernels::packed4`]
//!   (four rows × four columns, zero-padded), activations between layers
//!   kept as i16 `2·(code − zero point)` in the staged order that kernel
//!   reads, so a layer's output *is* the next layer's staged input: no
//!   widening pass, no per-layer set-up. The final softmax keeps only the
//!   exponentials that can move an output ([`SoftmaxTable`]).
//! * **Checks.** [`DenseLayer::new`] and [`Model::new`] are `const fn`s that
//!   check every length and range when the `static` items are compiled (a
//!   bad model is a compile error, not a run-time one); [`Model::run`] only
//!   checks the caller's slice lengths.
//! * **Rounding.** The requantization mode is a type ([`DoubleRounding`] or
//!   [`SingleRounding`]), so only one is linked, and its shifts are
//!   checked to be right shifts in the range where the straight-line form
//!   below is exact. The accumulators are checked to stay below 2^30 for
//!   every input (any trained layer's do), which is what lets the kernel
//!   work on doubled ones. The generic model takes every model TFLite can
//!   express; the export falls back to it (and says so) when a model does
//!   not fit these limits.
//!
//! Supported: fully connected layers (with their fused ReLU/ReLU6 clamp),
//! per-tensor or per-channel, and an optional final softmax with a stored
//! exponential table. Lookup-table activations use the generic model.

use core::marker::PhantomData;

use super::Standardize;
use crate::kernels::packed4::{self, requant_double, staged_index, Quad};
use crate::quant::softmax::{get_reciprocal, saturating_shl};
use crate::quant::{QuantParams, Rounding};
use crate::Error;

mod sealed {
    pub trait Sealed {}
}

/// A requantization mode as a type: [`DoubleRounding`] or
/// [`SingleRounding`].
pub trait Requant: sealed::Sealed {
    /// The mode, as the generic model names it.
    const ROUNDING: Rounding;
    /// `MultiplyByQuantizedMultiplier(acc, m, −e)` for a multiplier
    /// `m ≥ 0` and a right shift `e = pre + 1` in `1..=31`, bit for bit
    /// (before the output offset and clamp).
    fn apply(acc: i32, m: i32, pre: u32) -> i32;
    /// A whole layer in this mode (see [`packed4::PackedDense::run_double`]).
    fn dense(l: &packed4::PackedDense<'_>, x: &[Quad], out: &mut [Quad]);
}

/// gemmlowp's double rounding (TFLite Micro, CMSIS-NN).
#[derive(Debug)]
pub enum DoubleRounding {}
/// One rounding of the 64-bit product (the TFLite interpreter, LiteRT).
#[derive(Debug)]
pub enum SingleRounding {}

impl sealed::Sealed for DoubleRounding {}
impl sealed::Sealed for SingleRounding {}

impl Requant for DoubleRounding {
    const ROUNDING: Rounding = Rounding::Double;

    /// [`requant_double`].
    #[inline(always)]
    fn apply(acc: i32, m: i32, pre: u32) -> i32 {
        requant_double(acc, m, pre)
    }

    /// [`packed4::PackedDense::run_double`]: the Cortex-M DSP assembly routine
    /// where there is one.
    #[inline(always)]
    fn dense(l: &packed4::PackedDense<'_>, x: &[Quad], out: &mut [Quad]) {
        l.run_double(x, out);
    }
}

impl Requant for SingleRounding {
    const ROUNDING: Rounding = Rounding::Single;

    /// `(acc·m + 2^(30+e)) >> (31 + e)`: TFLite's single rounding with
    /// `total_shift = 31 + e`, `e = pre + 1`.
    #[inline(always)]
    fn apply(acc: i32, m: i32, pre: u32) -> i32 {
        let nudge = 1i64.wrapping_shl(31 + pre);
        (acc as i64 * m as i64 + nudge).wrapping_shr(32 + pre) as i32
    }

    #[inline(always)]
    fn dense(l: &packed4::PackedDense<'_>, x: &[Quad], out: &mut [Quad]) {
        l.run_with(x, out, Self::apply);
    }
}

/// A fully connected layer in the compiled layout: the kernel's
/// [`packed4::PackedDense`] (`DenseLayer::new(inputs, outputs, stream,
/// scale, output_zero_point, act_min, act_max)`, checked when it
/// compiles). Its input zero point is the previous layer's output zero
/// point (the model input's for the first layer): activations are staged
/// between layers with it.
pub type DenseLayer<'a> = packed4::PackedDense<'a>;

/// The final softmax's exponentials as the compiled engine keeps them:
/// the table `quant::softmax_exp_table` makes, cut where its entries
/// stop mattering to the outputs.
///
/// An exponential `e < 2^22` (Q0.31) gives output code −128 whatever the
/// sum: the output is `RoundingDivideByPOT(SaturatingRoundingDoublingHighMul
/// (s, e), k)` with `s ≤ 2^31 − 1` and `k ≥ 23` (the sum is at least 1.0,
/// the row maximum's own exponential), so below `2^22` it rounds to 0. For
/// those entries only the sum's term `RoundingDivideByPOT(e, 12)` matters,
/// which is at most 1,024. So the table is the entries up to the last one
/// `≥ 2^22` (`head`, Q0.31), then the sum terms of the rest (`tail`, u16,
/// trailing zeros dropped): for the digits model 112 + 68 bytes instead of
/// 396.
#[derive(Debug, Clone, Copy)]
pub struct SoftmaxTable<'a> {
    head: &'a [i32],
    tail: &'a [u16],
}

impl<'a> SoftmaxTable<'a> {
    /// The smallest exponential that can give an output code above −128.
    pub const OUTPUT_MIN: i32 = 1 << 22;

    /// From the two parts ([`head_len`](Self::head_len),
    /// [`sum_term`](Self::sum_term)).
    ///
    /// # Panics
    /// When `head` is empty or does not start at `exp(0) = i32::MAX`, an
    /// entry is negative, a tail term is above 1,024 or there are more
    /// than 256 entries (a compile error in a `static`).
    pub const fn new(head: &'a [i32], tail: &'a [u16]) -> Self {
        assert!(
            !head.is_empty() && head[0] == i32::MAX,
            "softmax table: the first exponential is exp(0) = 1 (i32::MAX)"
        );
        assert!(
            head.len() + tail.len() <= 256,
            "softmax table: at most 256 entries"
        );
        let mut i = 0;
        while i < head.len() {
            assert!(head[i] >= 0, "softmax table: exponentials are non-negative");
            i += 1;
        }
        let mut i = 0;
        while i < tail.len() {
            assert!(
                tail[i] <= 1024,
                "softmax table: tail terms are at most 1,024"
            );
            i += 1;
        }
        SoftmaxTable { head, tail }
    }

    /// How many leading entries of a full table (non-increasing, as
    /// `softmax_exp_table` makes them) to keep whole: up to the last that
    /// is at least [`OUTPUT_MIN`](Self::OUTPUT_MIN), and at least one.
    pub fn head_len(table: &[i32]) -> usize {
        table
            .iter()
            .rposition(|&e| e >= Self::OUTPUT_MIN)
            .map_or(1, |i| i + 1)
            .min(table.len())
    }

    /// An entry's term in the sum of exponentials (Q12.19):
    /// `RoundingDivideByPOT(e, 12)` for `0 ≤ e`.
    pub fn sum_term(e: i32) -> u32 {
        (e.max(0) as u32 + (1 << 11)) >> 12
    }

    /// The `tail` of a full table: the [`sum_term`](Self::sum_term)s of the
    /// entries past its [`head_len`](Self::head_len), trailing zeros
    /// dropped.
    pub fn tail_terms(table: &[i32]) -> impl Iterator<Item = u16> + '_ {
        let rest = table.get(Self::head_len(table)..).unwrap_or(&[]);
        let len = rest
            .iter()
            .rposition(|&e| Self::sum_term(e) > 0)
            .map_or(0, |i| i + 1);
        rest[..len].iter().map(|&e| Self::sum_term(e) as u16)
    }
}

/// The two activation buffers of an inference: `N` [`Quad`]s each, at
/// least [`Model::quads`] (`QUADS` in an exported file).
#[derive(Debug, Clone)]
pub struct Buffers<const N: usize> {
    a: [Quad; N],
    b: [Quad; N],
}

impl<const N: usize> Buffers<N> {
    /// Zeroed buffers (their contents between inferences do not matter).
    pub const fn new() -> Self {
        Buffers {
            a: [Quad([0; 4]); N],
            b: [Quad([0; 4]); N],
        }
    }
}

impl<const N: usize> Default for Buffers<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A compiled int8 model: standardise (optional), quantize, the dense
/// layers, an optional softmax, dequantize. `R` is its rounding mode.
#[derive(Debug, Clone, Copy)]
pub struct Model<'a, R: Requant> {
    input_len: usize,
    output_len: usize,
    standardize: Option<Standardize<'a>>,
    input: QuantParams,
    layers: &'a [DenseLayer<'a>],
    softmax: Option<SoftmaxTable<'a>>,
    output: QuantParams,
    quads: usize,
    rounding: PhantomData<fn() -> R>,
}

impl<'a, R: Requant> Model<'a, R> {
    /// A model from its parts: the input's standardisation (`None` for an
    /// identity one) and quantization, the layers in order, the final
    /// softmax's exponentials ([`SoftmaxTable`]), the output parameters.
    ///
    /// # Panics
    /// When the layers do not chain or a length does not match. In a `static` initializer (as the export
    /// writes it) that is a compile error.
    pub const fn new(
        standardize: Option<Standardize<'a>>,
        input: QuantParams,
        layers: &'a [DenseLayer<'a>],
        softmax: Option<SoftmaxTable<'a>>,
        output: QuantParams,
    ) -> Self {
        assert!(!layers.is_empty(), "a model needs a layer");
        let input_len = layers[0].inputs();
        let output_len = layers[layers.len() - 1].outputs();
        let mut quads = layers[0].input_quads();
        let mut k = 0;
        while k < layers.len() {
            let l = &layers[k];
            assert!(
                k == 0 || layers[k - 1].outputs() == l.inputs(),
                "layer widths do not chain"
            );
            if l.output_quads() > quads {
                quads = l.output_quads();
            }
            k += 1;
        }
        if let Some(s) = standardize {
            assert!(
                s.mean.len() == input_len && s.std.len() == input_len,
                "standardisation: one mean and one std per input"
            );
        }
        if softmax.is_some() {
            assert!(output_len <= 256, "softmax over at most 256 outputs");
        }
        assert!(
            input.scale > 0.0 && output.scale > 0.0,
            "scales must be positive"
        );
        Model {
            input_len,
            output_len,
            standardize,
            input,
            layers,
            softmax,
            output,
            quads,
            rounding: PhantomData,
        }
    }

    /// Number of input features.
    pub const fn input_len(&self) -> usize {
        self.input_len
    }

    /// Number of outputs.
    pub const fn output_len(&self) -> usize {
        self.output_len
    }

    /// The smallest `N` of the [`Buffers`] this model runs in.
    pub const fn quads(&self) -> usize {
        self.quads
    }

    /// The requantization mode.
    pub const fn rounding(&self) -> Rounding {
        R::ROUNDING
    }

    /// One inference: float features in, output codes and their
    /// dequantized values out. The same bits as [`super::Model::run`] on
    /// the same model. Errors only on slice lengths (`x`: input_len;
    /// `codes` and `y`: output_len) or buffers smaller than
    /// [`quads`](Self::quads).
    pub fn run<const N: usize>(
        &self,
        x: &[f32],
        buf: &mut Buffers<N>,
        codes: &mut [i8],
        y: &mut [f32],
    ) -> Result<(), Error> {
        self.run_codes(x, buf, codes)?;
        if y.len() != self.output_len {
            return Err(Error::ShapeMismatch {
                expected: self.output_len,
                found: y.len(),
            });
        }
        for (yi, &c) in y.iter_mut().zip(codes.iter()) {
            *yi = self.output.dequantize(c);
        }
        Ok(())
    }

    /// [`run`](Self::run) without the dequantization: the output codes.
    pub fn run_codes<const N: usize>(
        &self,
        x: &[f32],
        buf: &mut Buffers<N>,
        codes: &mut [i8],
    ) -> Result<(), Error> {
        if codes.len() != self.output_len {
            return Err(Error::ShapeMismatch {
                expected: self.output_len,
                found: codes.len(),
            });
        }
        let Some((out, zp)) = self.forward(x, buf)? else {
            return Ok(());
        };
        for (i, c) in codes.iter_mut().enumerate() {
            // Staged order [y0, y2, y1, y3] back to natural order; staged
            // as 2·(code − zero point).
            let j = staged_index(i);
            if let Some(&v) = out.get(j / 4).and_then(|q| q.0.get(j % 4)) {
                *c = ((v >> 1) as i32 + zp) as i8;
            }
        }
        if let Some(t) = &self.softmax {
            softmax(t, codes);
        }
        Ok(())
    }

    /// The predicted class, as [`super::Model::classify`] picks it: the
    /// first largest output code, taken before a final softmax (whose
    /// 1/256 steps can tie two close classes; it is not computed); a single
    /// output is a binary classifier, class 1 when its dequantized value
    /// is ≥ 0.5. Errors as [`run`](Self::run).
    pub fn classify<const N: usize>(
        &self,
        x: &[f32],
        buf: &mut Buffers<N>,
    ) -> Result<usize, Error> {
        if self.output_len == 1 {
            let mut code = [0i8];
            self.run_codes(x, buf, &mut code)?;
            return Ok(usize::from(self.output.dequantize(code[0]) >= 0.5));
        }
        let Some((out, _)) = self.forward(x, buf)? else {
            return Err(Error::ShapeMismatch {
                expected: 1,
                found: 0,
            });
        };
        // Staged values are 2·(code − zero point): ordered as the codes.
        let mut best = (0, i16::MIN);
        for i in 0..self.output_len {
            let j = staged_index(i);
            let v = out.get(j / 4).and_then(|q| q.0.get(j % 4)).copied();
            if let Some(v) = v.filter(|&v| v > best.1 || i == 0) {
                best = (i, v);
            }
        }
        Ok(best.0)
    }

    /// Checks the input and buffer lengths, then stages `x` and runs every
    /// layer: the last layer's staged output and its zero point (`None`
    /// for a model without layers, which `new` does not make).
    #[inline(always)]
    fn forward<'b, const N: usize>(
        &self,
        x: &[f32],
        buf: &'b mut Buffers<N>,
    ) -> Result<Option<(&'b [Quad], i32)>, Error> {
        if x.len() != self.input_len {
            return Err(Error::ShapeMismatch {
                expected: self.input_len,
                found: x.len(),
            });
        }
        if N < self.quads {
            let quad = core::mem::size_of::<Quad>();
            return Err(Error::ScratchTooSmall {
                needed: 2 * self.quads * quad,
                found: 2 * N * quad,
            });
        }
        let Some(last) = self.layers.last() else {
            return Ok(None);
        };
        let (mut src, mut dst): (&'b mut [Quad], &'b mut [Quad]) = (&mut buf.a, &mut buf.b);
        self.stage_input(x, src, -self.input.zero_point);
        for l in self.layers {
            R::dense(l, src, dst);
            (src, dst) = (dst, src);
        }
        Ok(Some((src, last.output_offset())))
    }

    /// Standardises and quantizes `x` into `dst` as staged inputs:
    /// `2·(quantize(standardise(x[i])) + off)` at [`staged_index`]`(i)`.
    #[inline(always)]
    fn stage_input(&self, x: &[f32], dst: &mut [Quad], off: i32) {
        let input = self.input;
        let std = self.standardize.map(|s| (s.mean, s.std));
        // Whole groups of four in assembly where there is a DSP core; the
        // rest (all of them elsewhere) here, with the same bits.
        let done = packed4::stage_groups(x, std, input.scale, input.zero_point, off, dst);
        for (i, &v) in x.iter().enumerate().skip(done) {
            let v = match &self.standardize {
                Some(s) => s.apply(i, v),
                None => v,
            };
            let j = staged_index(i);
            if let Some(d) = dst.get_mut(j / 4).and_then(|d| d.0.get_mut(j % 4)) {
                *d = (2 * (input.quantize(v) as i32 + off)) as i16;
            }
        }
    }
}

/// TFLite's int8 softmax ([`crate::quant::softmax_i8_with_table`]) in place,
/// from a [`SoftmaxTable`]: every exponential `e` is non-negative and the
/// row maximum's is exactly 1 (`i32::MAX`), and there are at most 256
/// elements. Then the sum of exponentials in Q12.19 lies in
/// `[2^19, 2^27]`, the final exponent in `23..=31`, and gemmlowp's
/// rounding helpers reduce to unsigned adds and shifts with the same bits:
/// `RoundingDivideByPOT(e, 12)` is `(e + 2^11) >> 12` for `e ≥ 0`, and the
/// output's `RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(s, e),
/// k)` is `(⌊(s·e + 2^30) / 2^31⌋ + 2^(k−1)) >> k` for `s, e ≥ 0`; past
/// the table's head it is 0 (see [`SoftmaxTable`]).
fn softmax(t: &SoftmaxTable<'_>, codes: &mut [i8]) {
    let Some(max) = codes.iter().copied().max() else {
        return;
    };
    // max ≥ c: the difference is in 0..=255.
    let below = |c: i8| (max as i32 - c as i32) as usize;
    let mut sum: u32 = 0; // Q12.19
    for &c in codes.iter() {
        let d = below(c);
        sum = sum.wrapping_add(match t.head.get(d) {
            Some(&e) => (e as u32 + (1 << 11)) >> 12,
            None => t.tail.get(d - t.head.len()).copied().unwrap_or(0) as u32,
        });
    }
    let (scale, bits_over_unit) = reciprocal(sum);
    let k = (bits_over_unit + 31 - 8).clamp(1, 31) as u32;
    let half = 1u32 << (k - 1);
    let scale = scale.max(0) as u64;
    for c in codes.iter_mut() {
        let v = match t.head.get(below(*c)) {
            Some(&e) => {
                let h = ((scale * e as u64 + (1 << 30)) >> 31) as u32;
                h.wrapping_add(half) >> k
            }
            None => 0,
        };
        *c = (v as i32 - 128).clamp(-128, 127) as i8;
    }
}

/// `quant::softmax::get_reciprocal(sum, 12)` for a sum of exponentials in
/// Q12.19 that is positive (every sum [`softmax`] forms is, at least 2^19),
/// with gemmlowp's fixed point specialised to what this range allows:
/// `RoundingHalfSum(a, i32::MAX)` of `a ≥ 0` is `(a + 2^31) >> 1` in u32,
/// and no `SaturatingRoundingDoublingHighMul` here sees two `i32::MIN`
/// (the Newton iterate stays positive), so each is one 64-bit
/// multiply-add and a shift. Same bits (tested against the reference).
fn reciprocal(sum: u32) -> (i32, i32) {
    const C48_OVER_17: i32 = 1_515_870_810; // Q2.29
    const CNEG32_OVER_17: i32 = -1_010_580_540; // Q2.29
    const ONE_Q2: i32 = 1 << 29;
    if sum == 0 || sum > i32::MAX as u32 {
        return get_reciprocal(sum as i32, 12);
    }
    let srdhm = |a: i32, b: i32| ((a as i64 * b as i64 + (1 << 30)) >> 31) as i32;
    let clz = sum.leading_zeros();
    let a = (sum << clz).wrapping_sub(1 << 31);
    let half = ((a + (1 << 31)) >> 1) as i32;
    let mut x = C48_OVER_17.wrapping_add(srdhm(half, CNEG32_OVER_17));
    for _ in 0..3 {
        let one_minus = ONE_Q2.wrapping_sub(srdhm(half, x));
        x = x.wrapping_add(saturating_shl(srdhm(x, one_minus), 2));
    }
    (saturating_shl(x, 1), 12 - clz as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::int8::{FullyConnected, Layer, Layers, Model as Generic};
    use crate::kernels::packed4::{pack_layer, stream_len, Block, Scale};
    use crate::quant::softmax::{exp_table_len, softmax_exp_table, SoftmaxParams, SOFTMAX_OUTPUT};
    use crate::quant::{quantize_multiplier, Rounding};
    use std::vec;
    use std::vec::Vec;

    use crate::test_rng::Rng;

    /// A full exponential table in the compiled form.
    fn split_table(table: &[i32]) -> (Vec<i32>, Vec<u16>) {
        let h = SoftmaxTable::head_len(table);
        (
            table[..h].to_vec(),
            SoftmaxTable::tail_terms(table).collect(),
        )
    }

    /// One random dense layer in both forms' constants.
    struct Layer8 {
        inputs: usize,
        outputs: usize,
        w: Vec<i8>,
        bias: Vec<i32>,
        m: Vec<i32>,
        s: Vec<i32>,
        in_off: i32,
        out: QuantParams,
        act: (i8, i8),
    }

    fn layer(rng: &mut Rng, inputs: usize, outputs: usize, in_zp: i32, max_e: u8) -> Layer8 {
        let per_channel = rng.next().is_multiple_of(2);
        let channels = if per_channel { outputs } else { 1 };
        let mut m = Vec::new();
        let mut s = Vec::new();
        for _ in 0..channels {
            let e = rng.range(1, max_e as i64) as i32;
            let (mm, _) = quantize_multiplier(0.5 + (rng.next() % 1000) as f64 / 2000.0);
            m.push(if rng.next().is_multiple_of(50) { 0 } else { mm });
            s.push(-e);
        }
        let zp = rng.range(-128, 127) as i32;
        let act = match rng.next() % 4 {
            0 => (zp.max(-128) as i8, 127),
            1 => (zp as i8, (zp + 60).min(127) as i8),
            _ => (-128, 127),
        };
        Layer8 {
            inputs,
            outputs,
            w: (0..inputs * outputs)
                .map(|_| rng.range(-127, 127) as i8)
                .collect(),
            bias: (0..outputs)
                .map(|_| {
                    if rng.next().is_multiple_of(20) {
                        // Large, within what a compiled layer takes.
                        (rng.next() as i32) >> 3
                    } else {
                        rng.range(-40_000, 40_000) as i32
                    }
                })
                .collect(),
            m,
            s,
            in_off: -in_zp,
            out: QuantParams::new(0.05, zp),
            act,
        }
    }

    fn check<R: Requant>(
        seed: u64,
        widths: &[usize],
        softmax: bool,
    ) -> std::collections::BTreeSet<i8> {
        let mut rng = Rng(seed | 1);
        let max_e = 31;
        let input = QuantParams::new(0.03, rng.range(-128, 127) as i32);
        let mut ls = Vec::new();
        let mut zp = input.zero_point;
        for win in widths.windows(2) {
            let l = layer(&mut rng, win[0], win[1], zp, max_e);
            zp = l.out.zero_point;
            ls.push(l);
        }
        let rounding = R::ROUNDING;
        let generic: Vec<Layer<'_>> = ls
            .iter()
            .map(|l| {
                Layer::FullyConnected(FullyConnected {
                    input_len: l.inputs,
                    output_len: l.outputs,
                    weights: &l.w,
                    bias: &l.bias,
                    multiplier: &l.m,
                    shift: &l.s,
                    input_offset: l.in_off,
                    output: l.out,
                    act_min: l.act.0,
                    act_max: l.act.1,
                    row_sums: None,
                    rounding,
                })
            })
            .collect();
        let last = ls.last().unwrap().out;
        let sm = SoftmaxParams::from_input_scale(last.scale, 1.0).unwrap();
        let full = softmax_exp_table(&sm);
        let table: Vec<i32> = full[..exp_table_len(&full)].to_vec();
        let mut generic = generic;
        if softmax {
            generic.push(Layer::Softmax {
                len: *widths.last().unwrap(),
                params: sm,
                exp_table: Some(&table),
            });
        }
        let mean: Vec<f32> = (0..widths[0]).map(|i| i as f32 * 0.1).collect();
        let std: Vec<f32> = (0..widths[0]).map(|i| 0.5 + i as f32 * 0.01).collect();
        let output = if softmax { SOFTMAX_OUTPUT } else { last };
        let g = Generic {
            input_len: widths[0],
            output_len: *widths.last().unwrap(),
            preprocess: Some(Standardize {
                mean: &mean,
                std: &std,
            }),
            input,
            output,
            layers: Layers::Slice(&generic),
        };
        // The compiled form.
        let packed: Vec<Vec<Block>> = ls
            .iter()
            .map(|l| {
                let mut b = vec![Block([0; 16]); stream_len(l.outputs, l.inputs)];
                pack_layer(&l.w, &l.bias, l.outputs, l.inputs, &mut b);
                b
            })
            .collect();
        let scales: Vec<Vec<Scale>> = ls
            .iter()
            .map(|l| {
                let e: Vec<u8> = l.s.iter().map(|s| -s as u8).collect();
                if l.m.len() == 1 {
                    vec![Scale::tensor(l.m[0], e[0])]
                } else {
                    (0..l.outputs.div_ceil(4))
                        .map(|r| {
                            let at = |k: usize| (4 * r + k).min(l.outputs - 1);
                            Scale::new(
                                core::array::from_fn(|k| l.m[at(k)]),
                                core::array::from_fn(|k| e[at(k)]),
                            )
                        })
                        .collect()
                }
            })
            .collect();
        let dense: Vec<DenseLayer<'_>> = ls
            .iter()
            .zip(&packed)
            .zip(&scales)
            .map(|((l, w), sc)| {
                DenseLayer::new(
                    l.inputs,
                    l.outputs,
                    w,
                    sc,
                    l.out.zero_point,
                    l.act.0,
                    l.act.1,
                )
            })
            .collect();
        let (head, tail) = split_table(&table);
        let c = Model::<R>::new(
            Some(Standardize {
                mean: &mean,
                std: &std,
            }),
            input,
            &dense,
            softmax.then_some(SoftmaxTable::new(&head, &tail)),
            output,
        );
        let n_out = *widths.last().unwrap();
        let mut buf = Buffers::<80>::new();
        let mut scratch = vec![0i8; g.scratch_len()];
        let mut distinct = std::collections::BTreeSet::new();
        for _ in 0..if cfg!(miri) { 2 } else { 20 } {
            let x: Vec<f32> = (0..widths[0])
                .map(|_| (rng.range(-4000, 4000) as f32) * 0.001)
                .collect();
            let (mut c1, mut y1) = (vec![0i8; n_out], vec![0f32; n_out]);
            let (mut c2, mut y2) = (vec![0i8; n_out], vec![0f32; n_out]);
            g.run(&x, &mut scratch, &mut c1, &mut y1).unwrap();
            c.run(&x, &mut buf, &mut c2, &mut y2).unwrap();
            assert_eq!(c1, c2, "seed {seed} widths {widths:?}");
            assert_eq!(
                g.classify(&x, &mut scratch).unwrap(),
                c.classify(&x, &mut buf).unwrap(),
                "class, seed {seed} widths {widths:?}"
            );
            let bits = |y: &[f32]| y.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&y1), bits(&y2));
            distinct.extend(c1);
        }
        distinct
    }

    #[test]
    fn compiled_equals_generic_on_random_models() {
        let shapes: [&[usize]; 7] = [
            &[1, 16, 16, 1],
            &[64, 32, 10],
            &[3, 5],
            &[7, 9, 2, 13],
            &[33, 1],
            &[4, 4, 4],
            &[300, 17, 6],
        ];
        // The codes seen: the comparison must not be between saturated
        // outputs only.
        let mut seen = std::collections::BTreeSet::new();
        let (seeds, shapes) = if cfg!(miri) {
            (1, &shapes[..2])
        } else {
            (40u64, &shapes[..])
        };
        for seed in 0..seeds {
            for (i, s) in shapes.iter().enumerate() {
                seen.extend(check::<DoubleRounding>(seed * 31 + i as u64, s, false));
                seen.extend(check::<SingleRounding>(seed * 37 + i as u64, s, false));
                seen.extend(check::<DoubleRounding>(seed * 41 + i as u64, s, true));
            }
        }
        if !cfg!(miri) {
            assert_eq!(seen.len(), 256, "every output code occurs");
        }
    }

    #[test]
    fn requant_forms_equal_the_reference_at_the_edges() {
        let accs = [
            0,
            1,
            -1,
            i32::MAX,
            i32::MIN,
            i32::MAX - 1,
            i32::MIN + 1,
            1 << 30,
            -(1 << 30),
            123_456,
            -123_456,
        ];
        let ms = [0, 1, 1 << 30, i32::MAX, 1_518_500_250, (1 << 30) + 1];
        let check = |acc: i32, m: i32, e: u32| {
            let want = crate::quant::multiply_by_quantized_multiplier(acc, m, -(e as i32));
            assert_eq!(
                DoubleRounding::apply(acc, m, e - 1),
                want,
                "double {acc} {m} {e}"
            );
            let want =
                crate::quant::multiply_by_quantized_multiplier_single_rounding(acc, m, -(e as i32));
            assert_eq!(
                SingleRounding::apply(acc, m, e - 1),
                want,
                "single {acc} {m} {e}"
            );
        };
        for &acc in &accs {
            for &m in &ms {
                for e in 1..=31u32 {
                    check(acc, m, e);
                }
            }
        }
        let mut rng = Rng(99);
        for _ in 0..if cfg!(miri) { 300 } else { 300_000 } {
            let acc = rng.next() as i32 >> (rng.next() % 32);
            let m = if rng.next().is_multiple_of(8) {
                rng.next() as i32 & i32::MAX
            } else {
                (rng.next() as i32 & i32::MAX) | (1 << 30)
            };
            check(acc, m, rng.range(1, 31) as u32);
        }
        // Exact halves, where the two roundings and the signs matter.
        for e in 1..=12u32 {
            for k in -40i32..=40 {
                let acc = (k << e) + (1 << (e - 1));
                check(acc, 1 << 30, e);
                check(-acc, 1 << 30, e);
                check(acc, i32::MAX, e);
            }
        }
    }

    #[test]
    fn lean_reciprocal_equals_the_reference() {
        let mut rng = Rng(777);
        let check = |sum: u32| {
            assert_eq!(reciprocal(sum), get_reciprocal(sum as i32, 12), "sum {sum}");
        };
        for e in 0..31 {
            for d in [0u32, 1, 2, 3] {
                check((1u32 << e).wrapping_add(d));
                check((1u32 << e).wrapping_sub(d));
            }
        }
        let n = if cfg!(miri) { 200 } else { 2_000_000 };
        for _ in 0..n {
            check((rng.next() as u32) >> (rng.next() % 32));
        }
        for sum in (1 << 19)..(1 << 19) + n / 20 {
            check(sum);
        }
    }

    #[test]
    fn compiled_softmax_equals_the_reference_on_random_rows() {
        let mut rng = Rng(4242);
        let mut distinct = std::collections::BTreeSet::new();
        let (scales, rows) = if cfg!(miri) { (3, 4) } else { (60, 200) };
        for scale_k in 1..=scales {
            let scale = 0.002 * scale_k as f32 * scale_k as f32 / 8.0;
            let p = SoftmaxParams::from_input_scale(scale, 1.0).unwrap();
            let full = softmax_exp_table(&p);
            let table = &full[..exp_table_len(&full)];
            for _ in 0..rows {
                let n = rng.range(1, 40) as usize;
                let spread = rng.range(1, 255);
                let base = rng.range(-128, 127);
                let x: Vec<i8> = (0..n)
                    .map(|_| (base + rng.range(0, spread)).clamp(-128, 127) as i8)
                    .collect();
                let mut want = vec![0i8; n];
                crate::quant::softmax_i8_with_table(table, &x, &mut want);
                let mut got = x.clone();
                let (head, tail) = split_table(table);
                softmax(&SoftmaxTable::new(&head, &tail), &mut got);
                assert_eq!(got, want, "scale {scale} row {x:?}");
                distinct.extend(got);
            }
        }
        if !cfg!(miri) {
            assert!(distinct.len() > 200, "{} distinct codes", distinct.len());
        }
    }

    #[test]
    fn wrong_lengths_are_errors_not_panics() {
        static W: [Block; 2] = [Block::bias([0; 4]), Block([1; 16])];
        static S: [Scale; 1] = [Scale::tensor(1 << 30, 3)];
        static L: [DenseLayer<'static>; 1] = [DenseLayer::new(3, 2, &W, &S, 0, -128, 127)];
        static MODEL: Model<'static, DoubleRounding> = Model::new(
            None,
            QuantParams::new(0.1, 0),
            &L,
            None,
            QuantParams::new(0.1, 0),
        );
        let mut buf = Buffers::<1>::new();
        let (mut c, mut y) = ([0i8; 2], [0f32; 2]);
        assert!(MODEL.run(&[0.0; 3], &mut buf, &mut c, &mut y).is_ok());
        assert!(MODEL.run(&[0.0; 4], &mut buf, &mut c, &mut y).is_err());
        assert!(MODEL.run(&[0.0; 3], &mut buf, &mut c[..1], &mut y).is_err());
        assert!(MODEL.run(&[0.0; 3], &mut buf, &mut c, &mut y[..1]).is_err());
        let mut none = Buffers::<0>::new();
        assert!(matches!(
            MODEL.run(&[0.0; 3], &mut none, &mut c, &mut y),
            Err(Error::ScratchTooSmall { .. })
        ));
        assert_eq!(MODEL.rounding(), Rounding::Double);
    }
}
