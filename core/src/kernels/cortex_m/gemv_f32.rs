//! The canonical f32 order on Cortex-M: whole groups of sixteen with
//! `VFMA.F32` (FPv4-SP), bit-identical to the scalar reference.

use crate::kernels::reference::f32::{reduce_lanes, F32_LANES};

/// The canonical f32 dot product (see `gemv_f32`): 16 lanes, element `i` to
/// lane `i % 16` in increasing `i`, one fused multiply-add per step, then
/// the pairwise tree. Whole groups of sixteen run in [`fma_groups`]; the
/// tail (under sixteen elements) through `libm::fmaf`, as the reference.
#[inline]
pub(super) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
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
pub(super) fn gemv_f32(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
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
