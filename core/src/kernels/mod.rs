//! Slice kernels: the engine under the const-generic layer types.
//!
//! Each family (f32 GEMV/dot, int8 GEMV, activations) has one scalar
//! reference that *defines* its semantics, and SIMD twins that must return
//! exactly the same bits. The const-generic shells in [`crate::layers`] call
//! these, so code size does not grow with every layer shape.
//!
//! The modules form layers, each importing only those below it:
//!
//! 1. `reference`: the scalar references (the leaf; re-exported by
//!    [`gemv_f32`] and [`gemv_i8`]).
//! 2. [`kernel`]: the [`Kernel`] trait, [`KernelId`] and the scalar kernel.
//! 3. The twins, one folder per instruction set: `avx2`, `avx512`, `neon`
//!    (over the shared lane-generic code of `simd`) and `cortex_m`.
//! 4. [`dispatch`]: picks a kernel; which kernels can run here.
//! 5. [`gemv_f32`], [`gemv_i8`]: the checked public entry points.

pub mod dispatch;
pub mod gemv_f32;
pub mod gemv_i8;
// The scalar references: the leaf every other module builds on.
mod reference;
// Desktop SIMD twins (issue 5) and the lane-generic code they share.
#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
pub mod kernel;
#[cfg(target_arch = "aarch64")]
pub mod neon;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod simd;
// Cortex-M twins (issue 6): DSP targets, and the host's tests of their model.
#[cfg(any(axon_arm_dsp, test))]
pub mod cortex_m;
// Every SIMD twin this machine runs against the scalar kernel.
#[cfg(all(test, not(miri)))]
mod parity;

pub use gemv_f32::{dot, gemv, F32_LANES};
pub use gemv_i8::{fully_connected_i8, FullyConnectedParams};
pub use gemv_i8::{fully_connected_i8_packed, pack_vnni, packed_vnni_len};
pub use gemv_i8::{fully_connected_i8_with_row_sums, weight_row_sums};
pub use kernel::{Kernel, KernelId};
