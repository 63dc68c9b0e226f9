//! `embedding`: TFLite's GATHER along axis 0 of a `[rows, width]` table —
//! row `index` copied out. int8 rows keep the table's (per-tensor) scale
//! and zero point, so the op is exact by construction; the f32 variant is
//! the same copy.

use crate::Error;

/// Row `index` of `table` (`[rows, width]`, row-major) into `out`
/// (`width` codes).
///
/// Errors: `width` 0 or not dividing the table, `out` not `width` long
/// ([`Error::ShapeMismatch`]), `index` not below the row count
/// ([`Error::IndexOutOfRange`]).
pub fn gather_i8(table: &[i8], width: usize, index: usize, out: &mut [i8]) -> Result<(), Error> {
    gather(table, width, index, out)
}

/// [`gather_i8`] for an f32 table.
pub fn gather_f32(table: &[f32], width: usize, index: usize, out: &mut [f32]) -> Result<(), Error> {
    gather(table, width, index, out)
}

fn gather<T: Copy>(table: &[T], width: usize, index: usize, out: &mut [T]) -> Result<(), Error> {
    if width == 0 || !table.len().is_multiple_of(width) {
        return Err(Error::ShapeMismatch {
            expected: width.max(1) * (table.len() / width.max(1) + 1),
            found: table.len(),
        });
    }
    if out.len() != width {
        return Err(Error::ShapeMismatch {
            expected: width,
            found: out.len(),
        });
    }
    let rows = table.len() / width;
    let row = index
        .checked_mul(width)
        .and_then(|start| table.get(start..start.checked_add(width)?))
        .ok_or(Error::IndexOutOfRange { index, len: rows })?;
    out.copy_from_slice(row);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_i8_copies_the_indexed_row() {
        let table: [i8; 12] = [0, 1, 2, 3, -4, -5, -6, -7, 127, -128, 9, 10];
        let mut out = [0i8; 4];
        gather_i8(&table, 4, 1, &mut out).unwrap();
        assert_eq!(out, [-4, -5, -6, -7]);
        gather_i8(&table, 4, 2, &mut out).unwrap();
        assert_eq!(out, [127, -128, 9, 10]);
        let mut f = [0f32; 2];
        gather_f32(&[1.0, 2.0, 3.0, 4.0], 2, 1, &mut f).unwrap();
        assert_eq!(f, [3.0, 4.0]);
    }

    #[test]
    fn gather_i8_rejects_bad_index_and_shapes() {
        let table = [0i8; 12];
        let mut out = [0i8; 4];
        assert_eq!(
            gather_i8(&table, 4, 3, &mut out),
            Err(Error::IndexOutOfRange { index: 3, len: 3 })
        );
        assert_eq!(
            gather_i8(&table, 4, usize::MAX, &mut out),
            Err(Error::IndexOutOfRange {
                index: usize::MAX,
                len: 3
            })
        );
        assert!(matches!(
            gather_i8(&table, 5, 0, &mut out),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(
            gather_i8(&table, 0, 0, &mut out),
            Err(Error::ShapeMismatch { .. })
        ));
        let mut short = [0i8; 3];
        assert_eq!(
            gather_i8(&table, 4, 0, &mut short),
            Err(Error::ShapeMismatch {
                expected: 4,
                found: 3
            })
        );
    }
}
