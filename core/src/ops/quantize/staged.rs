//! Quantizing f32 inputs straight into a staged tensor, the packed fully
//! connected layer's input form ([`crate::graph::DType::Staged`]): the
//! quantize op's prepared variant. On a Cortex-M4F/M7 an assembly routine
//! quantizes whole groups of four (optionally standardising them first);
//! elsewhere, and for the last partial group, [`super::quantize_staged`]'s
//! plain loop does the same arithmetic.

use crate::graph::Quad;

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

/// The input routines in Thumb-2 DSP and FPv4 assembly.
#[cfg(all(axon_arm_dsp, target_abi = "eabihf"))]
mod imp {
    use crate::graph::Quad;

    /// The input routines' arguments (offsets fixed in them).
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

}

/// No input routine here (no DSP extension, or the soft-float ABI): it
/// stages nothing, so the caller's loop does it all.
#[cfg(not(all(axon_arm_dsp, target_abi = "eabihf")))]
mod imp {
    use crate::graph::Quad;

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
}

#[cfg(test)]
mod tests {
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

}
