//! The int8 dot-product kernel of the compiled engine
//! ([`crate::int8::compiled`]): four output rows at once over weights laid
//! out for it at export time, against inputs staged as i16.
//!
//! # Layout
//!
//! * **Weights** ([`Block`]): the rows in groups of four, each group's
//!   columns in groups of four; one block holds rows `4r..4r+4` × columns
//!   `4g..4g+4`, row after row (`[r0 c0..c3][r1 c0..c3][r2 …][r3 …]`), and
//!   a row group's blocks follow one another (`g = 0, 1, …`). Missing rows
//!   and columns are zero. 16 bytes, 4-byte aligned (for `LDRD`).
//! * **Inputs** ([`Quad`]): `x + input_offset` as i16, each group of four in
//!   `[x0, x2, x1, x3]` order — the halfword order `SXTB16` gives four
//!   packed weights (`SXTB16 w` → `[w0, w2]`, `SXTB16 w, ROR #8` →
//!   `[w1, w3]`). 8 bytes, 8-byte aligned.
//!
//! * **A layer** ([`PackedDense`]): per row group, one [`Block::bias`] block
//!   with its four biases, then its weight blocks ([`pack_layer`]);
//!   multipliers and right shifts (stored minus one) four per row group, or
//!   four equal ones per tensor.
//!
//! # Cost
//!
//! [`dot4`] per block, on a core with the DSP extension (Cortex-M4/M7,
//! `asm!`): three `LDRD` (four inputs, two rows of weights, two more rows),
//! eight `SXTB16`, eight `SMLAD` and the loop's `SUBS`/`BNE`: 21
//! instructions for 16 multiply-accumulates, 1.31 per MAC. The whole-layer
//! routine ([`PackedDense::run_double`], a naked assembly function with all
//! fourteen registers) loads four rows' weights with one `LDM` and runs two
//! column groups per pass: 38 instructions for 32 MACs, 1.18 per MAC
//! (`cargo xtask bench`), plus ≈ 19 per output row for the requantization,
//! clamp and staging. Everywhere else plain loops with the same arithmetic.
//!
//! # Why the bits agree
//!
//! `SMLAD` adds two exact 16×16-bit products to a 32-bit accumulator
//! modulo 2^32, and every product `w · (x + offset)` is exact in 32 bits;
//! the sum is the reference's wrapping sum in another order, and wrapping
//! addition is associative and commutative.

use core::marker::PhantomData;

/// Four rows × four columns of weights (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(4))]
pub struct Block(pub [i8; 16]);

impl Block {
    /// A row group's four biases as a block (little-endian words), the
    /// first block of each row group in a layer's stream ([`pack_layer`]).
    pub const fn bias(b: [i32; 4]) -> Block {
        let mut out = [0i8; 16];
        let mut k = 0;
        while k < 16 {
            out[k] = b[k / 4].to_le_bytes()[k % 4] as i8;
            k += 1;
        }
        Block(out)
    }

    /// The four biases of a bias block.
    pub fn biases(&self) -> [i32; 4] {
        core::array::from_fn(|i| {
            let b = &self.0[4 * i..4 * i + 4];
            i32::from_le_bytes([b[0] as u8, b[1] as u8, b[2] as u8, b[3] as u8])
        })
    }
}

/// Four staged inputs, `[x0, x2, x1, x3]` (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C, align(8))]
pub struct Quad(pub [i16; 4]);

/// Where input `i` sits in a staged buffer of [`Quad`]s, counted in i16:
/// groups of four in `[x0, x2, x1, x3]` order (bits 0 and 1 swapped).
#[inline(always)]
pub const fn staged_index(i: usize) -> usize {
    (i & !3) | ((i & 1) << 1) | ((i >> 1) & 1)
}

/// Accumulates rows `4r..4r+4` over `min(w.len(), x.len())` blocks:
/// `acc[k] += Σ_c w[4r+k, c] · x[c]`, modulo 2^32.
#[inline(always)]
pub fn dot4(w: &[Block], x: &[Quad], acc: [i32; 4]) -> [i32; 4] {
    let n = w.len().min(x.len());
    imp::dot4(w, x, n, acc)
}

/// The four rows' loop in Thumb-2 DSP assembly.
#[cfg(axon_arm_dsp)]
mod imp {
    use super::{Block, PackedDense, Quad};
    use core::arch::asm;

