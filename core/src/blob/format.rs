//! The blob layout, version 2: the one definition that the parser
//! ([`super::parse`]), the host's writer and `docs/blob-format.md` follow.
//! Every fixed-size structure is a [`Layout`] of [`Field`]s; a test reads
//! the doc's tables and fails if they and these disagree.
//!
//! ```text
//! header        HEADER.len bytes at 0
//! tensor table  TENSOR.len × tensor_count, at `tensors`
//! node table    NODE.len × node_count, at `nodes`
//! graph io      u16 × (input_count + output_count), at `io`: input tensor ids, then output ids
//! payload       per node: its input and output ids (u16), its op's record
//!               (the op's own Layout, in its folder's blob.rs), the record's arrays
//! strings       names, each UTF-8 ending in a NUL byte, at `strings`
//! crc32         4 B at total_len − 4, over bytes [0, total_len − 4)
//! ```
//!
//! All integers and floats little-endian; every offset counts from the
//! first byte of the blob; every table, record and array starts at a
//! multiple of [`ALIGN`]. A name is an offset into the string section
//! ([`NO_NAME`] for none).

/// The four bytes every blob starts with.
pub const MAGIC: [u8; 4] = *b"AXON";
/// The format version this parser reads and the exporter writes.
pub const VERSION: u16 = 2;
/// Alignment of every table, record and array, and of the blob in memory.
pub const ALIGN: usize = 4;
/// Bytes of the trailing CRC-32.
pub const CRC_LEN: usize = 4;
/// A name field's value when there is no name.
pub const NO_NAME: u32 = u32::MAX;

/// How a field's bytes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// Unsigned byte.
    U8,
    /// Signed byte.
    I8,
    /// Unsigned 16-bit.
    U16,
    /// Unsigned 32-bit.
    U32,
    /// Signed 32-bit.
    I32,
    /// IEEE-754 binary32.
    F32,
    /// An offset (u32) of an array of `elem`, or 0 for none where the field
    /// says so.
    Offset(Elem),
    /// A fixed run of bytes.
    Bytes(usize),
}

/// The element type of an array a field points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    /// int8.
    I8,
    /// uint16.
    U16,
    /// int32.
    I32,
    /// f32.
    F32,
}

impl Ty {
    /// Bytes the field takes.
    pub const fn size(self) -> usize {
        match self {
            Ty::U8 | Ty::I8 => 1,
            Ty::U16 => 2,
            Ty::U32 | Ty::I32 | Ty::F32 | Ty::Offset(_) => 4,
            Ty::Bytes(n) => n,
        }
    }

    /// The name the documentation uses.
    pub const fn name(self) -> &'static str {
        match self {
            Ty::U8 => "u8",
            Ty::I8 => "i8",
            Ty::U16 => "u16",
            Ty::U32 => "u32",
            Ty::I32 => "i32",
            Ty::F32 => "f32",
            Ty::Offset(Elem::I8) => "offset → i8[]",
            Ty::Offset(Elem::U16) => "offset → u16[]",
            Ty::Offset(Elem::I32) => "offset → i32[]",
            Ty::Offset(Elem::F32) => "offset → f32[]",
            Ty::Bytes(_) => "bytes",
        }
    }
}

/// One field of a fixed-size structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Its name (as in the documentation).
    pub name: &'static str,
    /// Byte offset inside its structure.
    pub offset: usize,
    /// Its type.
    pub ty: Ty,
}

impl Field {
    /// A field.
    pub const fn new(name: &'static str, offset: usize, ty: Ty) -> Field {
        Field { name, offset, ty }
    }

    /// One past its last byte.
    pub const fn end(&self) -> usize {
        self.offset + self.ty.size()
    }
}

/// A fixed-size structure: its fields, back to back from offset 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Its name (a doc section).
    pub name: &'static str,
    /// Its size in bytes (a multiple of [`ALIGN`]).
    pub len: usize,
    /// Its fields in order.
    pub fields: &'static [Field],
}

impl Layout {
    /// Whether the fields tile `0..len` with no gap or overlap and `len`
    /// is a multiple of [`ALIGN`], and every 4-byte field is 4-aligned:
    /// checked for every layout at compile time.
    pub const fn is_well_formed(&self) -> bool {
        let mut at = 0;
        let mut i = 0;
        while i < self.fields.len() {
            let f = &self.fields[i];
            if f.offset != at || (f.ty.size() == 4 && !f.offset.is_multiple_of(4)) {
                return false;
            }
            at = f.end();
            i += 1;
        }
        at == self.len && self.len.is_multiple_of(ALIGN)
    }
}

