//! What the element-wise activations share: the int8 run as a 256-entry
//! table (TFLite's `PopulateLookupTable`, built on the host:
//! [`crate::quant::lut::build_table`]), the f32 run in place, and one
//! record layout.

use super::{Io, Signature};
use crate::blob::{BlobError, Record};
use crate::graph::DType;
use crate::Error;

crate::blob_layout! {
    /// The record every element-wise activation uses.
    pub mod record = "element-wise record", 12 {
        /// 0: f32; 1: int8 by table.
        VARIANT: 0, Ty::U8;
        /// The op's own small parameter (gelu: 1 for the tanh form); else 0.
        FLAG: 1, Ty::U8;
        /// Must be 0.
        RESERVED: 2, Ty::U16;
        /// The op's own real parameter (leaky_relu: the slope); else 0.
        PARAM: 4, Ty::F32;
        /// The int8 table, 256 entries, entry for code `q` at `q as u8`
        /// (0 for f32).
        TABLE: 8, Ty::Offset(Elem::I8);
    }
}

/// A decoded element-wise record.
#[derive(Debug, Clone, Copy)]
pub struct Decoded<'a> {
    /// The int8 table, or `None` for the f32 variant.
    pub table: Option<&'a [i8; 256]>,
    /// The `FLAG` byte.
    pub flag: u8,
    /// The `PARAM` value.
    pub param: f32,
}

/// Decodes an element-wise record.
pub fn decode<'a>(r: &Record<'a>) -> Result<Decoded<'a>, BlobError> {
    r.expect(&record::LAYOUT)?;
    r.zero(&[record::RESERVED])?;
    let table = match r.u8(record::VARIANT) {
        0 => {
            r.zero(&[record::TABLE])?;
            None
        }
        1 => Some(r.table(record::TABLE)?),
        _ => return Err(r.bad("element-wise variant is neither 0 (f32) nor 1 (int8)")),
    };
    Ok(Decoded {
        table,
        flag: r.u8(record::FLAG),
        param: r.f32(record::PARAM),
    })
}

/// Maps `x` into `y` through `table` (entry for code `q` at `q as u8`).
#[inline]
pub fn apply(table: &[i8; 256], x: &[i8], y: &mut [i8]) {
    for (o, &q) in y.iter_mut().zip(x) {
        *o = table[q as u8 as usize];
    }
}

/// The check of an element-wise op: f32 → f32 of the same shape, or,
/// with a table, i8 → i8.
pub fn check(sig: &Signature<'_>, table: bool) -> Result<(), &'static str> {
    let t = if table { DType::I8 } else { DType::F32 };
    sig.unary(t, t).map(|_| ())
}

/// `y = x`, then `f(y)` in place (the shorter bounds the copy).
#[inline]
pub fn map_f32(x: &[f32], y: &mut [f32], f: impl Fn(&mut [f32])) {
    let n = x.len().min(y.len());
    if let (Some(y), Some(x)) = (y.get_mut(..n), x.get(..n)) {
        y.copy_from_slice(x);
        f(y);
    }
}

/// The run of an element-wise op: through `table` (int8), or `f` in place
/// on a copy of the input (f32).
#[inline]
pub fn run(io: Io<'_>, table: Option<&[i8; 256]>, f: impl Fn(&mut [f32])) -> Result<(), Error> {
    match table {
        Some(t) => apply(t, io.input(0).i8()?, io.out.i8()?),
        None => map_f32(io.input(0).f32()?, io.out.f32()?, f),
    }
    Ok(())
}

/// The check of an element-wise op with one real attribute `alpha`
/// (`leaky_relu`'s slope, `elu`'s scale): finite, and [`check`].
pub fn check_alpha(sig: &Signature<'_>, alpha: f32, table: bool) -> Result<(), &'static str> {
    if !alpha.is_finite() {
        return Err("alpha is not finite");
    }
    check(sig, table)
}

/// Decodes the record of an element-wise op with one real attribute
/// (its `PARAM`; `FLAG` must be 0, else `flag_error`): `(alpha, table)`.
pub fn decode_alpha<'a>(
    r: &Record<'a>,
    flag_error: &'static str,
) -> Result<(f32, Option<&'a [i8; 256]>), BlobError> {
    let d = decode(r)?;
    if d.flag != 0 {
        return Err(r.bad(flag_error));
    }
    Ok((d.param, d.table))
}

/// Defines an element-wise op without parameters: f32 through `$f32` (in
/// place), int8 through its table.
macro_rules! table_op {
    ($(#[$m:meta])* $Ty:ident, $name:literal, $f32:path) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy)]
        pub enum $Ty<'a> {
            /// f32.
            F32,
            /// int8: the table for the input's and output's parameters.
            Int8(&'a [i8; 256]),
        }

        impl<'a> $Ty<'a> {
            /// The int8 table, or `None` for f32.
            pub fn table(&self) -> Option<&'a [i8; 256]> {
                match *self {
                    $Ty::F32 => None,
                    $Ty::Int8(t) => Some(t),
                }
            }

            /// The f32 run: `y = f(x)` element by element.
            #[inline]
            pub fn run_f32(x: &[f32], y: &mut [f32]) {
                $crate::ops::lut::map_f32(x, y, $f32)
            }
        }

        impl<'a> $crate::ops::OpDef<'a> for $Ty<'a> {
            const NAME: &'static str = $name;

            fn check(&self, sig: &$crate::ops::Signature<'a>) -> Result<(), &'static str> {
                $crate::ops::lut::check(sig, self.table().is_some())
            }

            fn run(&self, io: $crate::ops::Io<'_>) -> Result<(), $crate::Error> {
                $crate::ops::lut::run(io, self.table(), $f32)
            }

            fn decode(r: &$crate::blob::Record<'a>) -> Result<Self, $crate::blob::BlobError> {
                let d = $crate::ops::lut::decode(r)?;
                if d.flag != 0 || d.param != 0.0 {
                    return Err(r.bad(concat!($name, " has no parameters")));
                }
                Ok(d.table.map_or($Ty::F32, $Ty::Int8))
            }
        }
    };
}
pub(crate) use table_op;
