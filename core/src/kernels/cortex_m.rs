//! Cortex-M twins of the kernels: int8 fully connected with `SXTB16` +
//! `SMLAD` (DSP extension) and f32 GEMV with `VFMA.F32` (FPv4-SP), through
//! `asm!` on stable Rust, bit-identical to [`Scalar`] and
//! `gemv_f32::Scalar`.
//!
//! The f32 twin keeps the canonical order (16 lanes, lane `i % 16`, one
//! fused multiply-add per step, the pairwise tree, then the bias): the
//! FPU's `VFMA.F32` rounds once, exactly like the reference's
//! `libm::fmaf`, which on this core is a software routine through f64
//! (the f32 digits network: 632,495 instructions with it, 9,651 with
//! `VFMA.F32`, `cargo xtask bench`). The rest of this page is about the
//! int8 kernel.
//!
//! # How it works
//!
//! 1. **Stage the input once per layer.** The input codes plus
//!    `input_offset` are widened to i16 into an aligned stack buffer of
//!    [`X_CHUNK`] entries, each group of four stored as `[x0, x2, x1, x3]`:
//!    exactly the halfword order `SXTB16` produces from four packed weights
//!    (`SXTB16 w` gives `[w0, w2]`, `SXTB16 w, ROR #8` gives `[w1, w3]`).
//!    `x + input_offset` fits an i16 for every offset TFLite can produce
//!    (|offset| ≤ 255); a larger offset falls back to the scalar reference.
//! 2. **Three rows per pass.** One `LDRD` loads four staged inputs, shared by
//!    three rows; per row one `LDR` of four weights, two `SXTB16` and two
//!    `SMLAD`. Unrolled over sixteen columns, the inner loop is 66
//!    instructions for 48 MACs (1.375 per MAC). Rows are addressed from one
//!    pointer and the row stride (`[w, s]`, `[w, s, LSL #1]`), which keeps all
//!    eleven live values in registers; left-over rows take a one-row loop.
//! 3. **Tails in Rust.** Columns past the last group of four, and inputs
//!    longer than [`X_CHUNK`] (staged chunk by chunk per row group), follow
//!    the same arithmetic in plain code; layers with fewer than four inputs
//!    skip the staging and run a plain loop. The common case — at most
//!    [`X_CHUNK`] inputs, a multiple of four — skips that logic altogether.
//!
//! # Why the bits agree
//!
//! `SMLAD` adds two 16×16-bit products to a 32-bit accumulator modulo 2^32
//! (it only sets the sticky Q flag on overflow), and each product
//! `w · (x + input_offset)` is exact in 32 bits. The sum is therefore the
//! scalar reference's wrapping sum, in another order; wrapping addition is
//! associative and commutative, so every order gives the same bits. The
//! requantization is the reference's arithmetic, in either rounding mode
//! ([`crate::quant::Rounding`]), with the `SaturatingRoundingDoublingHighMul`
//! as one 64-bit multiply-add and a shift, and the usual double-rounding
//! case (right shift only, no saturating multiplier) as straight-line code
//! (proved equal below and tested against the reference in both modes).
//!
//! On targets without the DSP extension this file is compiled only for the
//! host's unit tests, with a plain-Rust model of the assembly loops
//! (same staging layout, same blocking), so the blocking and tail logic is
//! swept on the host and the instructions themselves in QEMU
//! (`firmware/src/bin/kernel_test.rs`).

use super::kernel::{Kernel, KernelId, Scalar as KernelScalar};
use super::reference::f32::{reduce_lanes, F32_LANES};
use super::reference::i8::{FullyConnectedParams, Scalar};
use crate::quant::{rounding_divide_by_pot, Rounding};

/// Inputs staged per chunk (i16 each: 128 bytes of stack).
pub const X_CHUNK: usize = 64;

/// Largest `|input_offset|` for which every `x + input_offset` fits an i16.
pub const MAX_INPUT_OFFSET: i32 = i16::MAX as i32 - i8::MAX as i32;

/// Staged inputs: i16, groups of four in `[x0, x2, x1, x3]` order, then the
/// tail in natural order. 8-byte aligned for `LDRD`/`STRD`.
#[repr(C, align(8))]
struct Staged(core::mem::MaybeUninit<[i16; X_CHUNK]>);

impl Staged {
    /// An unwritten buffer (zeroing it would cost a `memclr` per layer):
    /// only entries [`stage`] has written are ever read.
    fn new() -> Self {
        Staged(core::mem::MaybeUninit::uninit())
    }

    fn as_ptr(&self) -> *const i16 {
        self.0.as_ptr().cast()
    }

    fn as_mut_ptr(&mut self) -> *mut i16 {
        self.0.as_mut_ptr().cast()
    }

    /// Entry `c`.
    ///
    /// # Safety
    /// `c < X_CHUNK`, and [`stage`] has written entry `c`.
    unsafe fn get(&self, c: usize) -> i32 {
        // SAFETY: forwarded from the caller's contract.
        unsafe { *self.as_ptr().add(c) as i32 }
    }
}

/// The Cortex-M DSP kernel (Cortex-M4/M7/M33 with the DSP extension).
///
/// It exists only in builds for such targets (`cfg(axon_arm_dsp)`, set by
/// the core's build script) and in the host's unit tests, where the
/// assembly is replaced by a plain-Rust model; so holding one is the proof
/// that the instructions run.
#[derive(Debug, Clone, Copy, Default)]
pub struct CortexMDsp;