    #[inline(always)]
    pub(super) fn dense_double(
        l: &PackedDense<'_>,
        x: &[Quad],
        out: &mut [Quad],
        next_offset: i32,
    ) {
        // SAFETY: `PackedDense::new` checked that the stream holds
        // `rows · (groups + 1)` blocks, and the multipliers and shifts four
        // entries (per tensor: re-read for every row group) or four per row
        // group; `groups` and `rows` are ≥ 1; the caller checked
        // `x.len() ≥ groups` and `out.len() ≥ rows`. So every load and
        // store of the routine is inside those slices. `Block` is 4-byte and
        // `Quad` 8-byte aligned, as `LDM`/`LDRD`/`STRD` require. The routine
        // follows the AAPCS (saves r4–r11 and lr, touches no memory but
        // these and its own stack) and the DSP instructions exist on this
        // target.
        unsafe { dense_rows(l, x.as_ptr(), out.as_mut_ptr(), next_offset) }
    }

    /// The input routine's arguments (offsets fixed in it).
    #[cfg(target_abi = "eabihf")]
    #[repr(C)]
    struct Stage {
        /// 0: inputs.
        x: *const f32,
        /// 4: means, or null for no standardisation.
        mean: *const f32,
        /// 8: standard deviations.
        std: *const f32,
        /// 12: output quads.
        out: *mut Quad,
        /// 16: groups of four (≥ 1).
        groups: usize,
        /// 20: `2·zero point + 1`.
        c: i32,
        /// 24: the offset in both halfwords.
        off2: u32,
        /// 28: the input scale.
        scale: f32,
    }

    /// Without an FPU (soft-float ABI) the caller's loop stages them all.
    #[cfg(not(target_abi = "eabihf"))]
    #[inline(always)]
    pub(super) fn stage_groups(
        _x: &[f32],
        _standardize: Option<(&[f32], &[f32])>,
        _scale: f32,
        _zero_point: i32,
        _offset: i32,
        _out: &mut [Quad],
        _groups: usize,
    ) -> usize {
        0
    }

    #[cfg(target_abi = "eabihf")]
    #[inline(always)]
    pub(super) fn stage_groups(
        x: &[f32],
        standardize: Option<(&[f32], &[f32])>,
        scale: f32,
        zero_point: i32,
        offset: i32,
        out: &mut [Quad],
        groups: usize,
    ) -> usize {
        let (mean, std) = match standardize {
            Some((m, s)) => (m.as_ptr(), s.as_ptr()),
            None => (core::ptr::null(), core::ptr::null()),
        };
        let a = Stage {
            x: x.as_ptr(),
            mean,
            std,
            out: out.as_mut_ptr(),
            groups,
            c: zero_point.wrapping_mul(2).wrapping_add(1),
            off2: (offset as u32 & 0xffff) | ((offset as u32) << 16),
            scale,
        };
        // SAFETY: the caller (`super::stage_groups`) bounded `groups ≥ 1` by
        // `x.len() / 4`, `out.len()` and, with a standardisation, both of
        // its slices' lengths / 4, so every load and store is inside them;
        // `Quad` is 8-byte aligned for `STRD`, and `VLDM` of f32 needs 4.
        // The routine follows the AAPCS (saves r4–r8 and s16, which it uses) and the FPv4 and DSP instructions exist on this target.
        unsafe { stage_rows(&a) };
        4 * groups
    }

