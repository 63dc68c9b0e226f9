//! Why a blob was rejected: one variant per failure, each a value.

use core::fmt;

use crate::graph::GraphError;

/// A blob failed validation. Nothing in a rejected blob is read past the
/// check that failed.
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
    /// A format version this parser does not read (version 1 blobs are
    /// converted by the host's `axon`, not read in place).
    UnsupportedVersion(u16),
    /// Flag bits this version does not know.
    UnknownFlags(u16),
    /// A length field of the header is impossible (named).
    BadHeader {
        /// Which field.
        field: &'static str,
    },
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
    /// A table, record or array offset is not a multiple of 4.
    Misaligned {
        /// The offending offset.
        offset: usize,
    },
    /// A table, record or array lies (partly) outside the blob's payload.
    OffsetOutOfRange {
        /// Its start.
        offset: usize,
        /// Its length in bytes (saturated on overflow).
        len: usize,
    },
    /// A tensor entry is malformed (its type, rank, storage or quantization).
    BadTensor {
        /// Tensor index.
        tensor: u16,
        /// Why.
        why: &'static str,
    },
    /// A node entry or its op's record is malformed.
    BadRecord {
        /// Node index.
        node: u16,
        /// Why.
        why: &'static str,
    },
    /// A node names an op code this build does not know.
    UnknownOp {
        /// Node index.
        node: u16,
        /// The code.
        code: u8,
    },
    /// A name is not inside the string section, or not NUL-terminated
    /// UTF-8.
    BadName {
        /// The name's offset.
        offset: u32,
    },
    /// The decoded graph is invalid (types, shapes, order, arena plan,
    /// or an op's parameters against its tensors).
    Graph(GraphError),
    /// This parser runs on a big-endian machine; blobs are little-endian
    /// and are read in place.
    BigEndianHost,
}

impl From<GraphError> for BlobError {
    fn from(e: GraphError) -> Self {
        BlobError::Graph(e)
    }
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BlobError::Truncated { needed, found } => {
                write!(f, "blob truncated: needs {needed} bytes, has {found}")
            }
            BlobError::BadMagic => write!(f, "not an Axon model blob (bad magic)"),
            BlobError::UnsupportedVersion(v) => write!(
                f,
                "blob format version {v} is not read in place (this build reads {}; \
                 `axon` converts version 1)",
                super::format::VERSION
            ),
            BlobError::UnknownFlags(x) => write!(f, "blob has unknown flag bits {x:#06x}"),
            BlobError::BadHeader { field } => write!(f, "blob header: {field} is impossible"),
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
                write!(f, "offset {offset} is not a multiple of 4")
            }
            BlobError::OffsetOutOfRange { offset, len } => write!(
                f,
                "data at offset {offset} ({len} bytes) lies outside the payload"
            ),
            BlobError::BadTensor { tensor, why } => write!(f, "tensor {tensor}: {why}"),
            BlobError::BadRecord { node, why } => write!(f, "node {node}: {why}"),
            BlobError::UnknownOp { node, code } => {
                write!(f, "node {node} has unknown op code {code}")
            }
            BlobError::BadName { offset } => {
                write!(f, "name at string offset {offset} is not NUL-terminated UTF-8 inside the string section")
            }
            BlobError::Graph(e) => write!(f, "{e}"),
            BlobError::BigEndianHost => write!(
                f,
                "blobs are little-endian and cannot be read in place on this machine"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for BlobError {}
