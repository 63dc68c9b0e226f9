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
    /// The scratch buffer handed to an int8 model is smaller than
    /// `Model::scratch_len`.
    ScratchTooSmall {
        /// Bytes the model needs.
        needed: usize,
        /// Bytes it got.
        found: usize,
    },
    /// Layer `index` of an int8 model is inconsistent in itself or with its
    /// neighbours (widths or quantization parameters do not chain).
    InvalidLayer {
        /// Position of the layer, from 0.
        index: usize,
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
            Error::ScratchTooSmall { needed, found } => {
                write!(
                    f,
                    "scratch buffer too small: the model needs {needed} bytes, got {found}"
                )
            }
            Error::InvalidLayer { index } => {
                write!(
                    f,
                    "int8 layer {index} does not fit its parameters or its neighbours"
                )
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