impl Kernel for CortexMDsp {
    const ID: KernelId = KernelId::CortexMDsp;

    #[inline]
    fn dot_f32(self, a: &[f32], b: &[f32]) -> f32 {
        dot_f32(a, b)
    }

    #[inline]
    fn gemv_f32(self, w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
        gemv_f32(w, x, b, y)
    }

    /// Stages the input with its offset, so the row sums are not needed.
    #[inline]
    fn fully_connected_i8(
        self,
        w: &[i8],
        x: &[i8],
        bias: &[i32],
        _row_sums: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    ) {
        CortexMDsp::fully_connected(w, x, bias, p, y)
    }

    #[inline]
    fn relu_f32(self, xs: &mut [f32]) {
        KernelScalar.relu_f32(xs)
    }
}

impl CortexMDsp {
    /// The whole layer, with exactly the semantics (and totality) of
    /// [`Scalar::fully_connected`]: `w` output-major `(rows, x.len())`, and
    /// with inconsistent lengths the rows that fit are computed.
    pub fn fully_connected(
        w: &[i8],
        x: &[i8],
        bias: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    ) {
        let n = x.len();
        let off = p.input_offset;
        if n == 0 || !(-MAX_INPUT_OFFSET..=MAX_INPUT_OFFSET).contains(&off) {
            return Scalar::fully_connected(w, x, bias, p, y);
        }
        let rows = (w.len() / n).min(bias.len()).min(y.len());
        let (bias, y) = (&bias[..rows], &mut y[..rows]);
        if n < 4 {
            let rq = RowRequant::new(p, rows);
            // No group of four to stage: a plain loop (still with the
            // faster requantization) costs less than staging.
            for (c, ((row, &b), yc)) in w.chunks_exact(n).zip(bias).zip(y.iter_mut()).enumerate() {
                *yc = rq.row(Scalar::accumulate(row, x, off, b), c);
            }
            return;
        }
        let mut staged = Staged::new();
        let single_chunk = n <= X_CHUNK;
        if single_chunk {
            stage(x, off, &mut staged);
        }
        if single_chunk && n.is_multiple_of(4) {
            // The common case (every layer of the bundled models but the
            // 1-input one): whole groups of four, staged once; the rows
            // straight through the assembly, without the chunk and tail
            // logic below.
            return fc_staged_blocks(w, n, &staged, bias, p, y);
        }
        let accumulate = |staged: &mut Staged, r: usize, acc: [i32; 3], three: bool| {
            // SAFETY: the rows read (r, and r+1, r+2 when `three`) are below
            // `rows ≤ w.len() / n`, so every weight read is inside `w`.
            unsafe {
                accumulate(
                    w.as_ptr().add(r * n),
                    n,
                    x,
                    off,
                    staged,
                    !single_chunk,
                    acc,
                    three,
                )
            }
        };

        let rq = RowRequant::new(p, rows);
        let mut groups_b = bias.chunks_exact(3);
        let mut groups_y = y.chunks_exact_mut(3);
        let mut r = 0;
        for (b, yg) in (&mut groups_b).zip(&mut groups_y) {
            let acc = accumulate(&mut staged, r, [b[0], b[1], b[2]], true);
            yg[0] = rq.row(acc[0], r);
            yg[1] = rq.row(acc[1], r + 1);
            yg[2] = rq.row(acc[2], r + 2);
            r += 3;
        }
        let rest = groups_y.into_remainder();
        for (&b, yc) in groups_b.remainder().iter().zip(rest) {
            *yc = rq.row(accumulate(&mut staged, r, [b, 0, 0], false)[0], r);
            r += 1;
        }
    }
}

/// The layer when all `n` inputs (a multiple of four, at most [`X_CHUNK`])
/// are staged: three rows per [`imp::dot3_blocks`], the last rows one by
/// one, each row requantized by [`RowRequant`]. `rows = y.len() =
/// bias.len() ≤ w.len() / n`, as the caller established.
#[inline(never)]
fn fc_staged_blocks(
    w: &[i8],
    n: usize,
    staged: &Staged,
    bias: &[i32],
    p: &FullyConnectedParams<'_>,
    y: &mut [i8],
) {
    let rows = y.len().min(bias.len()).min(w.len() / n.max(1));
    let blocks = n / 4;
    let xs = staged.as_ptr();
    let rq = RowRequant::new(p, rows);
    let mut r = 0;
    while r + 3 <= rows {
        // SAFETY: rows r..r+3 are below `rows ≤ w.len() / n`, so the three
        // rows of `n` weights lie inside `w`; `xs` holds `n = 4·blocks`
        // staged inputs (the caller staged all of them).
        let acc = unsafe {
            imp::dot3_blocks(
                w.as_ptr().add(r * n),
                n,
                xs,
                blocks,
                [bias[r], bias[r + 1], bias[r + 2]],
            )
        };
        y[r] = rq.row(acc[0], r);
        y[r + 1] = rq.row(acc[1], r + 1);
        y[r + 2] = rq.row(acc[2], r + 2);
        r += 3;
    }
    while r < rows {
        // SAFETY: row r < rows lies inside `w`; as above for `xs`.
        let acc = unsafe { imp::dot1_blocks(w.as_ptr().add(r * n), xs, blocks, bias[r]) };
        y[r] = rq.row(acc, r);
        r += 1;
    }
}

