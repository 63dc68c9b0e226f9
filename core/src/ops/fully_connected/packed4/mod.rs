//! The packed int8 fully connected layer, the op's prepared variant for
//! microcontrollers: four output rows at once over weights laid out for it
//! at export time, against inputs staged as i16 ([`DType::Staged`]).
//!
//! [`DType::Staged`]: crate::graph::DType::Staged
//!
//! # Layout
//!
//! * **Weights** ([`Block`]): the rows in groups of four, each group's
//!   columns in groups of four; one block holds rows `4r..4r+4` × columns
//!   `4g..4g+4`, row after row (`[r0 c0..c3][r1 c0..c3][r2 …][r3 …]`), and
//!   a row group's blocks follow one another (`g = 0, 1, …`). Missing rows
//!   and columns are zero. 16 bytes, 4-byte aligned (for `LDM`).
//! * **Inputs** ([`Quad`]): `2·(x + input_offset)` as i16, each group of
//!   four in `[x0, x2, x1, x3]` order — the halfword order `SXTB16` gives
//!   four packed weights (`SXTB16 w` → `[w0, w2]`, `SXTB16 w, ROR #8` →
//!   `[w1, w3]`). 8 bytes, 8-byte aligned. Doubled, so that the
//!   accumulator is twice the reference's and one `SMMULR` is the
//!   requantization's rounding multiply ([`requant_doubled`]).
//! * **A layer** ([`PackedDense`]): per row group, one [`Block::bias`] block
//!   with its four biases (doubled, like the accumulator), then its weight
//!   blocks ([`pack_layer`]); the requantization constants as [`Scale`]s,
//!   one per layer (per tensor) or one per row group (per channel).
//!
//! # Cost
//!
//! The whole-layer routine ([`PackedDense::run_double`], a naked assembly
//! function with all fourteen registers) loads four rows × four weights
//! with one `LDM` and four staged inputs with one `LDRD`, then eight
//! `SXTB16` and eight `SMLAD`: 20 instructions for 16 MACs with the loop's
//! `SUBS`/`BNE` (`cargo xtask bench` measures it), plus per row group one
//! `LDM` of its biases, one of its [`Scale`], five instructions per row
//! to requantize (`SMMULR`, the rounding shift, the zero point, `SSAT`),
//! the clamp (`SSUB8`/`SEL`) and the staging of the next layer's input
//! (`SXTAB16`, `SADD16`, `STRD`). [`dot4`] is the same loop over one row
//! group (the single-rounding variant's kernel). Everywhere else plain loops
//! with the same arithmetic.
//!
//! # Why the bits agree
//!
//! `SMLAD` adds two exact 16×16-bit products to a 32-bit accumulator
//! modulo 2^32, and every product `w · 2(x + offset)` is exact in 32 bits;
//! the sum is twice the reference's sum in another order. [`PackedDense::new`]
//! checks that no input can take that doubled sum out of the i32 range, so
//! it is exactly `2·acc`, and [`requant_doubled`] of it is TFLite's
//! requantization of `acc`.

use core::marker::PhantomData;

use crate::graph::Quad;

/// Four rows × four columns of weights (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(4))]
pub struct Block(pub [i8; 16]);

/// The largest bias magnitude a [`Block::bias`] takes: doubled, it still
/// fits an i32.
pub const MAX_BIAS: i32 = (1 << 30) - 1;

impl Block {
    /// A row group's four biases as a block, each stored doubled
    /// (little-endian words; the accumulator starts from them, see the
    /// module documentation): the first block of each row group in a
    /// layer's stream ([`pack_layer`]).
    ///
    /// # Panics
    /// When a bias is outside `±`[`MAX_BIAS`] (a compile error in a
    /// `static`).
    pub const fn bias(b: [i32; 4]) -> Block {
        let mut out = [0i8; 16];
        let mut k = 0;
        while k < 16 {
            let v = b[k / 4];
            assert!(v >= -MAX_BIAS && v <= MAX_BIAS, "bias out of range");
            out[k] = (2 * v).to_le_bytes()[k % 4] as i8;
            k += 1;
        }
        Block(out)
    }

