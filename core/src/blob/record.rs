//! Reading fields and arrays from a blob in place, every read bounded.

use super::error::BlobError;
use super::format::{Field, Layout, ALIGN};

/// `N` bytes at `off`, or `None` past the end.
#[inline]
pub(crate) fn bytes_at<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    b.get(off..end)?.try_into().ok()
}

/// A field of a structure that starts at `base` in `b` (0 when it lies
/// outside; callers check the structure's length first).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) base: usize,
}

impl Fields<'_> {
    fn at<const N: usize>(&self, f: Field) -> [u8; N] {
        self.base
            .checked_add(f.offset)
            .and_then(|o| bytes_at::<N>(self.b, o))
            .unwrap_or([0; N])
    }

    pub(crate) fn u8(&self, f: Field) -> u8 {
        self.at::<1>(f)[0]
    }

    pub(crate) fn u16(&self, f: Field) -> u16 {
        u16::from_le_bytes(self.at(f))
    }

    pub(crate) fn u32(&self, f: Field) -> u32 {
        u32::from_le_bytes(self.at(f))
    }

    pub(crate) fn i32(&self, f: Field) -> i32 {
        i32::from_le_bytes(self.at(f))
    }

    pub(crate) fn f32(&self, f: Field) -> f32 {
        f32::from_le_bytes(self.at(f))
    }

    /// Whether every byte of the field is 0.
    pub(crate) fn is_zero(&self, f: Field) -> bool {
        let start = self.base.saturating_add(f.offset);
        self.b
            .get(start..start.saturating_add(f.ty.size()))
            .is_some_and(|s| s.iter().all(|&v| v == 0))
    }
}

/// An array of `count` `T` at `offset` of `blob`, inside `payload`
/// (`start..end`), 4-aligned, viewed in place.
pub(crate) fn array<T: bytemuck::Pod>(
    blob: &[u8],
    payload: (usize, usize),
    offset: u32,
    count: usize,
) -> Result<&[T], BlobError> {
    let offset = offset as usize;
    let len = count
        .checked_mul(core::mem::size_of::<T>())
        .ok_or(BlobError::OffsetOutOfRange {
            offset,
            len: usize::MAX,
        })?;
    if !offset.is_multiple_of(ALIGN) {
        return Err(BlobError::Misaligned { offset });
    }
    let stop = offset
        .checked_add(len)
        .ok_or(BlobError::OffsetOutOfRange { offset, len })?;
    if offset < payload.0 || stop > payload.1 {
        return Err(BlobError::OffsetOutOfRange { offset, len });
    }
    let bytes = blob
        .get(offset..stop)
        .ok_or(BlobError::OffsetOutOfRange { offset, len })?;
    bytemuck::try_cast_slice(bytes).map_err(|_| BlobError::UnalignedBuffer)
}

/// One node's op record, as its op's `decode` reads it: the fields of its
/// op's [`Layout`] and the arrays they point to.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The node's index (for errors).
    pub node: u16,
    blob: &'a [u8],
    start: usize,
    len: usize,
    payload: (usize, usize),
    checked: bool,
}

impl<'a> Record<'a> {
    pub(crate) fn new(
        node: u16,
        blob: &'a [u8],
        start: usize,
        len: usize,
        payload: (usize, usize),
        checked: bool,
    ) -> Self {
        Record {
            node,
            blob,
            start,
            len,
            payload,
            checked,
        }
    }

    /// Whether this record already passed its op's full `decode` (the
    /// parser checks every node once; the interpreter decodes them again
    /// on every run). An op may then skip checks whose cost grows with
    /// its constants, never the ones that keep memory access in bounds.
    pub fn checked(&self) -> bool {
        self.checked
    }

    fn fields(&self) -> Fields<'a> {
        Fields {
            b: self.blob,
            base: self.start,
        }
    }

    /// An error about this record.
    pub fn bad(&self, why: &'static str) -> BlobError {
        BlobError::BadRecord {
            node: self.node,
            why,
        }
    }

    /// Checks that the record is exactly `layout.len` bytes.
    pub fn expect(&self, layout: &Layout) -> Result<(), BlobError> {
        if self.len == layout.len {
            Ok(())
        } else {
            Err(self.bad("the record's length is not its op's"))
        }
    }

    /// A byte field.
    pub fn u8(&self, f: Field) -> u8 {
        self.fields().u8(f)
    }

    /// A signed byte field.
    pub fn i8(&self, f: Field) -> i8 {
        self.fields().u8(f) as i8
    }

    /// A u16 field.
    pub fn u16(&self, f: Field) -> u16 {
        self.fields().u16(f)
    }

    /// A u32 field.
    pub fn u32(&self, f: Field) -> u32 {
        self.fields().u32(f)
    }

    /// An i32 field.
    pub fn i32(&self, f: Field) -> i32 {
        self.fields().i32(f)
    }

    /// An f32 field.
    pub fn f32(&self, f: Field) -> f32 {
        self.fields().f32(f)
    }

    /// Checks that reserved fields are 0.
    pub fn zero(&self, fs: &[Field]) -> Result<(), BlobError> {
        match fs.iter().find(|f| !self.fields().is_zero(**f)) {
            None => Ok(()),
            Some(f) => Err(BlobError::ReservedNotZero {
                offset: self.start + f.offset,
            }),
        }
    }

    /// The array of `count` elements the offset field `f` points to.
    pub fn array<T: bytemuck::Pod>(&self, f: Field, count: usize) -> Result<&'a [T], BlobError> {
        array(self.blob, self.payload, self.u32(f), count)
    }

    /// As [`array`](Self::array), or `None` when the offset is 0.
    pub fn optional<T: bytemuck::Pod>(
        &self,
        f: Field,
        count: usize,
    ) -> Result<Option<&'a [T]>, BlobError> {
        match self.u32(f) {
            0 => Ok(None),
            _ => self.array(f, count).map(Some),
        }
    }

    /// A rounding byte: 0 double (TFLite Micro), 1 single (TFLite).
    pub fn rounding(&self, f: Field) -> Result<crate::quant::Rounding, BlobError> {
        match self.u8(f) {
            0 => Ok(crate::quant::Rounding::Double),
            1 => Ok(crate::quant::Rounding::Single),
            _ => Err(self.bad("rounding is neither 0 (double) nor 1 (single)")),
        }
    }

    /// A 256-entry int8 table.
    pub fn table(&self, f: Field) -> Result<&'a [i8; 256], BlobError> {
        self.array::<i8>(f, 256)?
            .try_into()
            .map_err(|_| self.bad("a table is not 256 entries"))
    }
}