    /// See `stage_groups`: r0 = the `Stage`. Per group of four: `VLDM` the
    /// inputs (and means and deviations), subtract and divide, divide by
    /// the scale, `VCVT.S32.F32 #1`, then per value `q + zp = (k + [k ≥ 0]
    /// − 1 + 2·zp + 1) >> 1` as two saturating adds and a shift, `SSAT`,
    /// the four packed into bytes and widened to staged halfword order
    /// (`SXTB16`), the offset added (`SADD16`), one `STRD`.
    ///
    /// # Safety
    /// As `stage_groups`'s block.
    #[cfg(target_abi = "eabihf")]
    #[unsafe(naked)]
    unsafe extern "C" fn stage_rows(a: *const Stage) {
        core::arch::naked_asm!(
            // Naked functions are assembled without the target's FPU
            // features: name the Cortex-M4F's (FPv4-SP) explicitly.
            ".fpu fpv4-sp-d16",
            "push {{r4-r8, lr}}",
            "vpush {{s16}}",
            "ldm r0, {{r1-r4}}",
            "ldr r12, [r0, #16]",
            "ldrd r5, r6, [r0, #20]",
            "vldr s16, [r0, #28]",
            "1:",
            "vldmia r1!, {{s0-s3}}",
            "cmp r2, #0",
            "beq 2f",
            "vldmia r2!, {{s4-s7}}",
            "vldmia r3!, {{s8-s11}}",
            "vsub.f32 s0, s0, s4",
            "vsub.f32 s1, s1, s5",
            "vsub.f32 s2, s2, s6",
            "vsub.f32 s3, s3, s7",
            "vdiv.f32 s0, s0, s8",
            "vdiv.f32 s1, s1, s9",
            "vdiv.f32 s2, s2, s10",
            "vdiv.f32 s3, s3, s11",
            "2:",
            "vdiv.f32 s0, s0, s16",
            "vdiv.f32 s1, s1, s16",
            "vdiv.f32 s2, s2, s16",
            "vdiv.f32 s3, s3, s16",
            "vcvt.s32.f32 s0, s0, #1",
            "vcvt.s32.f32 s1, s1, #1",
            "vcvt.s32.f32 s2, s2, #1",
            "vcvt.s32.f32 s3, s3, #1",
            "vmov r7, r8, s0, s1",
            "asr r0, r7, #31",
            "qadd r7, r7, r0",
            "qadd r7, r7, r5",
            "asr r7, r7, #1",
            "ssat r7, #8, r7",
            "asr r0, r8, #31",
            "qadd r8, r8, r0",
            "qadd r8, r8, r5",
            "asr r8, r8, #1",
            "ssat r8, #8, r8",
            "bfi r7, r8, #8, #8",
            "vmov r8, lr, s2, s3",
            "asr r0, r8, #31",
            "qadd r8, r8, r0",
            "qadd r8, r8, r5",
            "asr r8, r8, #1",
            "ssat r8, #8, r8",
            "bfi r7, r8, #16, #8",
            "asr r0, lr, #31",
            "qadd lr, lr, r0",
            "qadd lr, lr, r5",
            "asr lr, lr, #1",
            "ssat lr, #8, lr",
            "bfi r7, lr, #24, #8",
            "sxtb16 r8, r7",
            "sxtb16 lr, r7, ror #8",
            "sadd16 r8, r8, r6",
            "sadd16 lr, lr, r6",
            "strd r8, lr, [r4], #8",
            "subs r12, #1",
            "bne 1b",
            "vpop {{s16}}",
            "pop {{r4-r8, pc}}",
        )
    }

    /// One column group of four rows: four staged inputs (`LDRD` into
    /// r8–r9), the four rows' four weights (`LDM` into r10–r12, lr), eight
    /// `SXTB16` through r0 and eight `SMLAD` into r4–r7.
    macro_rules! mac_group {
        () => {
            concat!(
                "ldrd r8, r9, [r2], #8\n",
                "ldm r1!, {{r10, r11, r12, lr}}\n",
                "sxtb16 r0, r10\n",
                "smlad r4, r0, r8, r4\n",
                "sxtb16 r0, r10, ror #8\n",
                "smlad r4, r0, r9, r4\n",
                "sxtb16 r0, r11\n",
                "smlad r5, r0, r8, r5\n",
                "sxtb16 r0, r11, ror #8\n",
                "smlad r5, r0, r9, r5\n",
                "sxtb16 r0, r12\n",
                "smlad r6, r0, r8, r6\n",
                "sxtb16 r0, r12, ror #8\n",
                "smlad r6, r0, r9, r6\n",
                "sxtb16 r0, lr\n",
                "smlad r7, r0, r8, r7\n",
                "sxtb16 r0, lr, ror #8\n",
                "smlad r7, r0, r9, r7\n",
            )
        };
    }

