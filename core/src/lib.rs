#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "std")]
extern crate std;

pub mod activations;
mod error;
pub mod kernels;
pub mod layers;
pub mod quant;

pub use error::Error;
pub use layers::{Activation, Dense, Layer, Residual, Seq};
