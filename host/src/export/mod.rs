//! `axon export`: an int8 model as a binary blob the MCU parses in place
//! (docs/blob-format.md), and as Rust source for `include!`.

mod blob;
mod compiled;
mod rust;

pub use blob::{fix_crc, write_blob, AlignedBytes, BlobOptions};
pub use compiled::compiled_support;
pub use rust::{summary, write_rust};