    /// Requantizes the accumulator `$acc` with multiplier `[r1 + $m]` and
    /// pre-shift `[r2 + $e]` (`super::requant_double`), adds the zero point
    /// and saturates to int8. r3 holds `2·zero point + 1`: the last step
    /// `((t >> pre) + 1) >> 1` plus the zero point is
    /// `((t >> pre) + 2·zp + 1) >> 1`, the add saturating (`QADD`) where
    /// it would overflow — only for `|t >> pre| > 2^31 − 256`, whose result
    /// saturates to −128 or 127 either way.
    macro_rules! requant_row {
        ($acc:literal, $m:literal, $e:literal) => {
            concat!(
                "ldr r8, [r1, #",
                $m,
                "]\n",
                "ldrb r9, [r2, #",
                $e,
                "]\n",
                "mov r10, #0x40000000\n",
                "mov r11, #0\n",
                "smlal r10, r11, ",
                $acc,
                ", r8\n",
                "lsr r10, r10, #31\n",
                "orr r10, r10, r11, lsl #1\n",
                "sub r10, r10, r10, lsr #31\n",
                "asr r10, r10, r9\n",
                "qadd r10, r10, r3\n",
                "asr ",
                $acc,
                ", r10, #1\n",
                "ssat ",
                $acc,
                ", #8, ",
                $acc,
                "\n",
            )
        };
    }

    /// The whole layer (see `PackedDense::run_double`): r0 = the `PackedDense`, r1 =
    /// staged input, r2 = output quads, r3 = next layer's input offset.
    /// Per row group: its bias block into r4–r7 (one `LDM`), the
    /// multiply-accumulate loop (one `LDRD` of four staged inputs, one `LDM`
    /// of four rows' four weights, eight `SXTB16`, eight `SMLAD`), the four
    /// requantizations, then the four codes packed into one word's bytes,
    /// clamped (when the layer has a clamp) with two `SSUB8`/`SEL` pairs, widened back to halfwords in staged order by `SXTB16` (bytes
    /// 0 and 2, then 1 and 3), the offset added to both halves (`SADD16`),
    /// one `STRD`. Loop state on the stack: [sp] stream, [sp+4]
    /// multipliers, [sp+8] shifts, [sp+12] output, [sp+16] row groups left,
    /// [sp+20] input, [sp+24] the offset in both halfwords, [sp+28] the
    /// `PackedDense`, [sp+32] `2·zero point + 1`.
    ///
    /// # Safety
    /// As `dense_double`'s block.
    #[unsafe(naked)]
    unsafe extern "C" fn dense_rows(l: &PackedDense<'_>, x: *const Quad, out: *mut Quad, off: i32) {
        core::arch::naked_asm!(
            "push {{r4-r11, lr}}",
            "sub sp, #36",
            "ldm r0, {{r4-r6}}",
            "stm sp, {{r4-r6}}",
            "ldrh r4, [r0, #14]",
            "strd r2, r4, [sp, #12]",
            "pkhbt r3, r3, r3, lsl #16",
            "strd r1, r3, [sp, #20]",
            "ldrsb r4, [r0, #17]",
            "lsl r4, r4, #1",
            "add r4, r4, #1",
            "strd r0, r4, [sp, #28]",
            "1:",
            "ldr r1, [sp]",
            "ldm r1!, {{r4-r7}}",
            "ldr r2, [sp, #20]",
            // Two groups per pass; an odd count enters at the second.
            "ldrh r3, [r0, #12]",
            "adds r3, #1",
            "lsrs r3, r3, #1",
            "bcc 3f",
            "2:",
            mac_group!(),
            "3:",
            mac_group!(),
            "subs r3, #1",
            "bne 2b",
            "str r1, [sp]",
            // Requantize the four rows.
            "ldrd r1, r2, [sp, #4]",
            "ldrd r0, r3, [sp, #28]",
            requant_row!("r4", "0", "0"),
            requant_row!("r5", "4", "1"),
            requant_row!("r6", "8", "2"),
            requant_row!("r7", "12", "3"),
            // Per channel (flag bit 0): the next row group's multipliers
            // and shifts.
            "ldrb r3, [r0, #16]",
            "lsrs r3, r3, #1",
            "bcc 4f",
            "adds r1, #16",
            "adds r2, #4",
            "strd r1, r2, [sp, #4]",
            "4:",
            // Pack; clamp (flag bit 1); widen in staged order, offset, store.
            "bfi r4, r5, #8, #8",
            "bfi r4, r6, #16, #8",
            "bfi r4, r7, #24, #8",
            "cbz r3, 5f",
            "ldrd r8, r9, [r0, #20]",
            "ssub8 r5, r4, r8",
            "sel r4, r4, r8",
            "ssub8 r5, r4, r9",
            "sel r4, r9, r4",
            "5:",
            "ldr r8, [sp, #24]",
            "sxtb16 r5, r4",
            "sxtb16 r6, r4, ror #8",
            "sadd16 r5, r5, r8",
            "sadd16 r6, r6, r8",
            "ldr r8, [sp, #12]",
            "strd r5, r6, [r8], #8",
            "str r8, [sp, #12]",
            // Next row group.
            "ldr r1, [sp, #16]",
            "subs r1, #1",
            "str r1, [sp, #16]",
            "bne 1b",
            "add sp, #36",
            "pop {{r4-r11, pc}}",
        )
    }

