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
//! group (the single-rounding mode's kernel). Everywhere else plain loops
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

/// Four rows × four columns of weights (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Four staged inputs, `2·(x + offset)` in `[x0, x2, x1, x3]` order (see
/// the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C, align(8))]
pub struct Quad(pub [i16; 4]);

/// One row group's requantization constants (per tensor: the layer's,
/// four times): the four right shifts minus one, then the four
/// multipliers — the order one `LDM` loads them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    use super::{Block, PackedDense, Quad, Scale};
    use core::arch::asm;
    use core::mem::{offset_of, size_of};

    // The offsets the layer routine reads.
    const _: () = {
        assert!(offset_of!(PackedDense<'_>, stream) == 0);
        assert!(offset_of!(PackedDense<'_>, scale) == 4);
        assert!(offset_of!(PackedDense<'_>, groups) == 8);
        assert!(offset_of!(PackedDense<'_>, rows) == 10);
        assert!(offset_of!(PackedDense<'_>, scale_stride) == 12);
        assert!(offset_of!(PackedDense<'_>, output_offset) == 13);
        assert!(offset_of!(PackedDense<'_>, act_min) == 14);
        assert!(offset_of!(PackedDense<'_>, act_max) == 15);
        assert!(size_of::<PackedDense<'_>>() == 20);
        assert!(offset_of!(Scale, m) == 4 && size_of::<Scale>() == 20);
    };

    #[inline(always)]
    pub(super) fn dense_double(l: &PackedDense<'_>, x: &[Quad], out: &mut [Quad]) {
        // SAFETY: `PackedDense::new` checked that the stream holds
        // `rows · (groups + 1)` blocks and the scales one (stride 0) or
        // `rows` (stride 20) entries; `groups` and `rows` are ≥ 1; the
        // caller checked `x.len() ≥ groups` and `out.len() ≥ rows`. So
        // every load and store of the routine is inside those slices.
        // `Block` and `Scale` are 4-byte and `Quad` 8-byte aligned, as
        // `LDM`/`LDRD`/`STRD` require. The routine follows the AAPCS (saves
        // r4–r11 and lr, touches no memory but these and its own stack) and
        // the DSP instructions exist on this target.
        unsafe { dense_rows(l, x.as_ptr(), out.as_mut_ptr()) }
    }

    /// The input routines' arguments (offsets fixed in them).
    #[cfg(target_abi = "eabihf")]
    #[repr(C)]
    struct Stage {
        /// 0: inputs.
        x: *const f32,
        /// 4: output quads.
        out: *mut Quad,
        /// 8: groups of four (≥ 1).
        groups: usize,
        /// 12: `2·zero point + 1`.
        c: i32,
        /// 16: the offset in both halfwords.
        off2: u32,
        /// 20: the input scale.
        scale: f32,
        /// 24: means (read only by `stage_rows_std`).
        mean: *const f32,
        /// 28: standard deviations (likewise).
        std: *const f32,
    }

    /// Without an FPU (soft-float ABI) the caller's loop stages them all.
    #[cfg(not(target_abi = "eabihf"))]
    pub(super) use super::stage_none as stage_groups;

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
            out: out.as_mut_ptr(),
            groups,
            c: zero_point.wrapping_mul(2).wrapping_add(1),
            off2: (offset as u32 & 0xffff) | ((offset as u32) << 16),
            scale,
            mean,
            std,
        };
        // SAFETY: the caller (`super::stage_groups`) bounded `groups ≥ 1` by
        // `x.len() / 4`, `out.len()` and, with a standardisation, both of
        // its slices' lengths / 4, so every load and store is inside them;
        // `Quad` is 8-byte aligned for `STRD`, and `VLDM` of f32 needs 4.
        // The routines follow the AAPCS (save r4–r8 and s16, which they
        // use) and the FPv4 and DSP instructions exist on this target. Only
        // the one a model uses is linked.
        unsafe {
            if standardize.is_some() {
                stage_rows_std(&a)
            } else {
                stage_rows(&a)
            }
        };
        4 * groups
    }

    /// The four values in s0–s3, divided by the scale (s16), rounded,
    /// offset by the zero point and saturated, packed and staged: per
    /// value `(k − [k < 0] + 2·zp + 1) >> 1` with `k = trunc(2v)` from
    /// `VCVT.S32.F32 #1` (two saturating adds, `SSAT` with the shift), the
    /// four bytes widened into staged halfword order with the offset added
    /// (`SXTAB16`), doubled (`SADD16`), one `STRD` to r4; the group
    /// counter r12 counted down.
    #[cfg(target_abi = "eabihf")]
    macro_rules! stage_quad {
        () => {
            concat!(
                "vdiv.f32 s0, s0, s16\n",
                "vdiv.f32 s1, s1, s16\n",
                "vdiv.f32 s2, s2, s16\n",
                "vdiv.f32 s3, s3, s16\n",
                "vcvt.s32.f32 s0, s0, #1\n",
                "vcvt.s32.f32 s1, s1, #1\n",
                "vcvt.s32.f32 s2, s2, #1\n",
                "vcvt.s32.f32 s3, s3, #1\n",
                "vmov r7, r8, s0, s1\n",
                "asr r0, r7, #31\n",
                "qadd r7, r7, r0\n",
                "qadd r7, r7, r5\n",
                "ssat r7, #8, r7, asr #1\n",
                "asr r0, r8, #31\n",
                "qadd r8, r8, r0\n",
                "qadd r8, r8, r5\n",
                "ssat r8, #8, r8, asr #1\n",
                "bfi r7, r8, #8, #8\n",
                "vmov r8, lr, s2, s3\n",
                "asr r0, r8, #31\n",
                "qadd r8, r8, r0\n",
                "qadd r8, r8, r5\n",
                "ssat r8, #8, r8, asr #1\n",
                "bfi r7, r8, #16, #8\n",
                "asr r0, lr, #31\n",
                "qadd lr, lr, r0\n",
                "qadd lr, lr, r5\n",
                "ssat lr, #8, lr, asr #1\n",
                "bfi r7, lr, #24, #8\n",
                "sxtab16 r8, r6, r7\n",
                "sxtab16 lr, r6, r7, ror #8\n",
                "sadd16 r8, r8, r8\n",
                "sadd16 lr, lr, lr\n",
                "strd r8, lr, [r4], #8\n",
                "subs r12, #1\n",
            )
        };
    }

    /// The input routines' entry: the FPU named (naked functions are
    /// assembled without the target's FPU features; the Cortex-M4F's is
    /// FPv4-SP), r4–r8, lr and s16 saved, the `Stage` loaded: r1 inputs,
    /// r4 output, r12 groups, r5 `2·zp + 1`, r6 offset pair, s16 scale.
    #[cfg(target_abi = "eabihf")]
    macro_rules! stage_enter {
        () => {
            concat!(
                ".fpu fpv4-sp-d16\n",
                "push {{r4-r8, lr}}\n",
                "vpush {{s16}}\n",
                "ldm r0, {{r1, r4, r12}}\n",
                "ldrd r5, r6, [r0, #12]\n",
                "vldr s16, [r0, #20]\n",
            )
        };
    }

    /// The input routines' exit.
    #[cfg(target_abi = "eabihf")]
    macro_rules! stage_leave {
        () => {
            concat!("vpop {{s16}}\n", "pop {{r4-r8, pc}}\n")
        };
    }

    /// See `stage_groups`: r0 = the `Stage`. Per group of four: `VLDM` the
    /// inputs, then `stage_quad!`.
    ///
    /// # Safety
    /// As `stage_groups`'s block.
    #[cfg(target_abi = "eabihf")]
    #[unsafe(naked)]
    unsafe extern "C" fn stage_rows(a: *const Stage) {
        core::arch::naked_asm!(
            stage_enter!(),
            "1:",
            "vldmia r1!, {{s0-s3}}",
            stage_quad!(),
            "bne 1b",
            stage_leave!(),
        )
    }

    /// `stage_rows` with a standardisation: per group, `VLDM` the inputs,
    /// means and deviations, subtract and divide, then `stage_quad!`.
    ///
    /// # Safety
    /// As `stage_groups`'s block.
    #[cfg(target_abi = "eabihf")]
    #[unsafe(naked)]
    unsafe extern "C" fn stage_rows_std(a: *const Stage) {
        core::arch::naked_asm!(
            stage_enter!(),
            "ldrd r2, r3, [r0, #24]",
            "1:",
            "vldmia r1!, {{s0-s3}}",
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
            stage_quad!(),
            "bne 1b",
            stage_leave!(),
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

    /// Requantizes the doubled accumulator `$acc` with multiplier `$m`
    /// and the right shift minus one in r2's low byte
    /// (`super::requant_doubled`), adds the zero point and saturates to
    /// int8, in place. r3 holds `2·zero point + 1`: the last step
    /// `((t >> pre) + 1) >> 1` plus the zero point is
    /// `((t >> pre) + 2·zp + 1) >> 1`. The add cannot overflow: the
    /// accumulator is below 2^30 in magnitude (`PackedDense::new`) and the
    /// multiplier below 2^31, so `|t| < 2^30`.
    macro_rules! requant_row {
        ($acc:literal, $m:literal) => {
            concat!(
                "smmulr r1, ",
                $acc,
                ", ",
                $m,
                "\n",
                "sub r1, r1, r1, lsr #31\n",
                "asrs r1, r2\n",
                "adds r1, r3\n",
                "ssat ",
                $acc,
                ", #8, r1, asr #1\n",
            )
        };
    }

    /// The whole layer (see `PackedDense::run_double`): r0 = the
    /// `PackedDense`, r1 = staged input, r2 = output quads. Per row group: its bias block into r4–r7 (one
    /// `LDM`), the multiply-accumulate loop (`mac_group!`), its `Scale`
    /// (one `LDM`: the shifts' word into r2, the multipliers into r8–r11),
    /// the four requantizations (`requant_row!`), then the four codes
    /// packed into one word's bytes, clamped with two `SSUB8`/`SEL` pairs,
    /// widened back to halfwords in staged order with the offset added
    /// (`SXTAB16`: bytes 0 and 2, then 1 and 3; the offset is minus the
    /// zero point), doubled (`SADD16`), one
    /// `STRD`. Loop state on the stack: [sp] stream, [sp+4] scale,
    /// [sp+8] scale stride, [sp+12] `2·zero point + 1`, [sp+16] row groups
    /// left, [sp+20] input, [sp+24] column groups, [sp+28] the offset in
    /// both halfwords, [sp+32] output, [sp+36] the clamp's ends in each
    /// byte.
    ///
    /// # Safety
    /// As `dense_double`'s block.
    #[unsafe(naked)]
    unsafe extern "C" fn dense_rows(l: &PackedDense<'_>, x: *const Quad, out: *mut Quad) {
        core::arch::naked_asm!(
            "push {{r4-r11, lr}}",
            "sub sp, #44",
            "ldrd r4, r5, [r0]",
            "ldrb r6, [r0, #12]",
            "ldrsb r7, [r0, #13]",
            "rsbs r3, r7, #0",
            "lsls r7, r7, #1",
            "adds r7, #1",
            "ldrh r8, [r0, #10]",
            "stm sp, {{r4-r8}}",
            "ldrh r4, [r0, #8]",
            "strd r1, r4, [sp, #20]",
            "pkhbt r3, r3, r3, lsl #16",
            "strd r3, r2, [sp, #28]",
            // The clamp's ends in each byte.
            "ldrb r4, [r0, #14]",
            "ldrb r5, [r0, #15]",
            "mov r6, #0x01010101",
            "muls r4, r6, r4",
            "muls r5, r6, r5",
            "strd r4, r5, [sp, #36]",
            "1:",
            "ldr r1, [sp]",
            "ldm r1!, {{r4-r7}}",
            "ldrd r2, r3, [sp, #20]",
            "2:",
            mac_group!(),
            "subs r3, #1",
            "bne 2b",
            "str r1, [sp]",
            // The row group's scale; per channel the next one after it.
            "ldrd r0, r1, [sp, #4]",
            "ldm r0, {{r2, r8-r11}}",
            "add r0, r1",
            "str r0, [sp, #4]",
            "ldr r3, [sp, #12]",
            requant_row!("r4", "r8"),
            "lsrs r2, r2, #8",
            requant_row!("r5", "r9"),
            "lsrs r2, r2, #8",
            requant_row!("r6", "r10"),
            "lsrs r2, r2, #8",
            requant_row!("r7", "r11"),
            // Pack, clamp, widen in staged order with the offset, double,
            // store.
            "bfi r4, r5, #8, #8",
            "bfi r4, r6, #16, #8",
            "bfi r4, r7, #24, #8",
            "ldrd r8, r9, [sp, #36]",
            "ssub8 r5, r4, r8",
            "sel r4, r4, r8",
            "ssub8 r5, r4, r9",
            "sel r4, r9, r4",
            "ldrd r8, r1, [sp, #28]",
            "sxtab16 r5, r8, r4",
            "sxtab16 r6, r8, r4, ror #8",
            "sadd16 r5, r5, r5",
            "sadd16 r6, r6, r6",
            "strd r5, r6, [r1], #8",
            "str r1, [sp, #32]",
            // Next row group.
            "ldr r1, [sp, #16]",
            "subs r1, #1",
            "str r1, [sp, #16]",
            "bne 1b",
            "add sp, #44",
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
    pub(super) fn dense_double(l: &PackedDense<'_>, x: &[Quad], out: &mut [Quad]) {
        l.run_doubled_with(x, out, super::requant_doubled);
    }

    /// No assembly here: the caller's loop stages every input.
    pub(super) use super::stage_none as stage_groups;

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
        if inputs == 0 || outputs == 0 {
            return Err("a layer needs inputs and outputs");
        }
        if inputs > 0xffff || outputs > 0xffff {
            return Err("a layer has at most 65,535 inputs and outputs");
        }
        let (groups, rows) = (inputs.div_ceil(4), outputs.div_ceil(4));
        if stream.len() != stream_len(outputs, inputs) {
            return Err("stream: per row group, one bias block and one block per 4 columns");
        }
        if !(scale.len() == 1 || scale.len() == rows) {
            return Err("scales: one (per tensor) or one per row group");
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
        while r < rows {
            let base = r * (groups + 1);
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

/// `stage_groups` where there is no input routine (no DSP extension, or
/// the soft-float ABI): stages nothing, so the caller's loop does it all.
#[cfg(not(all(axon_arm_dsp, target_abi = "eabihf")))]
#[inline(always)]
fn stage_none(
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

/// Quantizes whole groups of four float inputs straight into staged
/// quads: for input `i`, `v = (x[i] − mean[i]) / std[i]` (or `x[i]` without
/// a standardisation), then TFLite's `Quantize` (`round(v / scale)`, half
/// away from zero, `+ zero_point`, saturated to int8), staged as
/// `2·(q + offset)` at [`staged_index`]`(i)`. Returns how many inputs it
/// staged: on a core with the DSP extension every whole group (an
/// assembly routine), elsewhere none (the caller's plain loop does them,
/// with the same bits).
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
        let mut rng = crate::test_rng::Rng(0x1234_5678_9abc_def1u64);
        let mut next = || rng.next();
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
        // Under Miri the compiled engine's tests cover this code (proptest
        // needs the file system for its failure persistence).
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