/// Accumulates three rows (or one) starting at `w` (row stride `n`) over
/// all `n = x.len()` columns; with `chunked`, stages each chunk of `x` first
/// (else `staged` already holds all of `x`).
///
/// # Safety
/// `w + (rows − 1)·n + n` inside one allocation, rows = 3 if `three` else 1.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn accumulate(
    w: *const i8,
    n: usize,
    x: &[i8],
    off: i32,
    staged: &mut Staged,
    chunked: bool,
    acc: [i32; 3],
    three: bool,
) -> [i32; 3] {
    let mut acc = acc;
    let mut start = 0;
    while start < n {
        let cols = (n - start).min(X_CHUNK);
        if chunked {
            stage(&x[start..start + cols], off, staged);
        }
        // SAFETY: columns start..start+cols lie inside each row (start +
        // cols ≤ n), within the caller's bound; `cols ≤ X_CHUNK` staged
        // entries are set.
        unsafe {
            let wp = w.add(start);
            if three {
                acc = dot3(wp, n, staged, cols, acc);
            } else {
                acc[0] = dot1(wp, staged, cols, acc[0]);
            }
        }
        start += cols;
    }
    acc
}

/// The canonical f32 dot product (see `gemv_f32`): 16 lanes, element `i` to
/// lane `i % 16` in increasing `i`, one fused multiply-add per step, then
/// the pairwise tree. Whole groups of sixteen run in [`fma_groups`]; the
/// tail (under sixteen elements) through `libm::fmaf`, as the reference.
#[inline]
fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let groups = n / F32_LANES;
    let mut acc = [0.0f32; F32_LANES];
    if groups > 0 {
        // SAFETY: a and b hold at least groups·16 elements each.
        unsafe { fma_groups(a.as_ptr(), b.as_ptr(), groups, &mut acc) };
    }
    let done = groups * F32_LANES;
    for (l, (&x, &y)) in a[done..n].iter().zip(&b[done..n]).enumerate() {
        acc[l] = libm::fmaf(x, y, acc[l]);
    }
    reduce_lanes(&mut acc)
}

/// `acc[l] = fma(a[16g + l], b[16g + l], acc[l])` for every group `g`, in
/// increasing `g`: the FPU's `VFMA.F32` (IEEE 754 fusedMultiplyAdd, one
/// rounding, like the reference's `libm::fmaf`, which is a software routine
/// through f64 on this core). The sixteen lanes live in `s0`–`s15` and
/// eight operands of each vector in `s16`–`s23` / `s24`–`s31`, loaded with
/// `VLDM`: 22 instructions per 16 MACs. The block saves and restores every
/// FPU register it touches (stable Rust cannot declare them clobbered on
/// this target), so it uses 128 bytes of stack.
///
/// # Safety
/// `a` and `b` readable for `16·groups` f32 each; `groups > 0`.
#[cfg(all(axon_arm_dsp, target_abi = "eabihf"))]
#[inline(always)]
unsafe fn fma_groups(a: *const f32, b: *const f32, groups: usize, acc: &mut [f32; F32_LANES]) {
    // SAFETY: the loads stay inside the caller's bounds; `acc` is 16 f32;
    // the hard-float ABI guarantees the FPU is on (cortex-m-rt enables it);
    // s0–s31 are pushed first and popped last, so no register the compiler
    // uses changes.
    unsafe {
        core::arch::asm!(
            "vpush {{s0-s15}}",
            "vpush {{s16-s31}}",
            "vldmia {acc}, {{s0-s15}}",
            "2:",
            "vldmia {a}!, {{s16-s23}}",
            "vldmia {b}!, {{s24-s31}}",
            "vfma.f32 s0, s16, s24",
            "vfma.f32 s1, s17, s25",
            "vfma.f32 s2, s18, s26",
            "vfma.f32 s3, s19, s27",
            "vfma.f32 s4, s20, s28",
            "vfma.f32 s5, s21, s29",
            "vfma.f32 s6, s22, s30",
            "vfma.f32 s7, s23, s31",
            "vldmia {a}!, {{s16-s23}}",
            "vldmia {b}!, {{s24-s31}}",
            "vfma.f32 s8, s16, s24",
            "vfma.f32 s9, s17, s25",
            "vfma.f32 s10, s18, s26",
            "vfma.f32 s11, s19, s27",
            "vfma.f32 s12, s20, s28",
            "vfma.f32 s13, s21, s29",
            "vfma.f32 s14, s22, s30",
            "vfma.f32 s15, s23, s31",
            "subs {n}, {n}, #1",
            "bne 2b",
            "vstmia {acc}, {{s0-s15}}",
            "vpop {{s16-s31}}",
            "vpop {{s0-s15}}",
            a = inout(reg) a => _,
            b = inout(reg) b => _,
            n = inout(reg) groups => _,
            acc = in(reg) acc.as_mut_ptr(),
        );
    }
}