    #[inline(always)]
    pub(super) fn dot4(w: &[Block], x: &[Quad], n: usize, acc: [i32; 4]) -> [i32; 4] {
        let [mut a0, mut a1, mut a2, mut a3] = acc;
        // SAFETY: `n ≤ w.len()` and `n ≤ x.len()` (the caller takes the
        // minimum), so the loop reads n blocks of 16 bytes from `w` and n
        // quads of 8 bytes from `x`, inside both slices; `Block` is 4-byte
        // and `Quad` 8-byte aligned, as `LDRD` requires. The DSP
        // instructions exist on this target (cfg axon_arm_dsp).
        unsafe {
            asm!(
                "cmp {n}, #0",
                "beq 3f",
                "2:",
                "ldrd {xa}, {xb}, [{xp}], #8",
                "ldrd {w0}, {w1}, [{wp}], #8",
                "sxtb16 {t}, {w0}",
                "smlad {a0}, {t}, {xa}, {a0}",
                "sxtb16 {t}, {w0}, ror #8",
                "smlad {a0}, {t}, {xb}, {a0}",
                "sxtb16 {t}, {w1}",
                "smlad {a1}, {t}, {xa}, {a1}",
                "sxtb16 {t}, {w1}, ror #8",
                "smlad {a1}, {t}, {xb}, {a1}",
                "ldrd {w0}, {w1}, [{wp}], #8",
                "sxtb16 {t}, {w0}",
                "smlad {a2}, {t}, {xa}, {a2}",
                "sxtb16 {t}, {w0}, ror #8",
                "smlad {a2}, {t}, {xb}, {a2}",
                "sxtb16 {t}, {w1}",
                "smlad {a3}, {t}, {xa}, {a3}",
                "sxtb16 {t}, {w1}, ror #8",
                "smlad {a3}, {t}, {xb}, {a3}",
                "subs {n}, {n}, #1",
                "bne 2b",
                "3:",
                wp = inout(reg) w.as_ptr() => _,
                xp = inout(reg) x.as_ptr() => _,
                n = inout(reg) n => _,
                a0 = inout(reg) a0,
                a1 = inout(reg) a1,
                a2 = inout(reg) a2,
                a3 = inout(reg) a3,
                xa = out(reg) _,
                xb = out(reg) _,
                w0 = out(reg) _,
                w1 = out(reg) _,
                t = out(reg) _,
                options(nostack, readonly),
            );
        }
        [a0, a1, a2, a3]
    }
}

/// The same loop in plain Rust (every target without the DSP extension,
/// and the host's reference for the assembly).
#[cfg(not(axon_arm_dsp))]
mod imp {
    use super::{Block, PackedDense, Quad};

    #[inline(always)]
    pub(super) fn dense_double(
        l: &PackedDense<'_>,
        x: &[Quad],
        out: &mut [Quad],
        next_offset: i32,
    ) {
        l.run_with(x, out, next_offset, super::requant_double);
    }

    /// No assembly here: the caller's loop stages every input.
    #[inline(always)]
    pub(super) fn stage_groups(
        _x: &[f32],
        _standardize: Option<(&[f32], &[f32])>,
        _scale: f32,
        _zero_point: i32,
        _offset: i32,
        _out: &mut [Quad],
        _groups: usize,
    ) -> usize {
        0
    }

