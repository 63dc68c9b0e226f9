//! The model blob: a versioned, checksummed binary image of an int8 model
//! that the MCU reads in place from flash.
//!
//! [`parse`] validates every field of an untrusted `&[u8]` — magic, version,
//! lengths, CRC-32, flags, offsets, alignment, ranges, and that shapes and
//! quantization parameters chain — and returns an [`int8::Model`] whose
//! layers borrow the blob (weights are never copied). Every failure is a
//! distinct [`BlobError`]; nothing panics or reads out of bounds.
//!
//! The buffer must start on a 4-byte boundary, so that bias and multiplier
//! arrays can be viewed as `&[i32]` in place. `include_bytes!` only
//! guarantees 1-byte alignment; wrap it:
//!
//! ```
//! #[repr(C, align(4))]
//! struct Aligned<T: ?Sized>(T);
//! static BLOB: &Aligned<[u8]> = &Aligned(*b"AXON....");
//! assert_eq!(BLOB.0.as_ptr() as usize % 4, 0);
//! ```
//!
//! [`int8::Model`]: crate::int8::Model

mod error;
pub mod format;
mod parse;

pub use error::BlobError;
pub use format::{MAGIC, VERSION};
pub use parse::{parse, LayerTable};