    /// The four words of a bias block as stored: twice the biases.
    pub fn bias_words(&self) -> [i32; 4] {
        core::array::from_fn(|i| {
            let b = &self.0[4 * i..4 * i + 4];
            i32::from_le_bytes([b[0] as u8, b[1] as u8, b[2] as u8, b[3] as u8])
        })
    }

    /// The four biases of a bias block (as passed to [`Block::bias`]).
    pub fn biases(&self) -> [i32; 4] {
        self.bias_words().map(|v| v >> 1)
    }

    /// `Σ |w|` of each of the four rows of a weight block.
    const fn row_magnitudes(&self) -> [i64; 4] {
        let mut s = [0i64; 4];
        let mut k = 0;
        while k < 16 {
            s[k / 4] += (self.0[k] as i64).abs();
            k += 1;
        }
        s
    }
}


/// One row group's requantization constants (per tensor: the layer's,
/// four times): the four right shifts minus one, then the four
/// multipliers — the order one `LDM` loads them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(4))]
pub struct Scale {
    pre: [u8; 4],
    m: [i32; 4],
}

impl Scale {
    /// Four rows' multipliers (`≥ 0`) and right shifts (TFLite's shift
    /// negated, `1..=31`).
    ///
    /// # Panics
    /// When a multiplier is negative or a shift out of range (a compile
    /// error in a `static`).
    pub const fn new(multiplier: [i32; 4], right_shift: [u8; 4]) -> Scale {
        let mut pre = [0u8; 4];
        let mut k = 0;
        while k < 4 {
            assert!(multiplier[k] >= 0, "multipliers are non-negative");
            assert!(
                right_shift[k] >= 1 && right_shift[k] <= 31,
                "right shifts are 1..=31"
            );
            pre[k] = right_shift[k] - 1;
            k += 1;
        }
        Scale { pre, m: multiplier }
    }

    /// One multiplier and right shift for all four rows (per tensor).
    pub const fn tensor(multiplier: i32, right_shift: u8) -> Scale {
        Scale::new([multiplier; 4], [right_shift; 4])
    }

    /// Row `k`'s multiplier and right shift minus one.
    pub fn row(&self, k: usize) -> (i32, u32) {
        let k = k & 3;
        (self.m[k], self.pre[k] as u32)
    }

    /// The four multipliers.
    pub fn multipliers(&self) -> [i32; 4] {
        self.m
    }

    /// The four right shifts (`1..=31`).
    pub fn right_shifts(&self) -> [u8; 4] {
        self.pre.map(|p| p + 1)
    }
}


/// Accumulates rows `4r..4r+4` over `min(w.len(), x.len())` blocks:
/// `acc[k] += Σ_c w[4r+k, c] · x[c]`, modulo 2^32.
#[inline(always)]
pub fn dot4(w: &[Block], x: &[Quad], acc: [i32; 4]) -> [i32; 4] {
    let n = w.len().min(x.len());
    imp::dot4(w, x, n, acc)
}

// The four rows' loop and the whole-layer routine in Thumb-2 DSP
// assembly; elsewhere the same arithmetic in plain Rust.
#[cfg(axon_arm_dsp)]
#[path = "dsp.rs"]
mod imp;
#[cfg(not(axon_arm_dsp))]
#[path = "portable.rs"]
mod imp;


/// gemmlowp's double-rounding requantization `MultiplyByQuantizedMultiplier
/// (acc, m, −e)` for a multiplier `m ≥ 0` and a right shift `e = pre + 1`
/// in `1..=31`, bit for bit, before the output offset and clamp.
///
/// `SaturatingRoundingDoublingHighMul` is `h = ⌊(acc·m + 2^30) / 2^31⌋`
/// (gemmlowp's nudge and truncating division; no saturation, as `m ≥ 0`),
/// and `h` lies in `[−2^31 + 1, 2^31 − 2]`. `RoundingDivideByPOT(h, e)`
/// rounds half away from zero, which is `⌊(t + 2^(e−1)) / 2^e⌋` with
/// `t = h − [h < 0]`, and that equals `⌊(⌊t / 2^(e−1)⌋ + 1) / 2⌋`
/// (`⌊(⌊z⌋ + 1)/2⌋ = ⌊(z + 1)/2⌋` for every real `z`). Neither step can
/// overflow for those `h`: two shifts, a subtract and an add, no clamp of
/// the exponent and no saturation.
#[inline(always)]
pub fn requant_double(acc: i32, m: i32, pre: u32) -> i32 {
    let h = ((acc as i64 * m as i64 + (1 << 30)) >> 31) as i32;
    let t = h - ((h as u32) >> 31) as i32;
    (t.wrapping_shr(pre) + 1) >> 1
}

