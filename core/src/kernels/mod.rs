//! Slice kernels: the engine under the const-generic layer types.
//!
//! Each family (f32 GEMV/dot, int8 GEMV, activations) has one scalar
//! reference that *defines* its semantics, and SIMD twins that must return
//! exactly the same bits. The const-generic shells in [`crate::layers`] call
//! these, so code size does not grow with every layer shape.

pub mod dispatch;
pub mod gemv_f32;
pub mod gemv_i8;
// Desktop SIMD twins (issue 5) and the trait they share.
#[cfg(target_arch = "x86_64")]
pub(crate) mod act_exp;
#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
pub mod kernel;
#[cfg(target_arch = "aarch64")]
pub mod neon;
pub mod packed4;
// Cortex-M twins (issue 6): DSP targets, and the host's tests of their model.
#[cfg(any(axon_arm_dsp, test))]
pub mod cortex_m;

pub use gemv_f32::{dot, gemv, F32_LANES};
pub use gemv_i8::{fully_connected_i8, FullyConnectedParams};
pub use gemv_i8::{fully_connected_i8_packed, pack_vnni, packed_vnni_len};
pub use gemv_i8::{fully_connected_i8_with_row_sums, weight_row_sums};
pub use kernel::{Kernel, KernelId};