    #[inline(always)]
    pub(super) fn dot4(w: &[Block], x: &[Quad], n: usize, acc: [i32; 4]) -> [i32; 4] {
        let mut acc = acc;
        for (b, q) in w.iter().zip(x).take(n) {
            // Staged order [x0, x2, x1, x3] back to columns 0..4.
            let xs = [q.0[0], q.0[2], q.0[1], q.0[3]];
            for (k, a) in acc.iter_mut().enumerate() {
                for (c, &xv) in xs.iter().enumerate() {
                    let wv = b.0[4 * k + c] as i32;
                    *a = a.wrapping_add(wv.wrapping_mul(xv as i32));
                }
            }
        }
        acc
    }
}

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
    /// 4: four multipliers (per tensor) or four per row group.
    multiplier: *const i32,
    /// 8: the matching right shifts minus one.
    pre_shift: *const u8,
    /// 12: column groups (weight blocks per row group), ≥ 1.
    groups: u16,
    /// 14: row groups, ≥ 1.
    rows: u16,
    /// 16: bit 0 set when the multipliers and shifts are per channel, bit 1
    /// when the clamp is narrower than the int8 range.
    flags: u8,
    /// 17: output zero point.
    output_offset: i8,
    /// 18, 19: the clamp.
    act_min: i8,
    act_max: i8,
    /// 20: the clamp's lower end in each byte (for `SSUB8`/`SEL`).
    min4: u32,
    /// 24: its upper end in each byte.
    max4: u32,
    borrow: PhantomData<&'a [Block]>,
}

// SAFETY: the pointers come from shared slices that live for 'a and are
// only read; the type is as shareable as those `&'a [T]` are.
unsafe impl Sync for PackedDense<'_> {}
// SAFETY: as above.
unsafe impl Send for PackedDense<'_> {}

