//! The scalar references: the definitions every kernel's bits must equal.
//!
//! This is the leaf of `kernels/`: it imports nothing from the rest of the
//! kernels (its files import only each other), so the SIMD twins, the
//! [`Kernel`](super::Kernel) trait and the dispatcher can all build on it
//! without a cycle. The checked public entry points ([`super::gemv_f32`],
//! [`super::gemv_i8`]) re-export what users name from here.
//!
//! * [`f32`](mod@f32): the canonical f32 accumulation order (dot, sum, GEMV).
//! * [`i8`](mod@i8): TFLite's int8 fully connected arithmetic.
//! * [`vnni`]: the VNNI-packed weight layout and the reference on it.

pub(crate) mod f32;
pub(crate) mod i8;
pub(crate) mod vnni;