/// TFLite's single-rounding requantization (`TFLITE_SINGLE_ROUNDING`) for
/// a multiplier `m ≥ 0` and a right shift `e = pre + 1` in `1..=31`:
/// `(acc·m + 2^(30+e)) >> (31 + e)`, before the output offset and clamp.
#[inline(always)]
pub fn requant_single(acc: i32, m: i32, pre: u32) -> i32 {
    let nudge = 1i64.wrapping_shl(31 + pre);
    (acc as i64 * m as i64 + nudge).wrapping_shr(32 + pre) as i32
}

/// [`requant_double`] of `acc` from the doubled accumulator `acc2 = 2·acc`,
/// as the layer routine computes it: `SMMULR(acc2, m) = ⌊(acc2·m + 2^31) /
/// 2^32⌋ = ⌊(acc·m + 2^30) / 2^31⌋` is gemmlowp's rounding doubling high
/// multiply in one instruction; the rest as [`requant_double`].
#[inline(always)]
pub fn requant_doubled(acc2: i32, m: i32, pre: u32) -> i32 {
    let h = ((acc2 as i64 * m as i64 + (1 << 31)) >> 32) as i32;
    let t = h - ((h as u32) >> 31) as i32;
    (t.wrapping_shr(pre) + 1) >> 1
}

/// One dense layer's constants in this kernel's layout, checked once by a
/// `const fn` (so an exported model's layers are checked when it compiles)
/// and then run without further checks but the caller's two buffers.
///
/// `repr(C)`: the assembly routine reads it (offsets in its comments).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct PackedDense<'a> {
    /// 0: the stream, `rows · (groups + 1)` blocks ([`pack_layer`]).
    stream: *const Block,
    /// 4: one scale (per tensor) or one per row group.
    scale: *const Scale,
    /// 8: column groups (weight blocks per row group), ≥ 1.
    groups: u16,
    /// 10: row groups, ≥ 1.
    rows: u16,
    /// 12: bytes from one row group's scale to the next: 0 per tensor,
    /// 20 per channel.
    scale_stride: u8,
    /// 13: output zero point.
    output_offset: i8,
    /// 14, 15: the clamp.
    act_min: i8,
    act_max: i8,
    /// 16, 18: the widths (for the model's checks).
    inputs: u16,
    outputs: u16,
    borrow: PhantomData<&'a [Block]>,
}

// SAFETY: the pointers come from shared slices that live for 'a and are
// only read; the type is as shareable as those `&'a [T]` are.
unsafe impl Sync for PackedDense<'_> {}
// SAFETY: as above.
unsafe impl Send for PackedDense<'_> {}

impl<'a> PackedDense<'a> {
    /// A `(outputs, inputs)` layer: `stream` from [`pack_layer`] (each row
    /// group's four biases, then its weight blocks); `scale` one [`Scale`]
    /// (per tensor) or one per row group (per channel); the output zero
    /// point and the clamp.
    ///
    /// # Panics
    /// As [`try_new`](Self::try_new)'s errors. In a `static` initializer
    /// that is a compile error.
    pub const fn new(
        inputs: usize,
        outputs: usize,
        stream: &'a [Block],
        scale: &'a [Scale],
        output_offset: i32,
        act_min: i8,
        act_max: i8,
    ) -> Self {
        match Self::try_new(
            inputs,
            outputs,
            stream,
            scale,
            output_offset,
            act_min,
            act_max,
        ) {
            Ok(l) => l,
            Err(why) => panic!("{}", why),
        }
    }

