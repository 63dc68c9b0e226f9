//! The packed layer in Thumb-2 DSP assembly (`SXTB16`/`SMLAD`): the
//! whole-layer routine and the four-row loop.

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
