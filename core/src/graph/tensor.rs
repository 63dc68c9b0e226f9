//! Tensors: shape, element type, quantization and where the bytes live.

use crate::quant::QuantParams;

/// A tensor's index in its graph's tensor table.
pub type TensorId = u16;

/// Most dimensions a shape has: a vector `[D]`, a sequence `[T, D]`, an
/// image `[H, W, C]`, a batch of images `[N, H, W, C]`.
pub const MAX_RANK: usize = 4;

/// The element type (and, for [`DType::Staged`], the layout) of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DType {
    /// IEEE-754 binary32.
    F32 = 0,
    /// int8 codes with per-tensor affine quantization.
    I8 = 1,
    /// int32 (token ids, accumulators).
    I32 = 2,
    /// int8 codes kept in the packed fully connected kernel's input form:
    /// `2·(q − zero_point)` as i16, in groups of four in `[x0, x2, x1, x3]`
    /// order ([`Quad`], [`staged_index`]), zero-padded to a whole group.
    /// What a packed layer reads and writes, so that consecutive packed
    /// layers pass activations without widening them again.
    Staged = 3,
}

impl DType {
    /// Every type, in blob code order (the code is the index).
    pub const ALL: [DType; 4] = [DType::F32, DType::I8, DType::I32, DType::Staged];

    /// The name in model files.
    pub const fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::I8 => "i8",
            DType::I32 => "i32",
            DType::Staged => "staged",
        }
    }

    /// The type named `name`.
    pub fn from_name(name: &str) -> Option<DType> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The type with blob code `code`.
    pub fn from_code(code: u8) -> Option<DType> {
        Self::ALL.get(code as usize).copied()
    }

    /// Bytes `elements` values of this type take (staged: whole quads).
    pub const fn bytes(self, elements: usize) -> Option<usize> {
        match self {
            DType::F32 | DType::I32 => elements.checked_mul(4),
            DType::I8 => Some(elements),
            DType::Staged => match elements.checked_add(3) {
                Some(e) => (e / 4).checked_mul(8),
                None => None,
            },
        }
    }

    /// Whether values of this type are quantized codes (and so need
    /// per-tensor parameters).
    pub const fn is_quantized(self) -> bool {
        matches!(self, DType::I8 | DType::Staged)
    }
}

/// Four staged values of a [`DType::Staged`] tensor: `2·(q − zero_point)`
/// in `[x0, x2, x1, x3]` order — the halfword order `SXTB16` gives four
/// packed weights (`SXTB16 w` → `[w0, w2]`, `SXTB16 w, ROR #8` →
/// `[w1, w3]`). 8 bytes, 8-byte aligned (for `LDRD`/`STRD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(8))]
pub struct Quad(pub [i16; 4]);

/// Where element `i` sits in a staged tensor, counted in i16: groups of
/// four in `[x0, x2, x1, x3]` order (bits 0 and 1 swapped).
#[inline(always)]
pub const fn staged_index(i: usize) -> usize {
    (i & !3) | ((i & 1) << 1) | ((i >> 1) & 1)
}

/// A shape of rank 1 to [`MAX_RANK`], every dimension at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [u32; MAX_RANK],
    rank: u8,
    /// Elements in total (0 past `u32::MAX`: an invalid shape).
    elements: u32,
}

impl Shape {
    /// A shape from its dimensions (outermost first).
    ///
    /// # Panics
    /// When `dims` is empty or longer than [`MAX_RANK`] (a compile error in
    /// a `static`); use [`try_new`](Self::try_new) for untrusted input.
    pub const fn new(dims: &[u32]) -> Shape {
        match Self::try_new(dims) {
            Some(s) => s,
            None => panic!("a shape has 1 to 4 dimensions"),
        }
    }

    /// [`new`](Self::new), or `None` for an empty or too long `dims`.
    /// (Zero dimensions are representable; [`is_valid`](Self::is_valid)
    /// rejects them.)
    pub const fn try_new(dims: &[u32]) -> Option<Shape> {
        if dims.is_empty() || dims.len() > MAX_RANK {
            return None;
        }
        let mut d = [1u32; MAX_RANK];
        let mut n: u64 = 1;
        let mut i = 0;
        while i < dims.len() {
            d[i] = dims[i];
            n *= dims[i] as u64;
            if n > u32::MAX as u64 {
                n = 0;
            }
            i += 1;
        }
        Some(Shape {
            dims: d,
            rank: dims.len() as u8,
            elements: n as u32,
        })
    }

    /// A vector of `n` elements.
    pub const fn vector(n: u32) -> Shape {
        Shape::new(&[n])
    }

    /// The number of dimensions.
    pub const fn rank(&self) -> usize {
        self.rank as usize
    }

    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[u32] {
        self.dims.get(..self.rank as usize).unwrap_or(&[])
    }

    /// The innermost dimension (the feature width of a vector or sequence,
    /// the channels of an image).
    #[inline]
    pub const fn last(&self) -> usize {
        match self.rank {
            1..=4 => self.dims[(self.rank as usize - 1) & (MAX_RANK - 1)] as usize,
            _ => 0,
        }
    }

