//! Slice kernels: the engine under the const-generic layer types.
//!
//! Each family (f32 GEMV/dot, int8 GEMV, activations) has one scalar
//! reference that *defines* its semantics, and SIMD twins that must return
//! exactly the same bits. The const-generic shells in [`crate::layers`] call
//! these, so code size does not grow with every layer shape.

pub mod gemv_f32;
pub mod gemv_i8;
pub(crate) mod dispatch;

pub use gemv_f32::{dot, gemv, F32_LANES};
pub use gemv_i8::{fully_connected_i8, FullyConnectedParams};