    /// [`new`](Self::new), or why the constants do not make a layer:
    /// inconsistent lengths or ranges (the output zero point outside the
    /// int8 range among them), more than 65,535 inputs or outputs,
    /// or a row whose doubled accumulator could leave the i32 range for
    /// some input (`2·(|bias| + 255·Σ|w|) > 2^31 − 1`: a bias near the
    /// i32 limits, which no trained layer has).
    pub const fn try_new(
        inputs: usize,
        outputs: usize,
        stream: &'a [Block],
        scale: &'a [Scale],
        output_offset: i32,
        act_min: i8,
        act_max: i8,
    ) -> Result<Self, &'static str> {
        Self::build(
            inputs,
            outputs,
            stream,
            scale,
            output_offset,
            act_min,
            act_max,
            true,
        )
    }

    /// [`try_new`](Self::try_new); with `scan` false, without the
    /// accumulator bound, which reads every weight: for constants that
    /// already passed `try_new` (a blob's node decoded again on each run).
    /// Lengths, scales and ranges are always checked; a missed bound could
    /// only wrap an accumulator, never reach outside the slices.
    #[allow(clippy::too_many_arguments)]
    pub(crate) const fn build(
        inputs: usize,
        outputs: usize,
        stream: &'a [Block],
        scale: &'a [Scale],
        output_offset: i32,
        act_min: i8,
        act_max: i8,
        scan: bool,
    ) -> Result<Self, &'static str> {
        if inputs == 0 || outputs == 0 {
            return Err("a layer needs inputs and outputs");
        }
        if inputs > 0xffff || outputs > 0xffff {
            return Err("a layer has at most 65,535 inputs and outputs");
        }
        let (groups, rows) = (inputs.div_ceil(4), outputs.div_ceil(4));
        const STREAM: &str = "stream: per row group, one bias block and one block per 4 columns";
        if stream.len() != stream_len(outputs, inputs) {
            return Err(STREAM);
        }
        if !(scale.len() == 1 || scale.len() == rows) {
            return Err("scales: one (per tensor) or one per row group");
        }
        // The checks of `Scale::new` (bytes cast from a blob skip it).
        let mut i = 0;
        while i < scale.len() {
            let mut k = 0;
            while k < 4 {
                if scale[i].m[k] < 0 {
                    return Err("a scale's multiplier is negative");
                }
                if scale[i].pre[k] > 30 {
                    return Err("a scale's right shift is outside 1..=31");
                }
                k += 1;
            }
            i += 1;
        }
        if act_min > act_max {
            return Err("empty clamp");
        }
        if output_offset < -128 || output_offset > 127 {
            return Err("output zero point out of range");
        }
        // Every row's doubled accumulator stays in the i32 range:
        // |2·bias| + Σ |w|·2·255 (|x + offset| ≤ 255).
        let mut r = 0;
        while scan && r < rows {
            let base = r * (groups + 1);
            // The length is checked above; the optimiser cannot follow the
            // products, so each index is checked where it is used (else a
            // panic path stays in every blob parser).
            if base >= stream.len() {
                return Err(STREAM);
            }
            let b = &stream[base];
            let mut bound = [0i64; 4];
            let mut k = 0;
            while k < 4 {
                let w = i32::from_le_bytes([
                    b.0[4 * k] as u8,
                    b.0[4 * k + 1] as u8,
                    b.0[4 * k + 2] as u8,
                    b.0[4 * k + 3] as u8,
                ]);
                if w % 2 != 0 {
                    return Err("bias blocks hold doubled biases (Block::bias)");
                }
                bound[k] = (w as i64).abs();
                k += 1;
            }
            let mut g = 1;
            while g <= groups {
                if base + g >= stream.len() {
                    return Err(STREAM);
                }
                let s = stream[base + g].row_magnitudes();
                let mut k = 0;
                while k < 4 {
                    bound[k] += 510 * s[k];
                    k += 1;
                }
                g += 1;
            }
            let mut k = 0;
            while k < 4 {
                if bound[k] > i32::MAX as i64 {
                    return Err("a row's accumulator could overflow (|bias| + 255·Σ|w| ≥ 2^30)");
                }
                k += 1;
            }
            r += 1;
        }
        Ok(PackedDense {
            stream: stream.as_ptr(),
            scale: scale.as_ptr(),
            groups: groups as u16,
            rows: rows as u16,
            scale_stride: if scale.len() > 1 {
                core::mem::size_of::<Scale>() as u8
            } else {
                0
            },
            output_offset: output_offset as i8,
            act_min,
            act_max,
            inputs: inputs as u16,
            outputs: outputs as u16,
            borrow: PhantomData,
        })
    }

    /// Input width.
    pub const fn inputs(&self) -> usize {
        self.inputs as usize
    }

    /// Output width.
    pub const fn outputs(&self) -> usize {
        self.outputs as usize
    }

    /// The output zero point.
    pub const fn output_offset(&self) -> i32 {
        self.output_offset as i32
    }

    /// Quads of staged input the layer reads.
    pub const fn input_quads(&self) -> usize {
        self.groups as usize
    }

    /// Quads of staged output the layer writes.
    pub const fn output_quads(&self) -> usize {
        self.rows as usize
    }

    /// The block stream (each row group's bias block, then its weight
    /// blocks).
    pub fn stream(&self) -> &'a [Block] {
        self.slices().0
    }

    /// The scales: one (per tensor) or one per row group.
    pub fn scales(&self) -> &'a [Scale] {
        self.slices().1
    }

    /// The clamp.
    pub const fn clamp(&self) -> (i8, i8) {
        (self.act_min, self.act_max)
    }

    /// The constants as slices again.
    fn slices(&self) -> (&'a [Block], &'a [Scale]) {
        let (g, r) = (self.groups as usize, self.rows as usize);
        let scales = if self.scale_stride != 0 { r } else { 1 };
        // SAFETY: `new` took these pointers from slices of exactly these
        // lengths that live for 'a (the `borrow` marker), and nothing
        // writes through them.
        unsafe {
            (
                core::slice::from_raw_parts(self.stream, (g + 1) * r),
                core::slice::from_raw_parts(self.scale, scales),
            )
        }
    }

    /// The layer with double rounding: for each row group `r`, the four
    /// rows' dot products with the staged input `x`, requantized
    /// ([`requant_double`] plus the output zero point, clamped to the int8
    /// range and the clamp), staged into `out[r]` as
    /// `2·(code − output zero point)` in `[r0, r2, r1, r3]` order: the
    /// next layer's staged input, whose input zero point is this layer's
    /// output zero point. Does nothing when `x` or `out` is shorter than
    /// [`input_quads`](Self::input_quads) / [`output_quads`](Self::output_quads).
    ///
    /// On a core with the DSP extension one assembly routine does it all
    /// (row loop, multiply-accumulates, requantization, staging) in
    /// registers; elsewhere the same arithmetic in plain Rust.
    #[inline(always)]
    pub fn run_double(&self, x: &[Quad], out: &mut [Quad]) {
        if x.len() >= self.groups as usize && out.len() >= self.rows as usize {
            imp::dense_double(self, x, out);
        }
    }

    /// [`run_double`](Self::run_double) with TFLite's single rounding
    /// ([`requant_single`]), in plain Rust on every target.
    pub fn run_single(&self, x: &[Quad], out: &mut [Quad]) {
        self.run_with(x, out, requant_single);
    }

    /// [`run_double`](Self::run_double) with another requantization
    /// (`requant(acc, m, pre)` of the reference's accumulator, before the
    /// output offset and clamp, for the right shift `pre + 1`), in plain
    /// Rust on every target.
    pub fn run_with(&self, x: &[Quad], out: &mut [Quad], requant: impl Fn(i32, i32, u32) -> i32) {
        // The doubled accumulator is even and its half exact (`new`).
        self.run_doubled_with(x, out, |acc2, m, pre| requant(acc2 >> 1, m, pre));
    }

    /// [`run_with`](Self::run_with) with `requant` given the doubled
    /// accumulator.
    fn run_doubled_with(
        &self,
        x: &[Quad],
        out: &mut [Quad],
        requant: impl Fn(i32, i32, u32) -> i32,
    ) {
        let (stream, scales) = self.slices();
        let groups = self.groups as usize;
        let Some(x) = x.get(..groups) else {
            return;
        };
        let (act_min, act_max) = (self.act_min as i32, self.act_max as i32);
        let zp = self.output_offset as i32;
        let rows = stream
            .chunks_exact(groups + 1)
            .filter_map(|g| g.split_first());
        for (r, ((b, w), o)) in rows.zip(out.iter_mut()).enumerate() {
            let acc2 = dot4(w, x, b.bias_words());
            let Some(scale) = scales.get(r).or(scales.first()) else {
                return;
            };
            let codes: [i32; 4] = core::array::from_fn(|k| {
                let (m, pre) = scale.row(k);
                let v = requant(acc2[k], m, pre).wrapping_add(zp).clamp(-128, 127);
                v.max(act_min).min(act_max)
            });
            o.0 = [codes[0], codes[2], codes[1], codes[3]].map(|v| (2 * (v - zp)) as i16);
        }
    }
}