    /// Elements in total, `None` past `u32::MAX` (or with a zero
    /// dimension, which no valid shape has).
    #[inline]
    pub const fn elements(&self) -> Option<usize> {
        match self.elements {
            0 => None,
            n => Some(n as usize),
        }
    }

    /// Elements of all but the innermost dimension (the rows a
    /// row-wise op such as fully connected or softmax runs over).
    pub const fn rows(&self) -> usize {
        // One read of the innermost dimension: with two, the optimiser
        // cannot tell that the divisor is the one checked non-zero.
        let last = self.last();
        match self.elements() {
            Some(n) if last > 0 => n / last,
            _ => 0,
        }
    }

    /// Rank 1..=4, every dimension ≥ 1, at most `u32::MAX` elements.
    pub fn is_valid(&self) -> bool {
        (1..=MAX_RANK).contains(&self.rank())
            && self.dims().iter().all(|&d| d >= 1)
            && self.elements().is_some()
    }
}

/// A tensor's quantization.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quant<'a> {
    /// Not quantized (f32, i32).
    None,
    /// One scale and zero point for the whole tensor (int8 activations).
    PerTensor(QuantParams),
    /// One scale per slice along `axis`, zero point 0 (symmetric int8
    /// weights, TFLite's per-channel scheme).
    PerChannel {
        /// `(dims[axis],)` scales, each finite and positive.
        scales: &'a [f32],
        /// The channel axis.
        axis: u8,
    },
}

impl Quant<'_> {
    /// The per-tensor parameters, if that is what this is.
    pub const fn per_tensor(&self) -> Option<QuantParams> {
        match self {
            Quant::PerTensor(p) => Some(*p),
            _ => None,
        }
    }
}

/// Where a tensor's values are during an inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// In the arena at this byte offset (a multiple of [`ARENA_ALIGN`]).
    Arena(u32),
    /// The caller's buffer for graph input `k`.
    Input(u8),
    /// The caller's buffer for graph output `k`.
    Output(u8),
}

/// Alignment of every tensor in the arena, and of the arena itself.
pub const ARENA_ALIGN: usize = 8;

/// An activation tensor: what a node reads or writes. (A node's constant
/// parameters — weights, biases, tables — are part of its op, named on the
/// host and in the blob.)
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tensor<'a> {
    /// Its shape.
    pub shape: Shape,
    /// Its element type.
    pub dtype: DType,
    /// Its quantization (per tensor for [`DType::I8`] and
    /// [`DType::Staged`], none for the others).
    pub quant: Quant<'a>,
    /// Where it lives.
    pub storage: Storage,
}

impl<'a> Tensor<'a> {
    /// A tensor in the arena.
    pub const fn arena(shape: Shape, dtype: DType, quant: Quant<'a>, offset: u32) -> Self {
        Tensor {
            shape,
            dtype,
            quant,
            storage: Storage::Arena(offset),
        }
    }

    /// Elements.
    #[inline]
    pub const fn len(&self) -> usize {
        self.shape.elements as usize
    }

    /// Whether it has no elements (never, in a valid graph).
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes it takes (0 when that overflows; a valid graph has none such).
    #[inline]
    pub const fn bytes(&self) -> usize {
        match self.dtype.bytes(self.len()) {
            Some(b) => b,
            None => 0,
        }
    }

    /// The per-tensor quantization, or `None`.
    pub const fn params(&self) -> Option<QuantParams> {
        self.quant.per_tensor()
    }

    /// The arena byte range, for arena tensors.
    pub const fn arena_range(&self) -> Option<(usize, usize)> {
        match self.storage {
            Storage::Arena(o) => Some((o as usize, o as usize + self.bytes())),
            _ => None,
        }
    }

    /// Whether type and quantization agree: quantized types carry valid
    /// per-tensor parameters, the others none; the shape is valid.
    pub fn is_consistent(&self) -> bool {
        let quant_ok = match (self.dtype.is_quantized(), self.quant) {
            (true, Quant::PerTensor(p)) => p.is_valid(),
            (false, Quant::None) => true,
            _ => false,
        };
        quant_ok && self.shape.is_valid() && self.dtype.bytes(self.len()).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_index_swaps_the_middle_pair() {
        let got: [usize; 8] = core::array::from_fn(staged_index);
        assert_eq!(got, [0, 2, 1, 3, 4, 6, 5, 7]);
    }

    #[test]
    fn shapes_count_rows_and_elements() {
        let s = Shape::new(&[128, 64]);
        assert_eq!(
            (s.rank(), s.last(), s.rows(), s.elements()),
            (2, 64, 128, Some(8192))
        );
        assert!(s.is_valid());
        assert!(!Shape::new(&[3, 0]).is_valid());
        assert_eq!(Shape::new(&[3, 0]).elements(), None);
        assert!(Shape::try_new(&[]).is_none());
        assert!(Shape::try_new(&[1, 1, 1, 1, 1]).is_none());
        assert_eq!(Shape::new(&[65536, 65536]).elements(), None);
    }

    #[test]
    fn staged_tensors_take_whole_quads() {
        assert_eq!(DType::Staged.bytes(10), Some(24));
        assert_eq!(DType::Staged.bytes(4), Some(8));
        assert_eq!(DType::F32.bytes(3), Some(12));
        assert_eq!(DType::I8.bytes(3), Some(3));
    }
}