impl<'a> PackedDense<'a> {
    /// A `(outputs, inputs)` layer: `stream` from [`pack_layer`] (each row
    /// group's four biases, then its weight blocks); `multiplier` and
    /// `pre_shift` four equal entries (per tensor) or one per output padded
    /// to a multiple of four (per channel), multipliers `≥ 0`, each right
    /// shift `e` in `1..=31` stored as `e − 1`; the output zero point and
    /// the clamp.
    ///
    /// # Panics
    /// On inconsistent lengths or ranges, or more than 65,535 row or column
    /// groups. In a `static` initializer that is a compile error.
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        inputs: usize,
        outputs: usize,
        stream: &'a [Block],
        multiplier: &'a [i32],
        pre_shift: &'a [u8],
        output_offset: i8,
        act_min: i8,
        act_max: i8,
    ) -> Self {
        assert!(
            inputs > 0 && outputs > 0,
            "a layer needs inputs and outputs"
        );
        let (groups, rows) = (inputs.div_ceil(4), outputs.div_ceil(4));
        assert!(groups < 0xffff && rows <= 0xffff, "layer too wide");
        assert!(
            stream.len() == stream_len(outputs, inputs),
            "stream: per row group, one bias block and one block per 4 columns"
        );
        let channels = multiplier.len();
        assert!(
            pre_shift.len() == channels && (channels == 4 || channels == 4 * rows),
            "multiplier and shift: four (per tensor, repeated) or four per row group"
        );
        let per_channel = channels > 4;
        let mut i = 0;
        while i < channels {
            assert!(multiplier[i] >= 0, "multipliers are non-negative");
            assert!(pre_shift[i] <= 30, "right shifts are 1..=31");
            // One row group reads its four entries either way.
            assert!(
                per_channel
                    || rows == 1
                    || (multiplier[i] == multiplier[0] && pre_shift[i] == pre_shift[0]),
                "per tensor: four equal entries"
            );
            i += 1;
        }
        assert!(act_min <= act_max, "empty clamp");
        PackedDense {
            stream: stream.as_ptr(),
            multiplier: multiplier.as_ptr(),
            pre_shift: pre_shift.as_ptr(),
            groups: groups as u16,
            rows: rows as u16,
            flags: per_channel as u8 | (((act_min > -128 || act_max < 127) as u8) << 1),
            output_offset,
            act_min,
            act_max,
            min4: (act_min as u8 as u32) * 0x0101_0101,
            max4: (act_max as u8 as u32) * 0x0101_0101,
            borrow: PhantomData,
        }
    }

    /// Quads of staged input the layer reads.
    pub const fn input_quads(&self) -> usize {
        self.groups as usize
    }

    /// Quads of staged output the layer writes.
    pub const fn output_quads(&self) -> usize {
        self.rows as usize
    }

    /// The constants as slices again.
    fn slices(&self) -> (&'a [Block], &'a [i32], &'a [u8]) {
        let (g, r) = (self.groups as usize, self.rows as usize);
        let channels = if self.flags & 1 != 0 { 4 * r } else { 4 };
        // SAFETY: `new` took these pointers from slices of exactly these
        // lengths that live for 'a (the `borrow` marker), and nothing
        // writes through them.
        unsafe {
            (
                core::slice::from_raw_parts(self.stream, (g + 1) * r),
                core::slice::from_raw_parts(self.multiplier, channels),
                core::slice::from_raw_parts(self.pre_shift, channels),
            )
        }
    }

    /// The layer with double rounding: for each row group `r`, the four
    /// rows' dot products with the staged input `x`, requantized
    /// ([`requant_double`] plus the output offset, clamped to the int8
    /// range and the clamp), plus `next_offset`, staged into `out[r]` as
    /// `[r0, r2, r1, r3]` (the next layer's input order; `next_offset` 0
    /// keeps the codes). Does nothing when `x` or `out` is shorter than
    /// [`input_quads`](Self::input_quads) / [`output_quads`](Self::output_quads).
    ///
    /// On a core with the DSP extension one assembly routine does it all
    /// (row loop, multiply-accumulates, requantization, staging) in
    /// registers; elsewhere the same arithmetic in plain Rust.
    #[inline(always)]
    pub fn run_double(&self, x: &[Quad], out: &mut [Quad], next_offset: i32) {
        if x.len() >= self.groups as usize && out.len() >= self.rows as usize {
            imp::dense_double(self, x, out, next_offset);
        }
    }

    /// [`run_double`](Self::run_double) with another requantization
    /// (`requant(acc, m, pre)` before the output offset and clamp, for the
    /// right shift `pre + 1`), in plain Rust on every target.
    pub fn run_with(
        &self,
        x: &[Quad],
        out: &mut [Quad],
        next_offset: i32,
        requant: impl Fn(i32, i32, u32) -> i32,
    ) {
        let (stream, multiplier, pre_shift) = self.slices();
        let groups = self.groups as usize;
        let Some(x) = x.get(..groups) else {
            return;
        };
        let (act_min, act_max) = (self.act_min as i32, self.act_max as i32);
        let rows = stream
            .chunks_exact(groups + 1)
            .filter_map(|g| g.split_first());
        for (r, ((b, w), o)) in rows.zip(out.iter_mut()).enumerate() {
            let acc = dot4(w, x, b.biases());
            let base = if self.flags & 1 != 0 { 4 * r } else { 0 };
            let codes: [i32; 4] = core::array::from_fn(|k| {
                let m = multiplier.get(base + k).copied().unwrap_or(0);
                let pre = pre_shift.get(base + k).copied().unwrap_or(0) as u32;
                let v = requant(acc[k], m, pre)
                    .wrapping_add(self.output_offset as i32)
                    .clamp(-128, 127);
                v.max(act_min).min(act_max)
            });
            o.0 = [codes[0], codes[2], codes[1], codes[3]]
                .map(|v| v.wrapping_add(next_offset) as i16);
        }
    }
}

/// Quantizes whole groups of four float inputs straight into staged
/// quads: for input `i`, `v = (x[i] − mean[i]) / std[i]` (or `x[i]` without
/// a standardisation), then TFLite's `Quantize` (`round(v / scale)`, half
/// away from zero, `+ zero_point`, saturated to int8), `+ offset` at
/// [`staged_index`]`(i)`. Returns how many inputs it staged: on a core with
/// the DSP extension every whole group (an assembly routine), elsewhere
/// none (the caller's plain loop does them, with the same bits).
///
/// The routine rounds as `q = (k + [k ≥ 0]) >> 1` (arithmetic shift) with
/// `k = trunc(2v)` from one `VCVT.S32.F32 #1` (fixed point, one fraction
/// bit, saturating): `round_half_away(v) = sign(v)·⌊(⌊2|v|⌋ + 1)/2⌋`
/// because `⌊(⌊z⌋ + 1)/2⌋ = ⌊(z + 1)/2⌋`; a NaN gives `k = 0` and `q = 0`
/// as `as i32` does; saturated `k` saturate `q` the same way.
pub fn stage_groups(
    x: &[f32],
    standardize: Option<(&[f32], &[f32])>,
    scale: f32,
    zero_point: i32,
    offset: i32,
    out: &mut [Quad],
) -> usize {
    let groups = (x.len() / 4).min(out.len());
    let groups = match standardize {
        Some((m, s)) => groups.min(m.len() / 4).min(s.len() / 4),
        None => groups,
    };
    if groups == 0 {
        return 0;
    }
    imp::stage_groups(x, standardize, scale, zero_point, offset, out, groups)
}

