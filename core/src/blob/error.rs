//! Why a blob was rejected: one variant per failure, each a value.

use core::fmt;

/// A blob failed validation. Nothing in a rejected blob is ever read past
/// the check that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobError {
    /// Fewer bytes than the header, or than the header's `total_len`.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        found: usize,
    },
    /// The first four bytes are not `AXON`.
    BadMagic,
    /// A format version this parser does not read.
    UnsupportedVersion(u16),
    /// Flag bits this version does not know.
    UnknownFlags(u16),
    /// The header's length field or total length is impossible.
    BadHeader,
    /// A reserved field is not zero (at this byte offset).
    ReservedNotZero {
        /// Offset of the field.
        offset: usize,
    },
    /// The CRC-32 stored at the end differs from the one computed.
    ChecksumMismatch {
        /// CRC stored in the blob.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// The buffer holding the blob does not start at a multiple of 4 bytes
    /// in memory (wrap `include_bytes!` in a 4-aligned type).
    UnalignedBuffer,
    /// An array offset in the blob is not a multiple of 4.
    Misaligned {
        /// The offending offset.
        offset: usize,
    },
    /// An array lies (partly) outside the payload.
    OffsetOutOfRange {
        /// Start of the array.
        offset: usize,
        /// Its length in bytes (saturated on overflow).
        len: usize,
    },
    /// The model has no layers.
    NoLayers,
    /// A layer's kind (or lookup-table function) is unknown.
    UnknownLayerKind {
        /// Layer position.
        layer: usize,
        /// The kind byte.
        kind: u8,
    },
    /// A width is zero, or a layer's input width is not the previous
    /// output width (or the model's input width), or the last output width
    /// is not the model's output width.
    ShapesDoNotChain {
        /// Layer position (the layer count for the model's output).
        layer: usize,
    },
    /// A scale is not finite and positive, a zero point or clamp is outside
    /// int8, a shift outside −31..=30, a channel count neither 1 nor the
    /// output width, or a standardisation entry non-finite or zero.
    BadQuantParams {
        /// Layer position (the layer count for the model's header fields).
        layer: usize,
    },
    /// A layer's input offset is not minus the zero point of the tensor
    /// before it, or the model's output parameters are not the last
    /// layer's.
    QuantParamsDoNotChain {
        /// Layer position (the layer count for the model's output).
        layer: usize,
    },
    /// A layer's stored weight-row sums are not the sums of its weights.
    RowSumsMismatch {
        /// Layer position.
        layer: usize,
    },
    /// This parser runs on a big-endian machine; blobs are little-endian
    /// and are read in place.
    BigEndianHost,
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BlobError::Truncated { needed, found } => {
                write!(f, "blob truncated: needs {needed} bytes, has {found}")
            }
            BlobError::BadMagic => write!(f, "not an Axon model blob (bad magic)"),
            BlobError::UnsupportedVersion(v) => {
                write!(
                    f,
                    "blob format version {v} is not supported (this build reads {})",
                    super::VERSION
                )
            }
            BlobError::UnknownFlags(x) => write!(f, "blob has unknown flag bits {x:#06x}"),
            BlobError::BadHeader => write!(f, "blob header length fields are inconsistent"),
            BlobError::ReservedNotZero { offset } => {
                write!(f, "reserved field at byte {offset} is not zero")
            }
            BlobError::ChecksumMismatch { stored, computed } => write!(
                f,
                "blob checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            BlobError::UnalignedBuffer => {
                write!(f, "blob buffer is not 4-byte aligned in memory")
            }
            BlobError::Misaligned { offset } => {
                write!(f, "array offset {offset} is not a multiple of 4")
            }
            BlobError::OffsetOutOfRange { offset, len } => {
                write!(
                    f,
                    "array at offset {offset} ({len} bytes) lies outside the payload"
                )
            }
            BlobError::NoLayers => write!(f, "blob has no layers"),
            BlobError::UnknownLayerKind { layer, kind } => {
                write!(f, "layer {layer} has unknown kind {kind}")
            }
            BlobError::ShapesDoNotChain { layer } => {
                write!(f, "layer {layer}: widths do not chain")
            }
            BlobError::BadQuantParams { layer } => {
                write!(f, "layer {layer}: quantization parameters out of range")
            }
            BlobError::QuantParamsDoNotChain { layer } => {
                write!(f, "layer {layer}: quantization parameters do not chain")
            }
            BlobError::RowSumsMismatch { layer } => {
                write!(
                    f,
                    "layer {layer}: stored weight-row sums do not match the weights"
                )
            }
            BlobError::BigEndianHost => {
                write!(
                    f,
                    "blobs are little-endian and cannot be read in place on this machine"
                )
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for BlobError {}
