#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(any(feature = "std", test))]
extern crate std;

pub mod activations;
pub mod blob;
pub mod crc32;
mod error;
pub mod graph;
mod interpreter;
pub mod kernels;
pub mod layers;
pub mod lm;
pub mod ops;
pub mod quant;
#[cfg(test)]
mod test_rng;

pub use error::Error;
pub use interpreter::Interpreter;
pub use layers::{Activation, Dense, Layer, Residual, Seq};
