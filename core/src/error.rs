//! The core's one error type: every fallible operation returns it as a value.

use core::fmt;

/// What went wrong. Each variant names one distinct failure; none is a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Slice lengths do not fit the operation's shape.
    ShapeMismatch {
        /// What the operation needed.
        expected: usize,
        /// What it got.
        found: usize,
    },
    /// A tensor's values are not of the element type an op or the caller
    /// expected.
    TypeMismatch {
        /// The type found.
        found: crate::graph::DType,
    },
    /// The arena handed to a run is smaller than the graph's plan needs.
    ArenaTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        found: usize,
    },
    /// The arena does not start at a multiple of 8 bytes in memory
    /// (use `graph::arena::Arena`).
    ArenaMisaligned,
    /// A node's input would be read from its own output's bytes (a plan
    /// that validation rejects; never seen after `Interpreter::new`).
    ArenaOverlap,
    /// Node `index` of the graph could not be decoded or has an impossible
    /// signature (never seen after `Interpreter::new`).
    InvalidNode {
        /// Position of the node.
        index: usize,
    },
    /// An index (a token, a table row, a position) is not below the length
    /// it indexes.
    IndexOutOfRange {
        /// The index given.
        index: usize,
        /// The number of valid indices.
        len: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::ShapeMismatch { expected, found } => {
                write!(
                    f,
                    "shape mismatch: expected length {expected}, found {found}"
                )
            }
            Error::TypeMismatch { found } => {
                write!(
                    f,
                    "a tensor has element type {}, not the one expected",
                    found.name()
                )
            }
            Error::ArenaTooSmall { needed, found } => write!(
                f,
                "arena too small: the graph needs {needed} bytes, got {found}"
            ),
            Error::ArenaMisaligned => write!(f, "the arena is not 8-byte aligned"),
            Error::ArenaOverlap => write!(f, "a node's input overlaps its output in the arena"),
            Error::InvalidNode { index } => write!(f, "node {index} cannot run"),
            Error::IndexOutOfRange { index, len } => {
                write!(f, "index {index} out of range (valid: 0..{len})")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