/// The number of [`Block`]s in a layer's stream ([`pack_layer`]).
pub const fn stream_len(rows: usize, cols: usize) -> usize {
    // Saturating: widths from a blob may be anything on a 32-bit target
    // (a saturated length matches no slice).
    rows.div_ceil(4).saturating_mul(cols.div_ceil(4) + 1)
}

/// A layer's stream for [`PackedDense`]: per row group, its four biases as one
/// block ([`Block::bias`]; missing rows 0), then its weight blocks as
/// the module documentation lays them out (row after row of each 4×4
/// block). `out` must hold [`stream_len`] blocks.
///
/// # Panics
/// When a bias is outside `±`[`MAX_BIAS`] ([`Block::bias`]).
pub fn pack_layer(w: &[i8], bias: &[i32], rows: usize, cols: usize, out: &mut [Block]) {
    let groups = cols.div_ceil(4);
    for (r, chunk) in out
        .chunks_mut(groups + 1)
        .take(rows.div_ceil(4))
        .enumerate()
    {
        let Some((b, blocks)) = chunk.split_first_mut() else {
            continue;
        };
        *b = Block::bias(core::array::from_fn(|k| {
            bias.get(4 * r + k).copied().unwrap_or(0)
        }));
        for (g, blk) in blocks.iter_mut().enumerate() {
            *blk = weight_block(w, rows, cols, 4 * r, g);
        }
    }
}

