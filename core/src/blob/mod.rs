//! The model blob: a versioned, checksummed binary image of a model graph
//! that a microcontroller reads in place from flash.
//!
//! [`parse`] validates every field of an untrusted `&[u8]` — magic,
//! version, lengths, CRC-32, flags, offsets, alignment, every tensor and
//! node entry and every op's record — then the graph itself, and returns
//! its [`Interpreter`] whose tables and constants borrow the blob (weights
//! are never copied). Every failure is a distinct [`BlobError`] with its
//! reason; nothing panics or reads out of bounds. The layout is defined
//! once, in [`format`] and each op's record (`ops/<op>/`), and
//! `docs/blob-format.md` follows it (a test compares the two).
//!
//! The buffer must start on a 4-byte boundary, so that arrays can be
//! viewed in place. `include_bytes!` only guarantees 1-byte alignment;
//! wrap it:
//!
//! ```
//! #[repr(C, align(4))]
//! struct Aligned<T: ?Sized>(T);
//! static BLOB: &Aligned<[u8]> = &Aligned(*b"AXON....");
//! assert_eq!(BLOB.0.as_ptr() as usize % 4, 0);
//! ```
//!
//! [`Interpreter`]: crate::Interpreter

mod error;
pub mod format;
mod parse;
mod record;

pub use error::BlobError;
pub use format::{MAGIC, VERSION};
pub use parse::{model_name, parse, NodeTable, TensorTable};
pub use record::Record;
