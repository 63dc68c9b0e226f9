//! The blob layout, version 1 (docs/blob-format.md is the prose version).
//! All integers and floats little-endian; every offset counts from the
//! first byte of the blob; every array starts at a multiple of 4.
//!
//! ```text
//! header        48 B   at 0
//! layer table   48 B × layer_count, at HEADER_LEN
//! payload       arrays (preprocess, weights, bias, multipliers, shifts, tables)
//! crc32         4 B    at total_len − 4, over bytes [0, total_len − 4)
//! ```
//!
//! Header:
//!
//! | off | size | field |
//! |----:|----:|-------|
//! | 0 | 4 | magic `AXON` |
//! | 4 | 2 | format version (`VERSION`) |
//! | 6 | 2 | flags (`FLAG_PREPROCESS`, `FLAG_SINGLE_ROUNDING`; other bits must be 0) |
//! | 8 | 4 | total_len, CRC included |
//! | 12 | 2 | header_len (= `HEADER_LEN`) |
//! | 14 | 2 | layer_count (≥ 1) |
//! | 16 | 4 | input_len |
//! | 20 | 4 | output_len |
//! | 24 | 4 | input scale (f32) |
//! | 28 | 4 | input zero point (i32) |
//! | 32 | 4 | output scale (f32) |
//! | 36 | 4 | output zero point (i32) |
//! | 40 | 4 | preprocess offset: `mean[input_len]` then `std[input_len]`, f32; 0 without `FLAG_PREPROCESS` |
//! | 44 | 4 | reserved, 0 |
//!
//! Layer entry (`ENTRY_LEN` bytes), by kind:
//!
//! | off | size | fully connected | lookup table | softmax |
//! |----:|----:|---|---|---|
//! | 0 | 1 | `KIND_FULLY_CONNECTED` | `KIND_LUT` | `KIND_SOFTMAX` |
//! | 1 | 1 | 0 | function: `LutKind::code` (0 sigmoid, 1 tanh, 2 leaky_relu, 3 gelu, 4 gelu_erf, 5 silu) | 0 |
//! | 2 | 1 | act_min (i8) | 0 | 0 |
//! | 3 | 1 | act_max (i8) | 0 | 0 |
//! | 4 | 4 | input_len | len | len |
//! | 8 | 4 | output_len | len | len |
//! | 12 | 4 | output scale (f32) | output scale | 1/256 |
//! | 16 | 4 | output zero point | output zero point | −128 |
//! | 20 | 4 | input_offset | 0 | input_multiplier |
//! | 24 | 4 | channels (1 or output_len) | 0 | input_left_shift |
//! | 28 | 4 | weights offset (i8, output-major) | table offset (256 × i8) | diff_min |
//! | 32 | 4 | bias offset (i32 × output_len) | 0 | 0 |
//! | 36 | 4 | multiplier offset (i32 × channels) | 0 | 0 |
//! | 40 | 4 | shift offset (i32 × channels) | 0 | 0 |
//! | 44 | 4 | row-sums offset (i32 × output_len, `Σ_d w[c,d]`), 0 = none | 0 | 0 |

/// The four bytes every blob starts with.
pub const MAGIC: [u8; 4] = *b"AXON";
/// The format version this parser reads and the exporter writes.
pub const VERSION: u16 = 1;
/// Header bytes.
pub const HEADER_LEN: usize = 48;
/// Bytes per layer-table entry.
pub const ENTRY_LEN: usize = 48;
/// Alignment of every array in the payload, and of the blob itself in memory.
pub const ALIGN: usize = 4;
/// Bytes of the trailing CRC-32.
pub const CRC_LEN: usize = 4;
/// Flag: the blob carries a standardisation (mean, std) of the input.
pub const FLAG_PREPROCESS: u16 = 1;
/// Flag: every fully connected layer requantizes with single rounding
/// (`Rounding::Single`, the TFLite interpreter's); clear: double rounding
/// (`Rounding::Double`, TFLite Micro's).
pub const FLAG_SINGLE_ROUNDING: u16 = 2;
/// All flags this version knows.
pub const KNOWN_FLAGS: u16 = FLAG_PREPROCESS | FLAG_SINGLE_ROUNDING;

/// Layer kind: int8 fully connected.
pub const KIND_FULLY_CONNECTED: u8 = 1;
/// Layer kind: 256-entry lookup table.
pub const KIND_LUT: u8 = 2;
/// Layer kind: int8 softmax.
pub const KIND_SOFTMAX: u8 = 3;

/// Header field offsets.
pub mod header {
    /// Magic.
    pub const MAGIC: usize = 0;
    /// Format version.
    pub const VERSION: usize = 4;
    /// Flags.
    pub const FLAGS: usize = 6;
    /// Total length.
    pub const TOTAL_LEN: usize = 8;
    /// Header length.
    pub const HEADER_LEN: usize = 12;
    /// Layer count.
    pub const LAYER_COUNT: usize = 14;
    /// Input width.
    pub const INPUT_LEN: usize = 16;
    /// Output width.
    pub const OUTPUT_LEN: usize = 20;
    /// Input scale.
    pub const INPUT_SCALE: usize = 24;
    /// Input zero point.
    pub const INPUT_ZERO_POINT: usize = 28;
    /// Output scale.
    pub const OUTPUT_SCALE: usize = 32;
    /// Output zero point.
    pub const OUTPUT_ZERO_POINT: usize = 36;
    /// Preprocess arrays' offset.
    pub const PREPROCESS: usize = 40;
    /// Reserved word.
    pub const RESERVED: usize = 44;
}

/// Layer-entry field offsets.
pub mod entry {
    /// Kind.
    pub const KIND: usize = 0;
    /// Sub-kind (LUT function).
    pub const SUBKIND: usize = 1;
    /// Lower clamp.
    pub const ACT_MIN: usize = 2;
    /// Upper clamp.
    pub const ACT_MAX: usize = 3;
    /// Input width.
    pub const INPUT_LEN: usize = 4;
    /// Output width.
    pub const OUTPUT_LEN: usize = 8;
    /// Output scale.
    pub const OUTPUT_SCALE: usize = 12;
    /// Output zero point.
    pub const OUTPUT_ZERO_POINT: usize = 16;
    /// Input offset (FC) or softmax input multiplier.
    pub const PARAM_A: usize = 20;
    /// Channels (FC) or softmax left shift.
    pub const PARAM_B: usize = 24;
    /// Weights / table offset, or softmax diff_min.
    pub const DATA: usize = 28;
    /// Bias offset.
    pub const BIAS: usize = 32;
    /// Multiplier offset.
    pub const MULTIPLIER: usize = 36;
    /// Shift offset.
    pub const SHIFT: usize = 40;
    /// Row-sums offset (0 = none).
    pub const ROW_SUMS: usize = 44;
}