/// The plain-Rust model of the assembly loop above (host tests, and builds
/// without a hardware FPU).
///
/// # Safety
/// As the assembly twin.
#[cfg(not(all(axon_arm_dsp, target_abi = "eabihf")))]
#[inline(always)]
unsafe fn fma_groups(a: *const f32, b: *const f32, groups: usize, acc: &mut [f32; F32_LANES]) {
    for g in 0..groups {
        for (l, s) in acc.iter_mut().enumerate() {
            // SAFETY: inside the caller's bounds.
            let (x, y) = unsafe { (*a.add(g * F32_LANES + l), *b.add(g * F32_LANES + l)) };
            *s = libm::fmaf(x, y, *s);
        }
    }
}

/// The canonical GEMV, with exactly the semantics (and totality) of
/// `gemv_f32::Scalar::gemv`.
#[inline]
fn gemv_f32(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    if x.is_empty() {
        for (yo, &bo) in y.iter_mut().zip(b) {
            *yo = 0.0 + bo;
        }
        return;
    }
    for ((row, &bo), yo) in w.chunks_exact(x.len()).zip(b).zip(y.iter_mut()) {
        *yo = dot_f32(row, x) + bo;
    }
}

/// [`FullyConnectedParams::requantize`], bit for bit, in both rounding
/// modes.
///
/// Double rounding: the `SaturatingRoundingDoublingHighMul` is one 64-bit
/// multiply and a shift: gemmlowp's `(ab + nudge) / 2^31` with C truncation
/// equals `(ab + 2^30) >> 31` (an arithmetic shift) for every `ab` (for
/// `ab < 0` the truncating division is a ceiling, and `⌈(ab + 1 −
/// 2^30)/2^31⌉ = ⌊(ab + 2^30)/2^31⌋`), which compiles to `SMULL`, `ADDS`,
/// `ADC` and two shifts instead of a branch and a 64-bit division fix-up.
///
/// Single rounding is already one `SMULL`, a 64-bit add of the nudge and a
/// 64-bit shift.
#[inline(never)]
fn requantize(p: &FullyConnectedParams<'_>, acc: i32, c: usize) -> i8 {
    let (m, shift) = p.channel(c);
    let v = match p.rounding {
        Rounding::Double => {
            let left = if shift > 0 { shift.min(31) } else { 0 };
            let right = if shift > 0 { 0 } else { shift.wrapping_neg() };
            let x = acc.wrapping_mul(1i32 << left);
            let high = if x == i32::MIN && m == i32::MIN {
                i32::MAX
            } else {
                ((x as i64 * m as i64 + (1 << 30)) >> 31) as i32
            };
            rounding_divide_by_pot(high, right)
        }
        Rounding::Single => {
            // total = 31 − shift in 1..=62, as the reference clamps it.
            let total = 31 - shift.clamp(-31, 30);
            ((acc as i64 * m as i64 + (1i64 << (total - 1))) >> total) as i32
        }
    };
    let v = v.wrapping_add(p.output_offset);
    v.max(p.act_min as i32).min(p.act_max as i32) as i8
}

/// [`requantize`] for the rows `0..rows` of one layer, bit for bit, with
/// the usual case — double rounding, a shift in `−31..=0` (right shifts
/// only, as [`crate::quant::quantize_multiplier`] gives for every real
/// multiplier below 1) and a multiplier other than `i32::MIN` — as
/// straight-line code: one `SMLAL` with the nudge and two shifts (the SRDHM,
/// exact without its saturation), gemmlowp's `RoundingDivideByPOT` without
/// its exponent clamp, the offset and the clamp. What can be decided once
/// per layer is: double rounding or not, and where each row's (multiplier,
/// shift) is (one pair for all, or one per row for every row). Any other
/// row calls [`requantize`] (not inlined: one copy).
struct RowRequant<'p, 'a> {
    p: &'p FullyConnectedParams<'a>,
    /// Double rounding and the pairs cover every row.
    fast: bool,
    per_tensor: bool,
    output_offset: i32,
    act_min: i32,
    act_max: i32,
}

impl<'p, 'a> RowRequant<'p, 'a> {
    #[inline(always)]
    fn new(p: &'p FullyConnectedParams<'a>, rows: usize) -> Self {
        let (ms, ss) = (p.multiplier.len(), p.shift.len());
        // `FullyConnectedParams::channel` reads index 0 whenever there is
        // one multiplier; otherwise index `c`.
        let per_tensor = ms == 1 && ss >= 1;
        let covered = per_tensor || (ms >= rows && ss >= rows);
        RowRequant {
            p,
            fast: p.rounding == Rounding::Double && covered,
            per_tensor,
            output_offset: p.output_offset,
            act_min: p.act_min as i32,
            act_max: p.act_max as i32,
        }
    }

    /// Row `c < rows`: `requantize(p, acc, c)`, bit for bit.
    #[inline(always)]
    fn row(&self, acc: i32, c: usize) -> i8 {
        if !self.fast {
            return requantize(self.p, acc, c);
        }
        let i = if self.per_tensor { 0 } else { c };
        // SAFETY: `fast` means index 0 exists (per tensor) or both arrays
        // hold at least `rows > c` entries (checked in `new`).
        let (m, shift) = unsafe {
            (
                *self.p.multiplier.get_unchecked(i),
                *self.p.shift.get_unchecked(i),
            )
        };
        if !((-31..=0).contains(&shift) && m != i32::MIN) {
            return requantize(self.p, acc, c);
        }
        let h = ((acc as i64 * m as i64 + (1 << 30)) >> 31) as i32;
        let e = shift.unsigned_abs() & 31;
        let mask = ((1u32 << e) - 1) as i32;
        let threshold = (mask >> 1) + ((h as u32) >> 31) as i32;
        let v = (h >> e) + ((h & mask) > threshold) as i32;
        v.wrapping_add(self.output_offset)
            .max(self.act_min)
            .min(self.act_max) as i8
    }
}

