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
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::ShapeMismatch { expected, found } => {
                write!(f, "shape mismatch: expected length {expected}, found {found}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