/// Rows `r0..r0+4` × columns `4g..4g+4` of a row-major `(rows, cols)`
/// matrix, zero past its edges.
fn weight_block(w: &[i8], rows: usize, cols: usize, r0: usize, g: usize) -> Block {
    let mut b = [0i8; 16];
    for (k, slot) in b.iter_mut().enumerate() {
        let (r, c) = (r0 + k / 4, 4 * g + k % 4);
        if r < rows && c < cols {
            *slot = w.get(r * cols + c).copied().unwrap_or(0);
        }
    }
    Block(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::staged_index;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn reference(w: &[i8], rows: usize, cols: usize, x: &[i16], r0: usize) -> [i32; 4] {
        core::array::from_fn(|k| {
            let r = r0 + k;
            if r >= rows {
                return 0;
            }
            (0..cols).fold(0i32, |a, c| {
                a.wrapping_add((w[r * cols + c] as i32).wrapping_mul(x[c] as i32))
            })
        })
    }

    #[test]
    fn doubled_requantization_equals_the_reference() {
        let mut rng = crate::test_rng::Rng(0x0bad_cafe_1234_5677u64);
        let mut next = || rng.next();
        let edges = [0, 1, -1, (1 << 30) - 1, -(1 << 30), 12_345, -12_345, 3, -3];
        let ms = [0, 1, 1 << 30, i32::MAX, 1_518_500_250];
        for &acc in &edges {
            for &m in &ms {
                for pre in 0..31 {
                    assert_eq!(
                        requant_doubled(2 * acc, m, pre),
                        requant_double(acc, m, pre),
                        "{acc} {m} {pre}"
                    );
                }
            }
        }
        for _ in 0..if cfg!(miri) { 200 } else { 500_000 } {
            let acc = ((next() as i32) >> 1) >> (next() % 31);
            let m = (next() as i32 & i32::MAX) | if next() % 4 == 0 { 0 } else { 1 << 30 };
            let pre = (next() % 31) as u32;
            assert_eq!(
                requant_doubled(2 * acc, m, pre),
                requant_double(acc, m, pre),
                "{acc} {m} {pre}"
            );
        }
    }

    #[test]
    fn layers_whose_accumulator_could_overflow_are_rejected() {
        let w = [127i8; 8];
        let ok = [MAX_BIAS - 4 * 127 * 255, 0];
        let scale = [Scale::tensor(1 << 30, 3)];
        let mut stream = vec![Block([0; 16]); stream_len(2, 4)];
        pack_layer(&w, &ok, 2, 4, &mut stream);
        assert!(PackedDense::try_new(4, 2, &stream, &scale, 0, -128, 127).is_ok());
        let too_big = [ok[0] + 1, 0];
        pack_layer(&w, &too_big, 2, 4, &mut stream);
        let err = PackedDense::try_new(4, 2, &stream, &scale, 0, -128, 127).unwrap_err();
        assert!(err.contains("overflow"), "{err}");
        // An odd bias word is not a doubled bias.
        stream[0].0[0] |= 1;
        assert!(PackedDense::try_new(4, 2, &stream, &scale, 0, -128, 127).is_err());
        // Lengths.
        assert!(PackedDense::try_new(5, 2, &stream, &scale, 0, -128, 127).is_err());
        assert!(PackedDense::try_new(4, 2, &stream, &[], 0, -128, 127).is_err());
        assert!(PackedDense::try_new(4, 2, &stream[..1], &scale, 0, -128, 127).is_err());
        assert!(PackedDense::try_new(4, 2, &stream, &scale, 0, 5, 4).is_err());
    }

    #[test]
    #[should_panic(expected = "bias out of range")]
    fn a_bias_too_large_to_double_panics() {
        let _ = Block::bias([MAX_BIAS + 1, 0, 0, 0]);
    }

    #[test]
    fn scales_store_shifts_minus_one() {
        let s = Scale::new([1, 2, 3, 4], [1, 2, 30, 31]);
        assert_eq!(s.row(2), (3, 29));
        assert_eq!(s.right_shifts(), [1, 2, 30, 31]);
        assert_eq!(s.multipliers(), [1, 2, 3, 4]);
        assert_eq!(core::mem::size_of::<Scale>(), 20);
    }

    proptest! {
        // Skipped under Miri: proptest needs the file system for its
        // failure persistence.
        #[test]
        #[cfg_attr(miri, ignore)]
        fn packed_layer_rows_equal_the_plain_dot_products_plus_bias(
            rows in 1usize..=13,
            cols in 1usize..=37,
            seed in any::<u64>(),
        ) {
            let mut rng = crate::test_rng::Rng(seed | 1);
            let mut next = || rng.next();
            let w: Vec<i8> = (0..rows * cols).map(|_| next() as i8).collect();
            let x: Vec<i16> = (0..cols).map(|_| (next() % 384) as i16 - 128).collect();
            let bias: Vec<i32> = (0..rows).map(|_| (next() as i32) >> 2).collect();
            let mut stream = vec![Block([0; 16]); stream_len(rows, cols)];
            pack_layer(&w, &bias, rows, cols, &mut stream);
            let groups = cols.div_ceil(4);
            let mut quads = vec![Quad::default(); groups];
            for (i, &v) in x.iter().enumerate() {
                let j = staged_index(i);
                quads[j / 4].0[j % 4] = v;
            }
            for (r, group) in stream.chunks_exact(groups + 1).enumerate() {
                let (b, blocks) = group.split_first().unwrap();
                let got = dot4(blocks, &quads, b.bias_words());
                let want: [i32; 4] = core::array::from_fn(|k| {
                    let bias = bias.get(4 * r + k).copied().unwrap_or(0);
                    reference(&w, rows, cols, &x, 4 * r)[k].wrapping_add(2 * bias)
                });
                prop_assert_eq!(b.biases(), core::array::from_fn(|k| {
                    bias.get(4 * r + k).copied().unwrap_or(0)
                }));
                prop_assert_eq!(got, want);
            }
        }
    }
}