/// Stages up to [`X_CHUNK`] inputs plus `off` into `dst`.
#[inline(always)]
fn stage(x: &[i8], off: i32, dst: &mut Staged) {
    let n = x.len().min(X_CHUNK);
    let blocks = n / 4;
    if blocks > 0 {
        // SAFETY: reads 4·blocks ≤ x.len() bytes of `x`, writes 4·blocks ≤
        // X_CHUNK halfwords of `dst`, whose 8-byte alignment `STRD` needs.
        unsafe { imp::stage_blocks(x.as_ptr(), dst.as_mut_ptr(), blocks, off) };
    }
    for (i, &v) in (blocks * 4..n).zip(&x[blocks * 4..n]) {
        // |off| ≤ MAX_INPUT_OFFSET, checked by the caller: the sum fits.
        // SAFETY: i < n ≤ X_CHUNK.
        unsafe { dst.as_mut_ptr().add(i).write((v as i32 + off) as i16) };
    }
}

/// Three rows `w`, `w + stride`, `w + 2·stride`, `cols` columns each, against
/// the staged inputs.
///
/// # Safety
/// `w + 2·stride + cols` must stay inside one allocation; `cols ≤ X_CHUNK`.
#[inline(always)]
unsafe fn dot3(w: *const i8, stride: usize, xs: &Staged, cols: usize, acc: [i32; 3]) -> [i32; 3] {
    let blocks = cols / 4;
    // SAFETY: forwarded from the caller's contract.
    let mut acc = unsafe { imp::dot3_blocks(w, stride, xs.as_ptr(), blocks, acc) };
    for c in blocks * 4..cols {
        // SAFETY: c < cols ≤ X_CHUNK, staged by the caller.
        let xv = unsafe { xs.get(c) };
        for (k, a) in acc.iter_mut().enumerate() {
            // SAFETY: column c < cols of row k < 3, inside the caller's bound.
            let wv = unsafe { *w.add(k * stride + c) } as i32;
            *a = a.wrapping_add(wv.wrapping_mul(xv));
        }
    }
    acc
}

/// One row of `cols` columns against the staged inputs.
///
/// # Safety
/// `w + cols` must stay inside one allocation; `cols ≤ X_CHUNK`.
#[inline(always)]
unsafe fn dot1(w: *const i8, xs: &Staged, cols: usize, acc: i32) -> i32 {
    let blocks = cols / 4;
    // SAFETY: forwarded from the caller's contract.
    let mut acc = unsafe { imp::dot1_blocks(w, xs.as_ptr(), blocks, acc) };
    for c in blocks * 4..cols {
        // SAFETY: c < cols, inside the caller's bound.
        let wv = unsafe { *w.add(c) } as i32;
        // SAFETY: c < cols ≤ X_CHUNK, staged by the caller.
        acc = acc.wrapping_add(wv.wrapping_mul(unsafe { xs.get(c) }));
    }
    acc
}

/// The three loops in Thumb-2 DSP assembly.
#[cfg(axon_arm_dsp)]
mod imp {
    use core::arch::asm;

    /// Four weights of the row at `{wp} + {off}` into accumulator `{acc}`
    /// (against `{xa}` = `[x0, x2]`, `{xb}` = `[x1, x3]`).
    macro_rules! row_block {
        ($load:literal, $acc:literal) => {
            concat!(
                $load,
                "\n sxtb16 {t}, {w}\n sxtb16 {w}, {w}, ror #8\n smlad ",
                $acc,
                ", {t}, {xa}, ",
                $acc,
                "\n smlad ",
                $acc,
                ", {w}, {xb}, ",
                $acc,
                "\n"
            )
        };
    }

    /// One group of four columns for three rows; row 0's pointer advances.
    macro_rules! block3 {
        () => {
            concat!(
                "ldrd {xa}, {xb}, [{xp}], #8\n",
                row_block!("ldr {w}, [{wp}, {s}]", "{a1}"),
                row_block!("ldr {w}, [{wp}, {s}, lsl #1]", "{a2}"),
                row_block!("ldr {w}, [{wp}], #4", "{a0}"),
            )
        };
    }

    /// `dst[4b..4b+4] = [x0, x2, x1, x3] + off` for each group of four.
    ///
    /// # Safety
    /// `x` readable for `4·blocks` bytes (any alignment: Armv7-M `LDR`
    /// allows unaligned addresses); `dst` writable for `4·blocks` halfwords
    /// and 8-byte aligned; `blocks > 0`.
    #[inline(always)]
    pub(super) unsafe fn stage_blocks(x: *const i8, dst: *mut i16, blocks: usize, off: i32) {
        let off2 = (off as u32 & 0xffff) | ((off as u32) << 16);
        // SAFETY: the caller's contract bounds every load and store; the
        // DSP instructions exist on this target (cfg axon_arm_dsp).
        unsafe {
            asm!(
                "2:",
                "ldr {v}, [{src}], #4",
                "sxtb16 {a}, {v}",
                "sxtb16 {v}, {v}, ror #8",
                "sadd16 {a}, {a}, {off2}",
                "sadd16 {v}, {v}, {off2}",
                "strd {a}, {v}, [{dst}], #8",
                "subs {n}, {n}, #1",
                "bne 2b",
                src = inout(reg) x => _,
                dst = inout(reg) dst => _,
                n = inout(reg) blocks => _,
                off2 = in(reg) off2,
                v = out(reg) _,
                a = out(reg) _,
                options(nostack),
            );
        }
    }

