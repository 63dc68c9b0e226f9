//! Data: CSV tables, bundled sets, the sine generator, splits and
//! standardisation.
//!
//! Column numbers in messages and on the command line count from 1, like
//! `cut` and spreadsheet users do; rows are the file's line numbers.

mod bundled;
mod csv_table;
mod prep;

pub use bundled::{bundled, sine, BUNDLED};
pub use csv_table::{Header, Table};
pub use prep::{split_indices, standardisation, ClassTargets, Preprocess};