/// The number of [`Block`]s in a layer's stream ([`pack_layer`]).
pub const fn stream_len(rows: usize, cols: usize) -> usize {
    rows.div_ceil(4) * (cols.div_ceil(4) + 1)
}

/// A layer's stream for [`PackedDense`]: per row group, its four biases as one
/// block ([`Block::bias`]; missing rows 0), then its weight blocks as
/// the module documentation lays them out (row after row of each 4×4
/// block). `out` must hold [`stream_len`] blocks.
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

    /// The assembly input routine's rounding, modelled in Rust.
    fn quantize_via_trunc2(v: f32, scale: f32, zp: i32) -> i8 {
        let k = (2.0 * (v / scale)) as i32; // VCVT.S32.F32 #1: trunc(2v), saturating
        let q = k.saturating_add(k >> 31).saturating_add(2 * zp + 1) >> 1;
        q.clamp(-128, 127) as i8
    }

    #[test]
    fn trunc2_rounding_equals_tflite_quantize() {
        use crate::quant::QuantParams;
        let mut s = 0x1234_5678_9abc_def1u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let specials = [
            0.0f32,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            1e-45,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            127.5,
            -128.5,
            0.49999997,
            -0.49999997,
        ];
        for zp in [-128, -3, 0, 5, 127] {
            for scale in [1.0f32, 0.5, 0.062745098, 0.013841148, 3.0] {
                let p = QuantParams::new(scale, zp);
                for &v in &specials {
                    let x = v * scale;
                    assert_eq!(
                        quantize_via_trunc2(x, scale, zp),
                        p.quantize(x),
                        "{x} {scale} {zp}"
                    );
                }
                for _ in 0..if cfg!(miri) { 20 } else { 20_000 } {
                    let x = match next() % 3 {
                        0 => f32::from_bits(next() as u32),
                        1 => (next() % 1_000_000) as f32 / 1000.0 - 500.0,
                        // Exact halves of the scale: ties.
                        _ => ((next() % 600) as f32 - 300.0 + 0.5) * scale,
                    };
                    assert_eq!(
                        quantize_via_trunc2(x, scale, zp),
                        p.quantize(x),
                        "{x} {scale} {zp}"
                    );
                }
            }
        }
    }

    #[test]
    fn staged_index_swaps_the_middle_pair() {
        let got: [usize; 8] = core::array::from_fn(staged_index);
        assert_eq!(got, [0, 2, 1, 3, 4, 6, 5, 7]);
    }

    proptest! {
        // Under Miri the compiled engine's tests cover this code (proptest
        // needs the file system for its failure persistence).
        #[test]
        #[cfg_attr(miri, ignore)]
        fn packed_layer_rows_equal_the_plain_dot_products_plus_bias(
            rows in 1usize..=13,
            cols in 1usize..=37,
            seed in any::<u64>(),
        ) {
            let mut s = seed | 1;
            let mut next = || {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s
            };
            let w: Vec<i8> = (0..rows * cols).map(|_| next() as i8).collect();
            let x: Vec<i16> = (0..cols).map(|_| (next() % 384) as i16 - 128).collect();
            let bias: Vec<i32> = (0..rows).map(|_| next() as i32).collect();
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
                let got = dot4(blocks, &quads, b.biases());
                let want: [i32; 4] = core::array::from_fn(|k| {
                    let bias = bias.get(4 * r + k).copied().unwrap_or(0);
                    reference(&w, rows, cols, &x, 4 * r)[k].wrapping_add(bias)
                });
                prop_assert_eq!(got, want);
            }
        }
    }
}