    /// Accumulates `4·blocks` columns of three rows (stride `stride` bytes).
    ///
    /// # Safety
    /// `w + 2·stride + 4·blocks` inside one allocation; `xs` readable for
    /// `4·blocks` halfwords and 8-byte aligned.
    #[inline(always)]
    pub(super) unsafe fn dot3_blocks(
        w: *const i8,
        stride: usize,
        xs: *const i16,
        blocks: usize,
        acc: [i32; 3],
    ) -> [i32; 3] {
        let [mut a0, mut a1, mut a2] = acc;
        // SAFETY: the caller's contract bounds every load; the DSP
        // instructions exist on this target (cfg axon_arm_dsp).
        unsafe {
            asm!(
                "subs {n}, {n}, #4",
                "blt 3f",
                "2:",
                block3!(),
                block3!(),
                block3!(),
                block3!(),
                "subs {n}, {n}, #4",
                "bge 2b",
                "3:",
                "adds {n}, {n}, #4",
                "beq 5f",
                "4:",
                block3!(),
                "subs {n}, {n}, #1",
                "bne 4b",
                "5:",
                wp = inout(reg) w => _,
                s = in(reg) stride,
                xp = inout(reg) xs => _,
                n = inout(reg) blocks => _,
                a0 = inout(reg) a0,
                a1 = inout(reg) a1,
                a2 = inout(reg) a2,
                xa = out(reg) _,
                xb = out(reg) _,
                w = out(reg) _,
                t = out(reg) _,
                options(nostack, readonly),
            );
        }
        [a0, a1, a2]
    }

    /// Accumulates `4·blocks` columns of one row.
    ///
    /// # Safety
    /// `w + 4·blocks` inside one allocation; `xs` readable for `4·blocks`
    /// halfwords and 8-byte aligned.
    #[inline(always)]
    pub(super) unsafe fn dot1_blocks(w: *const i8, xs: *const i16, blocks: usize, acc: i32) -> i32 {
        let mut a0 = acc;
        // SAFETY: the caller's contract bounds every load; the DSP
        // instructions exist on this target (cfg axon_arm_dsp).
        unsafe {
            asm!(
                "cmp {n}, #0",
                "beq 3f",
                "2:",
                "ldrd {xa}, {xb}, [{xp}], #8",
                row_block!("ldr {w}, [{wp}], #4", "{a0}"),
                "subs {n}, {n}, #1",
                "bne 2b",
                "3:",
                wp = inout(reg) w => _,
                xp = inout(reg) xs => _,
                n = inout(reg) blocks => _,
                a0 = inout(reg) a0,
                xa = out(reg) _,
                xb = out(reg) _,
                w = out(reg) _,
                t = out(reg) _,
                options(nostack, readonly),
            );
        }
        a0
    }
}

/// A plain-Rust model of the three assembly loops, instruction for
/// instruction in effect (same staging layout, same `SMLAD` pairing), so the
/// host's tests exercise the blocking and tail logic around them.
#[cfg(not(axon_arm_dsp))]
mod imp {
    /// `SXTB16`: bytes 0 and 2, sign-extended, as (low, high) halfwords.
    fn sxtb16(v: u32) -> (i32, i32) {
        (v as u8 as i8 as i32, (v >> 16) as u8 as i8 as i32)
    }

    /// `SMLAD`: `acc + lo·lo + hi·hi`, modulo 2^32.
    fn smlad(a: (i32, i32), b: (i32, i32), acc: i32) -> i32 {
        acc.wrapping_add(a.0.wrapping_mul(b.0))
            .wrapping_add(a.1.wrapping_mul(b.1))
    }

    /// Reads four bytes as the little-endian word `LDR` sees.
    unsafe fn ldr(p: *const i8) -> u32 {
        // SAFETY: forwarded from the caller's contract.
        unsafe { u32::from_le_bytes(core::ptr::read_unaligned(p.cast::<[u8; 4]>())) }
    }

