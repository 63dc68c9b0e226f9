//! `axon export`: a model as a binary blob the microcontroller parses in
//! place (`docs/blob-format.md`), and as Rust source for `include!` — the
//! graph as `static` items for the interpreter, and a generated
//! straight-line `forward()` over the same op functions, with prepared
//! variants (packed layers, staged activations, the trimmed softmax) where
//! a model fits them.

mod blob;
mod from_core;
mod prepare;
mod record;
mod rust;
mod rust_writer;

pub use blob::{fix_crc, read_blob, write_blob, AlignedBytes};
pub use prepare::{prepare_for_mcu, Prepared};
pub use record::RecordWriter;
pub use rust::{write_rust, RustExport};
pub use rust_writer::RustWriter;