/// Defines a module of [`Field`] constants and their [`Layout`],
/// checked at compile time.
#[macro_export]
#[doc(hidden)]
macro_rules! blob_layout {
    ($(#[$m:meta])* $vis:vis mod $name:ident = $title:literal, $len:literal {
        $( $(#[$fm:meta])* $field:ident: $off:literal, $ty:expr; )*
    }) => {
        $(#[$m])*
        $vis mod $name {
            #[allow(unused_imports)]
            use $crate::blob::format::{Elem, Field, Layout, Ty};
            $(
                $(#[$fm])*
                pub const $field: Field = Field::new(stringify!($field), $off, $ty);
            )*
            /// The whole structure.
            pub const LAYOUT: Layout = Layout {
                name: $title,
                len: $len,
                fields: &[$($field),*],
            };
            const _: () = assert!(LAYOUT.is_well_formed(), "fields must tile the structure");
        }
    };
}

blob_layout! {
    /// The header, at byte 0.
    pub mod header = "header", 64 {
        /// `AXON`.
        MAGIC: 0, Ty::Bytes(4);
        /// [`super::VERSION`].
        VERSION: 4, Ty::U16;
        /// No flags are defined; must be 0.
        FLAGS: 6, Ty::U16;
        /// Bytes of the whole blob, CRC included.
        TOTAL_LEN: 8, Ty::U32;
        /// [`LAYOUT`]`.len`.
        HEADER_LEN: 12, Ty::U16;
        /// `super::tensor::LAYOUT.len`.
        TENSOR_LEN: 14, Ty::U16;
        /// `super::node::LAYOUT.len`.
        NODE_LEN: 16, Ty::U16;
        /// Tensors in the tensor table (≥ 2).
        TENSOR_COUNT: 18, Ty::U16;
        /// Nodes in the node table, in execution order (≥ 1).
        NODE_COUNT: 20, Ty::U16;
        /// Graph inputs (≥ 1).
        INPUT_COUNT: 22, Ty::U16;
        /// Graph outputs (≥ 1).
        OUTPUT_COUNT: 24, Ty::U16;
        /// Must be 0.
        RESERVED0: 26, Ty::U16;
        /// Offset of the tensor table.
        TENSORS: 28, Ty::U32;
        /// Offset of the node table.
        NODES: 32, Ty::U32;
        /// Offset of the graph's input then output tensor ids.
        IO: 36, Ty::Offset(Elem::U16);
        /// Bytes of arena the plan needs.
        ARENA_LEN: 40, Ty::U32;
        /// Offset of the string section.
        STRINGS: 44, Ty::U32;
        /// Bytes of the string section.
        STRINGS_LEN: 48, Ty::U32;
        /// The model's name ([`super::NO_NAME`]: none).
        NAME: 52, Ty::U32;
        /// Must be 0.
        RESERVED1: 56, Ty::U32;
        /// Must be 0.
        RESERVED2: 60, Ty::U32;
    }
}

blob_layout! {
    /// One tensor-table entry.
    pub mod tensor = "tensor entry", 40 {
        /// `DType` code: 0 f32, 1 i8, 2 i32, 3 staged.
        DTYPE: 0, Ty::U8;
        /// Dimensions used, 1..=4.
        RANK: 1, Ty::U8;
        /// 0 arena, 1 graph input, 2 graph output.
        STORAGE: 2, Ty::U8;
        /// The input or output index (0 for arena tensors).
        INDEX: 3, Ty::U8;
        /// Outermost dimension.
        DIM0: 4, Ty::U32;
        /// Second dimension (1 past the rank).
        DIM1: 8, Ty::U32;
        /// Third dimension (1 past the rank).
        DIM2: 12, Ty::U32;
        /// Fourth dimension (1 past the rank).
        DIM3: 16, Ty::U32;
        /// Quantization scale (0 for unquantized types).
        SCALE: 20, Ty::F32;
        /// Quantization zero point (0 for unquantized types).
        ZERO_POINT: 24, Ty::I32;
        /// Arena byte offset (arena tensors; 0 otherwise).
        ARENA_OFFSET: 28, Ty::U32;
        /// The tensor's name.
        NAME: 32, Ty::U32;
        /// Must be 0.
        RESERVED: 36, Ty::U32;
    }
}

blob_layout! {
    /// One node-table entry.
    pub mod node = "node entry", 24 {
        /// The op's code (`ops::Op::ALL`).
        OP: 0, Ty::U8;
        /// Input tensors (1..=`ops::MAX_INPUTS`).
        INPUTS: 1, Ty::U8;
        /// Output tensors (1).
        OUTPUTS: 2, Ty::U8;
        /// Must be 0.
        RESERVED0: 3, Ty::U8;
        /// Offset of the input ids then output ids (u16 each).
        IDS: 4, Ty::Offset(Elem::U16);
        /// Offset of the op's record.
        RECORD: 8, Ty::U32;
        /// Bytes of the record (its op's layout length).
        RECORD_LEN: 12, Ty::U32;
        /// The node's name.
        NAME: 16, Ty::U32;
        /// Must be 0.
        RESERVED1: 20, Ty::U32;
    }
}

/// Storage codes in a tensor entry.
pub mod storage {
    /// In the arena.
    pub const ARENA: u8 = 0;
    /// A graph input.
    pub const INPUT: u8 = 1;
    /// A graph output.
    pub const OUTPUT: u8 = 2;
}
