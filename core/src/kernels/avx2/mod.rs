//! x86-64 AVX2 + FMA twins of the scalar references.
//!
//! * f32: the shared canonical-order loops (`kernels::simd`) on
//!   `F32x8`: the 16 canonical lanes are two `ymm` registers per row
//!   (lanes 0–7 and 8–15), `vfmadd231ps` per step, four rows per pass for
//!   independent FMA chains. The tree 8, 4, 2, 1 is done for four rows at
//!   once with shuffles that add exactly the canonical pairs
//!   (`f32x8::tree_rows4`).
//! * int8 (`gemv_i8`): no `vpmaddubsw` (it saturates its i16 pair sums).
//!   Inputs are widened to i16 with the input offset already added
//!   (`x + input_offset` fits i16 for every TFLite offset), weights are
//!   sign-extended, and `vpmaddwd` forms exact i32 pair sums (|w·x| ≤
//!   128·32768, so the pair sum stays below 2^31); the accumulation wraps
//!   mod 2^32 like the reference. Requantization (double rounding) runs on
//!   eight lanes (`requantize`), the scalar reference's steps lane for
//!   lane; single rounding row by row.
//! * ReLU: a compare and an `and`, keeping NaN as the scalar does.
//! * Sigmoid, SiLU, softmax, tanh, GELU (tanh form): `libm::expf`,
//!   `expm1f` and `tanhf` ported lane for lane, shared with AVX-512 and NEON
//!   (`kernels::simd::act`).

mod f32x8;
mod gemv_i8;
mod requantize;

pub(crate) use f32x8::{tree_rows4, tree_rows8, F32x8};

use crate::kernels::kernel::{Kernel, KernelId};
use crate::kernels::reference::i8::FullyConnectedParams;
use crate::kernels::simd::lane_kernel_f32_methods;

/// The AVX2 + FMA kernel. Holding a value proves the CPU has AVX2 and FMA.
#[derive(Debug, Clone, Copy)]
pub struct Avx2 {
    _proof: (),
}

impl Avx2 {
    /// The kernel, if this CPU runs AVX2 and FMA (detected at run time with
    /// the `std` feature, from `cfg(target_feature)` without it).
    #[inline]
    pub fn detect() -> Option<Self> {
        #[cfg(feature = "std")]
        let ok = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        #[cfg(not(feature = "std"))]
        let ok = cfg!(all(target_feature = "avx2", target_feature = "fma"));
        ok.then_some(Avx2 { _proof: () })
    }

    /// The kernel without checking.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[inline(always)]
    pub const unsafe fn new_unchecked() -> Self {
        Avx2 { _proof: () }
    }
}

impl Kernel for Avx2 {
    const ID: KernelId = KernelId::Avx2;

    lane_kernel_f32_methods!("avx2,fma", F32x8);

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
        // SAFETY: `self` exists only if AVX2 and FMA were detected.
        unsafe { gemv_i8::fully_connected(w, x, bias, p, y) }
    }
}
