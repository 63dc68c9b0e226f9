//! aarch64 NEON twins of the scalar references.
//!
//! * f32: the shared canonical-order loops (`kernels::simd`) on
//!   `F32x4`: the 16 canonical lanes are four `q` registers per row (lanes
//!   0–3, 4–7, 8–11, 12–15), `vfmaq_f32` per step, four rows per pass. The
//!   tree: h = 8 adds registers 0+2 and 1+3, h = 4 adds those two, h = 2
//!   adds the low and high halves, h = 1 the two remaining lanes. A tail
//!   shorter than 16 is copied into zero-filled buffers.
//! * int8 (`gemv_i8`): inputs widened to i16 with the input offset added
//!   (exact for every TFLite offset), weights sign-extended, `vmlal_s16`
//!   accumulates exact products into wrapping i32 lanes. Requantization is
//!   the scalar reference's, row by row.
//! * ReLU: keeps `x > 0` and NaN, `+0.0` elsewhere.
//! * Sigmoid, SiLU, softmax, tanh, GELU (tanh form): `libm::expf`,
//!   `expm1f` and `tanhf` ported lane for lane, shared with AVX2 and AVX-512
//!   (`kernels::simd::act`).

mod f32x4;
mod gemv_i8;

pub(crate) use f32x4::F32x4;

use crate::kernels::kernel::{Kernel, KernelId};
use crate::kernels::reference::i8::FullyConnectedParams;
use crate::kernels::simd::lane_kernel_f32_methods;

/// The NEON kernel. Holding a value proves the CPU has Advanced SIMD.
#[derive(Debug, Clone, Copy)]
pub struct Neon {
    _proof: (),
}

impl Neon {
    /// The kernel, if this CPU runs NEON (detected at run time with the
    /// `std` feature, from `cfg(target_feature)` without it).
    #[inline]
    pub fn detect() -> Option<Self> {
        #[cfg(feature = "std")]
        let ok = std::arch::is_aarch64_feature_detected!("neon");
        #[cfg(not(feature = "std"))]
        let ok = cfg!(target_feature = "neon");
        ok.then_some(Neon { _proof: () })
    }

    /// The kernel without checking.
    ///
    /// # Safety
    /// The CPU must support NEON.
    #[inline(always)]
    pub const unsafe fn new_unchecked() -> Self {
        Neon { _proof: () }
    }
}

impl Kernel for Neon {
    const ID: KernelId = KernelId::Neon;

    lane_kernel_f32_methods!("neon", F32x4);

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
        // SAFETY: `self` proves NEON.
        unsafe { gemv_i8::fully_connected(w, x, bias, p, y) }
    }
}
