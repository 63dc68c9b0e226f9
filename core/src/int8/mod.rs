//! The int8 model runtime: TFLite-spec quantized inference with
//! caller-provided scratch RAM.
//!
//! A [`Model`] is a chain of [`Layer`]s that borrow their constants, so the
//! same types serve three sources: `static` items written by `axon export
//! --rust` (everything `const`-constructible), a blob in flash parsed by
//! [`crate::blob::parse`] (no copy of the weights), and host memory. All
//! three run the same code and give the same bits.
//!
//! ```text
//! x: [f32; input_len] ──standardise──quantize──► codes ─► layer 0 ─► … ─► layer n−1
//!        ─► y_codes: [i8; output_len] ──dequantize──► y: [f32; output_len]
//! ```
//!
//! RAM per inference: [`Model::scratch_len`] bytes (two activation buffers
//! of the widest tensor) plus the caller's input and output.

pub mod compiled;
mod layer;
mod model;

pub use layer::{FullyConnected, Layer, LutKind, LutLayer};
pub use model::{Layers, Model, Standardize};
