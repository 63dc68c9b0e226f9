//! Cortex-M twins of the kernels: int8 fully connected with `SXTB16` +
//! `SMLAD` (DSP extension) and f32 GEMV with `VFMA.F32` (FPv4-SP), through
//! `asm!` on stable Rust, bit-identical to the scalar references
//! (`gemv_i8::Scalar`, `gemv_f32::Scalar`).
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
//! On targets without the DSP extension this module is compiled only for the
//! host's unit tests, with a plain-Rust model of the assembly loops
//! (same staging layout, same blocking), so the blocking and tail logic is
//! swept on the host and the instructions themselves in QEMU
//! (`firmware/src/bin/kernel_test.rs`).
//!
//! # Files
//!
//! * `gemv_i8`: the int8 layer (staging, three-row blocking, tails).
//! * `requantize`: the row requantization, bit for bit the reference's.
//! * `gemv_f32`: the canonical f32 dot product and GEMV with `VFMA.F32`.
//! * `asm`: the DSP assembly loops (`cfg(axon_arm_dsp)`), or `model`: their
//!   plain-Rust model (host tests).

mod gemv_f32;
mod gemv_i8;
mod requantize;
#[cfg(test)]
mod tests;

#[cfg(axon_arm_dsp)]
mod asm;
#[cfg(axon_arm_dsp)]
use asm as imp;
#[cfg(not(axon_arm_dsp))]
mod model;
#[cfg(not(axon_arm_dsp))]
use model as imp;

use crate::kernels::kernel::{Kernel, KernelId};
use crate::kernels::reference::i8::FullyConnectedParams;

/// Inputs staged per chunk (i16 each: 128 bytes of stack).
pub const X_CHUNK: usize = 64;

/// Largest `|input_offset|` for which every `x + input_offset` fits an i16.
pub const MAX_INPUT_OFFSET: i32 = i16::MAX as i32 - i8::MAX as i32;

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
        gemv_f32::dot_f32(a, b)
    }

    #[inline]
    fn gemv_f32(self, w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
        gemv_f32::gemv_f32(w, x, b, y)
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
}
