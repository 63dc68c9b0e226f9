//! x86-64 AVX-512 twins of the scalar references (F, BW, VL, VNNI).
//!
//! * f32: the shared canonical-order loops (`kernels::simd`) on
//!   `F32x16`: the 16 canonical lanes are exactly one `zmm` per row; eight
//!   rows per pass (eight independent `vfmadd231ps` chains), masked loads
//!   for the tail (masked-off lanes are `+0.0`, which changes no bit). The
//!   tree is h = 8 by adding the two 256-bit halves, then AVX2's
//!   `tree_rows8` for eight rows at once (four rows per pass for rows of 512
//!   floats or more, to spare the L1 sets). The same generic code runs on
//!   AVX2's `F32x8`, so the bits of the two agree by construction.
//! * int8 (`gemv_i8`): `vpdpbusd` multiplies u8 × s8. The input codes are
//!   made unsigned with `x ^ 0x80 = x + 128`, so the dot product gains
//!   `128·Σw`; with the row sums `Σ_d w[c,d]` (precomputed at load time, or
//!   computed here with a second `vpdpbusd` against ones) the exact
//!   accumulator is `dpbusd(x + 128, w) + (input_offset − 128)·Σw + bias`,
//!   all wrapping mod 2^32 like the reference. Sixteen rows per pass; their
//!   sixteen `zmm` partial sums are transposed and added into one vector of
//!   row totals, which is requantized sixteen channels at a time
//!   (`requantize`), a lane-for-lane copy of gemmlowp's SRDHM and rounding
//!   shift. With weights packed at load time
//!   ([`pack_vnni`](crate::kernels::pack_vnni), `packed`), one `vpdpbusd`
//!   multiplies sixteen rows of unsigned `w + 128` by a broadcast word of
//!   four signed inputs, so the lanes already are the row totals (`−128·Σx`
//!   per call restores them exactly).
//! * ReLU: a mask compare keeping `x > 0` and NaN.
//! * Sigmoid, SiLU, softmax, tanh, GELU (tanh form): `libm::expf`,
//!   `expm1f` and `tanhf` ported lane for lane, shared with AVX2 and NEON
//!   (`kernels::simd::act`).

mod f32x16;
mod gemv_i8;
mod packed;
mod requantize;

pub(crate) use f32x16::F32x16;

use crate::kernels::kernel::{Kernel, KernelId};
use crate::kernels::reference::i8::FullyConnectedParams;
use crate::kernels::simd::lane_kernel_f32_methods;

/// The AVX-512 kernel. Holding a value proves the CPU has AVX-512 F, BW, VL
/// and VNNI (and AVX2 + FMA, which they imply).
#[derive(Debug, Clone, Copy)]
pub struct Avx512 {
    _proof: (),
}

impl Avx512 {
    /// The kernel, if this CPU runs AVX-512 F/BW/VL/VNNI (detected at run
    /// time with the `std` feature, from `cfg(target_feature)` without it).
    #[inline]
    pub fn detect() -> Option<Self> {
        #[cfg(feature = "std")]
        let ok = std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vnni")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma");
        #[cfg(not(feature = "std"))]
        let ok = cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512vl",
            target_feature = "avx512vnni",
            target_feature = "avx2",
            target_feature = "fma"
        ));
        ok.then_some(Avx512 { _proof: () })
    }

    /// The kernel without checking.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F, BW, VL and VNNI, AVX2 and FMA.
    #[inline(always)]
    pub const unsafe fn new_unchecked() -> Self {
        Avx512 { _proof: () }
    }
}

impl Kernel for Avx512 {
    const ID: KernelId = KernelId::Avx512;

    lane_kernel_f32_methods!("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma", F32x16);

    #[inline]
    fn fully_connected_i8(
        self,
        w: &[i8],
        x: &[i8],
        bias: &[i32],
        row_sums: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    ) {
        // SAFETY: `self` exists only if AVX-512 F/BW/VL/VNNI were detected.
        unsafe { gemv_i8::fully_connected(w, x, bias, row_sums, p, y) }
    }

    #[inline]
    fn fully_connected_i8_packed(
        self,
        packed: &[i8],
        x: &[i8],
        bias: &[i32],
        row_sums: &[i32],
        p: &FullyConnectedParams<'_>,
        y: &mut [i8],
    ) {
        // SAFETY: `self` exists only if AVX-512 F/BW/VL/VNNI were detected.
        unsafe { packed::fully_connected_packed(packed, x, bias, row_sums, p, y) }
    }
}

/// Mask of the first `t` (≤ 16) lanes.
#[inline(always)]
fn mask16(t: usize) -> core::arch::x86_64::__mmask16 {
    ((1u32 << t.min(16)) - 1) as core::arch::x86_64::__mmask16
}
