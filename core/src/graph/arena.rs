//! The arena: one caller-owned byte buffer that holds every intermediate
//! tensor, at the offsets the plan gave them; and the typed, bounds- and
//! alignment-checked views of it that a run hands to each op.
//!
//! A node reads its inputs and writes its output at the same time, so the
//! arena is split around the output's bytes ([`split`]): the output is the
//! one mutable piece, every input is read from the bytes before or after
//! it (the plan never lets a node's output share bytes with its inputs).

use super::{DType, Quad, Tensor, ARENA_ALIGN};
use crate::ops::{View, ViewMut};
use crate::Error;

/// An arena of `N` bytes, aligned for every tensor type. A generated
/// model module names its size (`ARENA_LEN`); `Arena::<ARENA_LEN>::new()`
/// in a `static` or on the stack.
#[derive(Debug, Clone)]
#[repr(C, align(8))]
pub struct Arena<const N: usize>(pub [u8; N]);

impl<const N: usize> Arena<N> {
    /// A zeroed arena (its contents between runs do not matter).
    pub const fn new() -> Self {
        Arena([0; N])
    }

    /// The bytes.
    pub fn bytes(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

const _: () = assert!(core::mem::align_of::<Arena<1>>() == ARENA_ALIGN);

/// The arena bytes around a node's output: everything before it and after
/// it, readable, with their position in the arena.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'r> {
    lo: &'r [u8],
    hi: &'r [u8],
    hi_start: usize,
}

impl<'r> Reader<'r> {
    /// A reader of the whole of `bytes` (a node whose output is not in the
    /// arena).
    pub fn all(bytes: &'r [u8]) -> Self {
        Reader {
            lo: bytes,
            hi: &[],
            hi_start: usize::MAX,
        }
    }

    /// `len` bytes at arena offset `off`, from before or after the output.
    #[inline(always)]
    pub fn bytes(&self, off: usize, len: usize) -> Result<&'r [u8], Error> {
        let end = off.checked_add(len).ok_or(Error::ArenaTooSmall {
            needed: usize::MAX,
            found: 0,
        })?;
        if let Some(s) = self.lo.get(off..end) {
            return Ok(s);
        }
        let (a, b) = (
            off.wrapping_sub(self.hi_start),
            end.wrapping_sub(self.hi_start),
        );
        if off >= self.hi_start {
            if let Some(s) = self.hi.get(a..b) {
                return Ok(s);
            }
        }
        Err(Error::ArenaOverlap)
    }

    /// `count` values of `T` at arena offset `off`.
    #[inline(always)]
    pub fn read<T: bytemuck::Pod>(&self, off: usize, count: usize) -> Result<&'r [T], Error> {
        let len = count
            .checked_mul(core::mem::size_of::<T>())
            .ok_or(Error::ArenaOverlap)?;
        cast(self.bytes(off, len)?)
    }

    /// Tensor `t`'s values, if it is in the arena.
    pub fn view(&self, t: &Tensor<'_>) -> Result<View<'r>, Error> {
        let (off, _) = t.arena_range().ok_or(Error::ArenaOverlap)?;
        let n = t.len();
        Ok(match t.dtype {
            DType::F32 => View::F32(self.read(off, n)?),
            DType::I8 => View::I8(self.read(off, n)?),
            DType::I32 => View::I32(self.read(off, n)?),
            DType::Staged => View::Staged(self.read(off, n.div_ceil(4))?),
        })
    }
}

/// Views `bytes` as `T`s (they must be aligned for `T` and a whole number
/// of them).
#[inline(always)]
pub fn cast<T: bytemuck::Pod>(bytes: &[u8]) -> Result<&[T], Error> {
    bytemuck::try_cast_slice(bytes).map_err(|_| Error::ArenaMisaligned)
}

/// [`cast`], mutably.
#[inline(always)]
pub fn cast_mut<T: bytemuck::Pod>(bytes: &mut [u8]) -> Result<&mut [T], Error> {
    bytemuck::try_cast_slice_mut(bytes).map_err(|_| Error::ArenaMisaligned)
}

/// Splits `arena` around the `len` bytes at `off` (a node's output): the
/// output bytes, writable, and a [`Reader`] of the rest.
#[inline(always)]
pub fn split(arena: &mut [u8], off: usize, len: usize) -> Result<(Reader<'_>, &mut [u8]), Error> {
    let end = off.checked_add(len).filter(|&e| e <= arena.len());
    let Some(end) = end else {
        return Err(Error::ArenaTooSmall {
            needed: off.saturating_add(len),
            found: arena.len(),
        });
    };
    // Checked splits (they cannot fail after the check above, but the
    // optimiser cannot always tell, and `split_at_mut` would keep a panic
    // path in the interpreter).
    let too_small = Error::ArenaTooSmall {
        needed: end,
        found: arena.len(),
    };
    let Some((lo, rest)) = arena.split_at_mut_checked(off) else {
        return Err(too_small);
    };
    let Some((out, hi)) = rest.split_at_mut_checked(len) else {
        return Err(too_small);
    };
    Ok((
        Reader {
            lo,
            hi,
            hi_start: end,
        },
        out,
    ))
}

/// `count` values of `T` at the front of an output's bytes.
#[inline(always)]
pub fn output<T: bytemuck::Pod>(bytes: &mut [u8], count: usize) -> Result<&mut [T], Error> {
    let len = count
        .checked_mul(core::mem::size_of::<T>())
        .ok_or(Error::ArenaOverlap)?;
    let found = bytes.len();
    match bytes.get_mut(..len) {
        Some(b) => cast_mut(b),
        None => Err(Error::ArenaTooSmall { needed: len, found }),
    }
}

/// Tensor `t`'s values in its output bytes.
pub fn view_mut<'r>(bytes: &'r mut [u8], t: &Tensor<'_>) -> Result<ViewMut<'r>, Error> {
    let n = t.len();
    Ok(match t.dtype {
        DType::F32 => ViewMut::F32(output(bytes, n)?),
        DType::I8 => ViewMut::I8(output(bytes, n)?),
        DType::I32 => ViewMut::I32(output(bytes, n)?),
        DType::Staged => ViewMut::Staged(output::<Quad>(bytes, n.div_ceil(4))?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_reads_around_the_output_and_never_into_it() {
        let mut a = Arena::<64>::new();
        a.0[0] = 7;
        a.0[40] = 9;
        let (r, out) = split(&mut a.0, 16, 16).unwrap();
        out[0] = 1;
        assert_eq!(r.bytes(0, 16).unwrap()[0], 7);
        assert_eq!(r.bytes(40, 8).unwrap()[0], 9);
        assert_eq!(r.bytes(8, 16), Err(Error::ArenaOverlap));
        assert_eq!(r.bytes(20, 4), Err(Error::ArenaOverlap));
        let q: &[Quad] = r.read(32, 2).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(r.read::<Quad>(36, 1), Err(Error::ArenaMisaligned));
        assert!(split(&mut a.0, 60, 8).is_err());
    }
}
