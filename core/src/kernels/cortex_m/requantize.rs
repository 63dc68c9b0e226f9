//! The per-row requantization of the Cortex-M int8 kernel, bit for bit
//! [`FullyConnectedParams::requantize`] with fewer instructions.

use crate::kernels::reference::i8::FullyConnectedParams;
use crate::quant::{rounding_divide_by_pot, Rounding};

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
pub(super) fn requantize(p: &FullyConnectedParams<'_>, acc: i32, c: usize) -> i8 {
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
pub(super) struct RowRequant<'p, 'a> {
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
    pub(super) fn new(p: &'p FullyConnectedParams<'a>, rows: usize) -> Self {
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
    pub(super) fn row(&self, acc: i32, c: usize) -> i8 {
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
