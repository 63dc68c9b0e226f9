//! The three loops in Thumb-2 DSP assembly.

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