    /// Reads two staged halfwords as `(low, high)`.
    unsafe fn ldr16x2(p: *const i16) -> (i32, i32) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { (*p as i32, *p.add(1) as i32) }
    }

    /// See the assembly twin.
    ///
    /// # Safety
    /// As the assembly twin.
    pub(super) unsafe fn stage_blocks(x: *const i8, dst: *mut i16, blocks: usize, off: i32) {
        for b in 0..blocks {
            // SAFETY: inside the caller's bounds.
            let v = unsafe { ldr(x.add(4 * b)) };
            let (x0, x2) = sxtb16(v);
            let (x1, x3) = sxtb16(v >> 8);
            for (k, xv) in [x0, x2, x1, x3].into_iter().enumerate() {
                // SAFETY: inside the caller's bounds.
                unsafe { *dst.add(4 * b + k) = (xv + off) as i16 };
            }
        }
    }

    /// One row's four columns of group `b`.
    unsafe fn row_block(w: *const i8, xs: *const i16, acc: i32) -> i32 {
        // SAFETY: inside the caller's bounds.
        let (v, xa, xb) = unsafe { (ldr(w), ldr16x2(xs), ldr16x2(xs.add(2))) };
        smlad(sxtb16(v >> 8), xb, smlad(sxtb16(v), xa, acc))
    }

    /// See the assembly twin.
    ///
    /// # Safety
    /// As the assembly twin.
    pub(super) unsafe fn dot3_blocks(
        w: *const i8,
        stride: usize,
        xs: *const i16,
        blocks: usize,
        acc: [i32; 3],
    ) -> [i32; 3] {
        let mut acc = acc;
        for b in 0..blocks {
            for (k, a) in acc.iter_mut().enumerate() {
                // SAFETY: inside the caller's bounds.
                *a = unsafe { row_block(w.add(k * stride + 4 * b), xs.add(4 * b), *a) };
            }
        }
        acc
    }

    /// See the assembly twin.
    ///
    /// # Safety
    /// As the assembly twin.
    pub(super) unsafe fn dot1_blocks(w: *const i8, xs: *const i16, blocks: usize, acc: i32) -> i32 {
        let mut acc = acc;
        for b in 0..blocks {
            // SAFETY: inside the caller's bounds.
            acc = unsafe { row_block(w.add(4 * b), xs.add(4 * b), acc) };
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Fc = fn(&[i8], &[i8], &[i32], &FullyConnectedParams<'_>, &mut [i8]);

    fn run(
        kernel: Fc,
        w: &[i8],
        x: &[i8],
        bias: &[i32],
        p: &FullyConnectedParams<'_>,
        rows: usize,
    ) -> [i8; 40] {
        let mut y = [0x55u8 as i8; 40];
        kernel(w, x, bias, p, &mut y[..rows]);
        y
    }

    fn sweep(rows: usize, cols: usize, seed: u64, off: i32) {
        sweep_mode(rows, cols, seed, off, Rounding::Double);
        sweep_mode(rows, cols, seed, off, Rounding::Single);
    }

    fn sweep_mode(rows: usize, cols: usize, seed: u64, off: i32, rounding: Rounding) {
        let mut rng = crate::test_rng::Rng(seed | 1);
        let mut next = || rng.next();
        // Only the codes used are drawn (Miri runs these tests too).
        let mut w = [0i8; 40 * 150];
        w[..rows * cols].iter_mut().for_each(|v| *v = next() as i8);
        let mut x = [0i8; 150];
        x[..cols].iter_mut().for_each(|v| *v = next() as i8);
        let bias: [i32; 40] = core::array::from_fn(|_| next() as i32 >> (next() % 32));
        let m: [i32; 40] = core::array::from_fn(|_| (1 << 30) + (next() as i32 & 0x3fff_ffff));
        let sh: [i32; 40] = core::array::from_fn(|_| -((next() % 20) as i32));
        let p = FullyConnectedParams {
            input_offset: off,
            output_offset: (next() % 256) as i32 - 128,
            multiplier: &m[..rows.max(1)],
            shift: &sh[..rows.max(1)],
            act_min: -128,
            act_max: 127,
            rounding,
        };
        let (w, x, b) = (&w[..rows * cols], &x[..cols], &bias[..rows]);
        let want = run(Scalar::fully_connected, w, x, b, &p, rows);
        let got = run(CortexMDsp::fully_connected, w, x, b, &p, rows);
        assert_eq!(
            want, got,
            "rows {rows} cols {cols} offset {off} seed {seed} {rounding:?}"
        );
    }

    #[test]
    fn cortex_m_gemv_i8_equals_scalar_for_all_small_shapes() {
        // Miri is slow: there, every fifth shape.
        let step = if cfg!(miri) { 5 } else { 1 };
        for rows in (0..=13).step_by(step) {
            for cols in (0..=X_CHUNK + 9).step_by(step) {
                sweep(rows, cols, (rows * 1000 + cols) as u64, 128);
            }
        }
    }

    #[test]
    fn cortex_m_gemv_i8_equals_scalar_past_one_chunk_and_at_extreme_offsets() {
        for &cols in &[X_CHUNK + 1, 2 * X_CHUNK, 2 * X_CHUNK + 3, 150] {
            for &off in &[-MAX_INPUT_OFFSET, -128, 0, 127, 128, 255, MAX_INPUT_OFFSET] {
                sweep(7, cols, cols as u64 ^ off as u64, off);
            }
        }
    }

    #[test]
    fn offsets_past_i16_fall_back_to_scalar() {
        for &off in &[
            MAX_INPUT_OFFSET + 1,
            -MAX_INPUT_OFFSET - 1,
            i32::MAX,
            i32::MIN,
        ] {
            sweep(5, 37, 9, off);
        }
    }

    #[test]
    fn inconsistent_lengths_compute_the_rows_that_fit() {
        // Per tensor; per channel with too few pairs (the missing ones are
        // (0, 0) in the reference); per channel with shifts missing.
        let pairs: [(&[i32], &[i32]); 4] = [
            (&[1 << 30], &[-3]),
            (&[1 << 30, 3 << 29, 1 << 30], &[-3, -4, -2]),
            (&[1 << 30; 9], &[-3; 4]),
            (&[1 << 30], &[]),
        ];
        let w: [i8; 64] = core::array::from_fn(|i| (i as i8).wrapping_mul(37));
        for (m, s) in pairs {
            let p = FullyConnectedParams {
                input_offset: 3,
                output_offset: 1,
                multiplier: m,
                shift: s,
                act_min: -100,
                act_max: 100,
                rounding: Rounding::Double,
            };
            // 7 inputs (chunked tail path), 4 (all staged), 2 (no staging).
            for x in [
                &[5i8, -7, 9, 100, -128, 127, 0][..],
                &[5, -7, 9, 100],
                &[5, -7],
            ] {
                let n = x.len();
                for (wl, bl, yl) in [
                    (7 * n, 9, 9),
                    (9 * n, 3, 9),
                    (3 * n - 1, 9, 9),
                    (9 * n, 9, 2),
                    (n, 9, 9),
                ] {
                    let bias = [11i32, -40, 7, 0, 99, -3, 5, 8, 1];
                    let mut want = [0i8; 9];
                    let mut got = [0i8; 9];
                    Scalar::fully_connected(&w[..wl], x, &bias[..bl], &p, &mut want[..yl]);
                    CortexMDsp::fully_connected(&w[..wl], x, &bias[..bl], &p, &mut got[..yl]);
                    assert_eq!(want, got, "m {m:?} s {s:?} x {n} w {wl} bias {bl} y {yl}");
                }
            }
        }
    }

    #[test]
    fn fast_requantize_equals_the_reference() {
        let edges = [
            i32::MIN,
            i32::MIN + 1,
            -(1 << 30),
            -3,
            -1,
            0,
            1,
            3,
            1 << 30,
            i32::MAX,
        ];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as i32
        };
        let n = if cfg!(miri) { 500 } else { 200_000 };
        for i in 0..n {
            // Every third draw is an edge value.
            let pick = |v: i32, k: usize| match k % 3 {
                0 => edges[(v as u32 % 10) as usize],
                _ => v,
            };
            let acc = pick(next(), i);
            let m = pick(next(), i / 3);
            let shift = match i % 4 {
                0 => next() % 40,
                // (Not i32::MIN: the reference negates the shift.)
                1 => [-40, -32, -31, 0, 30, 31, 32, i32::MAX][(next() as u32 % 8) as usize],
                _ => next() % 12 - 8,
            };
            let (mm, ss) = ([m], [shift]);
            let output_offset = next() % 300;
            for rounding in [Rounding::Double, Rounding::Single] {
                let p = FullyConnectedParams {
                    input_offset: 0,
                    output_offset,
                    multiplier: &mm,
                    shift: &ss,
                    act_min: -128,
                    act_max: 127,
                    rounding,
                };
                assert_eq!(
                    requantize(&p, acc, 0),
                    p.requantize(acc, 0),
                    "acc {acc} m {m} shift {shift} {rounding:?}"
                );
                assert_eq!(
                    RowRequant::new(&p, 1).row(acc, 0),
                    p.requantize(acc, 0),
                    "row: acc {acc} m {m} shift {shift} {rounding:?}"
                );
            }
        }
    }

    #[test]
    // libm's fmaf detects x86 FMA with `cpuid`, which Miri cannot run.
    #[cfg_attr(miri, ignore)]
    fn cortex_m_gemv_f32_equals_scalar_for_all_small_shapes() {
        use crate::kernels::reference::f32::Scalar as F32Scalar;
        let mut s = 0x9E37_79B9u32;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1 << 24) as f32 * 8.0 - 4.0
        };
        let w: [f32; 7 * 40] = core::array::from_fn(|_| next());
        let x: [f32; 40] = core::array::from_fn(|_| next());
        let b: [f32; 7] = core::array::from_fn(|_| next());
        let step = if cfg!(miri) { 7 } else { 1 };
        for cols in (0..=40).step_by(step) {
            for rows in 0..=7 {
                let (mut want, mut got) = ([0f32; 7], [0f32; 7]);
                F32Scalar::gemv(&w[..rows * cols], &x[..cols], &b[..rows], &mut want[..rows]);
                gemv_f32(&w[..rows * cols], &x[..cols], &b[..rows], &mut got[..rows]);
                assert_eq!(
                    want.map(f32::to_bits),
                    got.map(f32::to_bits),
                    "{rows}x{cols}"
                );
            }
            let d = dot_f32(&w[..cols], &x[..cols]).to_bits();
            assert_eq!(
                d,
                F32Scalar::dot(&w[..cols], &x[..cols]).to_bits(),
                "dot {cols}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 64 }))]
        #[test]
        // Proptest's failure persistence needs the working directory, which
        // Miri's isolation hides; the deterministic sweeps above run there.
        #[cfg_attr(miri, ignore)]
        fn cortex_m_gemv_i8_equals_scalar_on_random_layers(
            rows in 0usize..40,
            cols in 0usize..150,
            off in -300i32..300,
            seed in any::<u64>(),
        ) {
            sweep(rows, cols, seed, off);
        }
    }
}
