//! The int8 language model's blob, version 1: the one definition that
//! [`parse`] reads and the host's writer (`axon_host::lm::int8`) follows;
//! their round-trip tests hold them together.
//!
//! ```text
//! header    header::LAYOUT (40 B) at 0
//! sections  in the order below, each: u32 count, then `count` elements
//!           (u8, i8 or i32), zero-padded to a multiple of 4 bytes
//! crc32     4 B at total_len − 4, over bytes [0, total_len − 4)
//! ```
//!
//! Sections (`fc` = `fc.params i32[2]` (input zp, output zp), `fc.weights
//! i8[out·in]`, `fc.bias i32[out]`, `fc.multiplier i32[out]`, `fc.shift
//! i32[out]`; `ln` = `ln.params i32[3]` (k, ε' low and high 32 bits),
//! `ln.gain i32[n]`, `ln.bias i32[n]`; `add` = `add.params i32[9]`
//! (input offsets 1 and 2, output offset, then (multiplier, shift) of input
//! 1, input 2, output); `matmul` = `i32[5]` (lhs zp, rhs zp, output zp,
//! multiplier, shift); `softmax` = `i32[3]` (input multiplier, left shift,
//! diff_min)):
//!
//! ```text
//! vocab u8[bytes] (UTF-8, V characters)   tok_emb i8[V·D]   pos_emb i8[T·D]   embed add
//! per block l (names h{l}.…): ln1 ln, q fc, k fc, v fc, scores matmul, softmax,
//!     pv matmul, proj fc, add1 add, ln2 ln, ff1 fc, gelu i8[256], ff2 fc, add2 add
//! ln_f ln   head fc
//! ```
//!
//! All little-endian. The blob must sit at a 4-aligned address (it is
//! viewed in place). Everything a step relies on is checked here once:
//! lengths, ranges of shifts and zero points, UTF-8, the CRC.

use core::fmt;

use crate::crc32::crc32;
use crate::ops::add::{AddInt8, LEFT_SHIFT};
use crate::ops::batch_matmul::MatmulQuant;
use crate::ops::layer_norm::LayerNormQuant;
use crate::ops::Fused;
use crate::quant::{QuantParams, Rounding, SoftmaxParams};

use super::{Block, Fc, LmModel, Parts, Shape};

/// The four bytes an LM blob starts with.
pub const MAGIC: [u8; 4] = *b"AXLM";
/// The version this parser reads.
pub const VERSION: u16 = 1;

crate::blob_layout! {
    /// The header, at byte 0.
    pub mod header = "lm header", 40 {
        /// `AXLM`.
        MAGIC: 0, Ty::Bytes(4);
        /// [`super::VERSION`].
        VERSION: 4, Ty::U16;
        /// Must be 0.
        FLAGS: 6, Ty::U16;
        /// Bytes of the whole blob, CRC included.
        TOTAL_LEN: 8, Ty::U32;
        /// `V`.
        VOCAB: 12, Ty::U16;
        /// `D`.
        D_MODEL: 14, Ty::U16;
        /// `L`.
        N_LAYER: 16, Ty::U16;
        /// `H`.
        N_HEAD: 18, Ty::U16;
        /// `T`.
        CTX: 20, Ty::U16;
        /// `F` − 1.
        D_FF_MINUS_ONE: 22, Ty::U16;
        /// 0: double rounding; 1: single.
        ROUNDING: 24, Ty::U8;
        /// 1 when the f32 model tied its head to the token embedding.
        TIED: 25, Ty::U8;
        /// Must be 0.
        RESERVED0: 26, Ty::U16;
        /// The logits' scale.
        LOGITS_SCALE: 28, Ty::F32;
        /// The logits' zero point.
        LOGITS_ZERO_POINT: 32, Ty::I32;
        /// Must be 0.
        RESERVED1: 36, Ty::U32;
    }
}

/// Where in the model a section belongs: `h{layer}.{item}.{field}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Name {
    /// The block, or `None` outside them.
    pub layer: Option<u8>,
    /// The tensor or op (`q`, `ln1`, `tok_emb`, …).
    pub item: &'static str,
    /// Which of its arrays (`weights`, `params`, …; `data` for plain ones).
    pub field: &'static str,
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = self.layer {
            write!(f, "h{l}.")?;
        }
        write!(f, "{}.{}", self.item, self.field)
    }
}

/// Why an LM blob was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LmBlobError {
    /// Fewer bytes than the header or its `total_len` says.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        found: usize,
    },
    /// Not `AXLM`.
    BadMagic,
    /// A version this parser does not read.
    UnsupportedVersion(u16),
    /// The stored CRC-32 differs from the bytes'.
    ChecksumMismatch {
        /// Stored.
        stored: u32,
        /// Computed.
        computed: u32,
    },
    /// The blob is not at a 4-aligned address.
    UnalignedBuffer,
    /// A header field is impossible.
    BadHeader {
        /// The field.
        field: &'static str,
        /// Why.
        why: &'static str,
    },
    /// A section is malformed.
    BadSection {
        /// Which.
        name: Name,
        /// Why.
        why: &'static str,
    },
    /// Bytes between the last section and the CRC.
    TrailingBytes {
        /// How many.
        len: usize,
    },
}

impl fmt::Display for LmBlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LmBlobError::Truncated { needed, found } => {
                write!(f, "LM blob truncated: needs {needed} bytes, has {found}")
            }
            LmBlobError::BadMagic => write!(f, "not an LM blob (magic is not AXLM)"),
            LmBlobError::UnsupportedVersion(v) => {
                write!(
                    f,
                    "LM blob version {v} is not supported (this build reads {VERSION})"
                )
            }
            LmBlobError::ChecksumMismatch { stored, computed } => write!(
                f,
                "LM blob checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            LmBlobError::UnalignedBuffer => write!(f, "the LM blob is not at a 4-aligned address"),
            LmBlobError::BadHeader { field, why } => write!(f, "LM blob header {field}: {why}"),
            LmBlobError::BadSection { name, why } => write!(f, "LM blob section {name}: {why}"),
            LmBlobError::TrailingBytes { len } => {
                write!(f, "LM blob has {len} unexpected bytes before its checksum")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for LmBlobError {}

fn u16_at(b: &[u8], f: crate::blob::format::Field) -> u16 {
    b.get(f.offset..f.offset + 2)
        .and_then(|s| s.try_into().ok())
        .map(u16::from_le_bytes)
        .unwrap_or(0)
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

/// Reads the sections in order.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    end: usize,
    layer: Option<u8>,
}

impl<'a> Reader<'a> {
    fn name(&self, item: &'static str, field: &'static str) -> Name {
        Name {
            layer: self.layer,
            item,
            field,
        }
    }

    /// The next section's bytes, `count` elements of `size` bytes (`None`:
    /// any count), and its count.
    fn raw(
        &mut self,
        name: Name,
        count: Option<usize>,
        size: usize,
    ) -> Result<(&'a [u8], usize), LmBlobError> {
        let bad = |why| LmBlobError::BadSection { name, why };
        let n = u32_at(self.b, self.at)
            .filter(|_| self.at + 4 <= self.end)
            .ok_or(bad("missing (the blob ends before it)"))? as usize;
        if count.is_some_and(|c| c != n) {
            return Err(bad("has the wrong number of elements for the shape"));
        }
        let start = self.at + 4;
        let len = n.checked_mul(size).ok_or(bad("is too long"))?;
        let stop = start.checked_add(len).ok_or(bad("is too long"))?;
        let padded = stop.checked_add(3).ok_or(bad("is too long"))? & !3;
        if padded > self.end {
            return Err(bad("runs past the end of the blob"));
        }
        let bytes = self
            .b
            .get(start..stop)
            .ok_or(bad("runs past the end of the blob"))?;
        if self
            .b
            .get(stop..padded)
            .is_some_and(|p| p.iter().any(|&v| v != 0))
        {
            return Err(bad("has non-zero padding"));
        }
        self.at = padded;
        Ok((bytes, n))
    }

    fn i8s(
        &mut self,
        item: &'static str,
        field: &'static str,
        count: usize,
    ) -> Result<&'a [i8], LmBlobError> {
        let name = self.name(item, field);
        let (bytes, _) = self.raw(name, Some(count), 1)?;
        Ok(bytemuck::cast_slice(bytes))
    }

    fn i32s(
        &mut self,
        item: &'static str,
        field: &'static str,
        count: usize,
    ) -> Result<&'a [i32], LmBlobError> {
        let name = self.name(item, field);
        let (bytes, _) = self.raw(name, Some(count), 4)?;
        bytemuck::try_cast_slice(bytes).map_err(|_| LmBlobError::UnalignedBuffer)
    }

    fn words<const N: usize>(&mut self, item: &'static str) -> Result<[i32; N], LmBlobError> {
        let s = self.i32s(item, "params", N)?;
        let mut out = [0i32; N];
        for (o, &v) in out.iter_mut().zip(s) {
            *o = v;
        }
        Ok(out)
    }

    fn check(
        &self,
        item: &'static str,
        field: &'static str,
        ok: bool,
        why: &'static str,
    ) -> Result<(), LmBlobError> {
        if ok {
            Ok(())
        } else {
            Err(LmBlobError::BadSection {
                name: self.name(item, field),
                why,
            })
        }
    }

    fn zero_point(&self, item: &'static str, zp: i32) -> Result<(), LmBlobError> {
        self.check(
            item,
            "params",
            (-128..=127).contains(&zp),
            "a zero point is outside -128..=127",
        )
    }

    fn fc(&mut self, item: &'static str, d_in: usize, d_out: usize) -> Result<Fc<'a>, LmBlobError> {
        let [input_zero_point, output_zero_point] = self.words::<2>(item)?;
        self.zero_point(item, input_zero_point)?;
        self.zero_point(item, output_zero_point)?;
        let weights = self.i8s(item, "weights", d_in * d_out)?;
        let bias = self.i32s(item, "bias", d_out)?;
        let multiplier = self.i32s(item, "multiplier", d_out)?;
        let shift = self.i32s(item, "shift", d_out)?;
        self.check(
            item,
            "multiplier",
            multiplier.iter().all(|&m| m >= 0),
            "a multiplier is negative",
        )?;
        self.check(
            item,
            "shift",
            shift.iter().all(|s| (-31..=30).contains(s)),
            "a shift is outside -31..=30",
        )?;
        Ok(Fc {
            weights,
            bias,
            multiplier,
            shift,
            input_zero_point,
            output_zero_point,
        })
    }

    fn ln(&mut self, item: &'static str, n: usize) -> Result<LayerNormQuant<'a>, LmBlobError> {
        let [k, lo, hi] = self.words::<3>(item)?;
        let gain = self.i32s(item, "gain", n)?;
        let bias = self.i32s(item, "bias", n)?;
        let p = LayerNormQuant {
            gain,
            bias,
            shift: k as u32,
            epsilon: (lo as u32 as u64) | ((hi as u32 as u64) << 32),
        };
        p.check().map_err(|why| LmBlobError::BadSection {
            name: self.name(item, "params"),
            why,
        })?;
        Ok(p)
    }

    fn add(&mut self, item: &'static str, rounding: Rounding) -> Result<AddInt8, LmBlobError> {
        let w = self.words::<9>(item)?;
        for &off in &w[..3] {
            self.zero_point(item, off)?;
        }
        let shifts_ok = [w[4], w[6], w[8]].iter().all(|s| (-31..=0).contains(s));
        let mults_ok = [w[3], w[5], w[7]].iter().all(|&m| m >= 0);
        self.check(
            item,
            "params",
            shifts_ok && mults_ok,
            "a multiplier is negative or a shift is outside -31..=0",
        )?;
        Ok(AddInt8 {
            input1_offset: w[0],
            input2_offset: w[1],
            output_offset: w[2],
            left_shift: LEFT_SHIFT,
            input1: (w[3], w[4]),
            input2: (w[5], w[6]),
            output: (w[7], w[8]),
            activation: Fused::None,
            act_min: -128,
            act_max: 127,
            rounding,
        })
    }

    fn matmul(
        &mut self,
        item: &'static str,
        rounding: Rounding,
    ) -> Result<MatmulQuant, LmBlobError> {
        let w = self.words::<5>(item)?;
        for &zp in &w[..3] {
            self.zero_point(item, zp)?;
        }
        self.check(
            item,
            "params",
            w[3] >= 0 && (-31..=30).contains(&w[4]),
            "its multiplier is negative or its shift outside -31..=30",
        )?;
        Ok(MatmulQuant {
            lhs_zero_point: w[0],
            rhs_zero_point: w[1],
            output_zero_point: w[2],
            multiplier: w[3],
            shift: w[4],
            rounding,
        })
    }

    fn softmax(&mut self) -> Result<SoftmaxParams, LmBlobError> {
        let w = self.words::<3>("softmax")?;
        let p = SoftmaxParams {
            input_multiplier: w[0],
            input_left_shift: w[1],
            diff_min: w[2],
        };
        self.check(
            "softmax",
            "params",
            p.is_valid(),
            "its parameters are out of range",
        )?;
        Ok(p)
    }
}

/// Parses and checks an LM blob, viewing its arrays in place.
pub fn parse(bytes: &[u8]) -> Result<LmModel<'_>, LmBlobError> {
    use header as h;
    if !(bytes.as_ptr() as usize).is_multiple_of(4) {
        return Err(LmBlobError::UnalignedBuffer);
    }
    if bytes.len() < h::LAYOUT.len + 4 {
        return Err(LmBlobError::Truncated {
            needed: h::LAYOUT.len + 4,
            found: bytes.len(),
        });
    }
    if bytes.get(..4) != Some(&MAGIC[..]) {
        return Err(LmBlobError::BadMagic);
    }
    let version = u16_at(bytes, h::VERSION);
    if version != VERSION {
        return Err(LmBlobError::UnsupportedVersion(version));
    }
    let total = u32_at(bytes, h::TOTAL_LEN.offset).unwrap_or(0) as usize;
    if total > bytes.len() {
        return Err(LmBlobError::Truncated {
            needed: total,
            found: bytes.len(),
        });
    }
    if total < h::LAYOUT.len + 4 || !total.is_multiple_of(4) {
        return Err(LmBlobError::BadHeader {
            field: "TOTAL_LEN",
            why: "is below the header or not a multiple of 4",
        });
    }
    let end = total - 4;
    let body = bytes.get(..end).ok_or(LmBlobError::Truncated {
        needed: total,
        found: bytes.len(),
    })?;
    let stored = u32_at(bytes, end).unwrap_or(0);
    let computed = crc32(body);
    if stored != computed {
        return Err(LmBlobError::ChecksumMismatch { stored, computed });
    }
    let header_bad = |field, why| LmBlobError::BadHeader { field, why };
    if u16_at(bytes, h::FLAGS) != 0
        || u16_at(bytes, h::RESERVED0) != 0
        || u32_at(bytes, h::RESERVED1.offset) != Some(0)
    {
        return Err(header_bad("FLAGS/RESERVED", "must be 0"));
    }
    let byte = |f: crate::blob::format::Field| bytes.get(f.offset).copied().unwrap_or(0);
    let rounding = match byte(h::ROUNDING) {
        0 => Rounding::Double,
        1 => Rounding::Single,
        _ => {
            return Err(header_bad(
                "ROUNDING",
                "is neither 0 (double) nor 1 (single)",
            ))
        }
    };
    let tied = match byte(h::TIED) {
        0 => false,
        1 => true,
        _ => return Err(header_bad("TIED", "is neither 0 nor 1")),
    };
    let shape = Shape {
        vocab: u16_at(bytes, h::VOCAB) as usize,
        d_model: u16_at(bytes, h::D_MODEL) as usize,
        n_layer: u16_at(bytes, h::N_LAYER) as usize,
        n_head: u16_at(bytes, h::N_HEAD) as usize,
        ctx: u16_at(bytes, h::CTX) as usize,
        d_ff: u16_at(bytes, h::D_FF_MINUS_ONE) as usize + 1,
        tied,
    };
    shape.check().map_err(|why| header_bad("shape", why))?;
    let logits = QuantParams::new(
        f32::from_bits(u32_at(bytes, h::LOGITS_SCALE.offset).unwrap_or(0)),
        u32_at(bytes, h::LOGITS_ZERO_POINT.offset).unwrap_or(0) as i32,
    );
    if !logits.is_valid() {
        return Err(header_bad(
            "LOGITS_SCALE/ZERO_POINT",
            "not a positive finite scale and an int8 zero point",
        ));
    }

    let (v, d, t, f) = (shape.vocab, shape.d_model, shape.ctx, shape.d_ff);
    let mut r = Reader {
        b: bytes,
        at: h::LAYOUT.len,
        end,
        layer: None,
    };
    let vocab_name = r.name("vocab", "data");
    let (vocab_bytes, _) = r.raw(vocab_name, None, 1)?;
    let vocab = core::str::from_utf8(vocab_bytes).map_err(|_| LmBlobError::BadSection {
        name: vocab_name,
        why: "is not UTF-8",
    })?;
    if vocab.chars().count() != v {
        return Err(LmBlobError::BadSection {
            name: vocab_name,
            why: "does not hold exactly V characters",
        });
    }
    let tok_emb = r.i8s("tok_emb", "data", v * d)?;
    let pos_emb = r.i8s("pos_emb", "data", t * d)?;
    let embed = r.add("embed", rounding)?;
    let mut blocks: [Option<Block<'_>>; super::MAX_LAYERS] = [None; super::MAX_LAYERS];
    for (l, slot) in blocks.iter_mut().enumerate().take(shape.n_layer) {
        r.layer = Some(l as u8);
        let ln1 = r.ln("ln1", d)?;
        let q = r.fc("q", d, d)?;
        let k = r.fc("k", d, d)?;
        let vv = r.fc("v", d, d)?;
        let scores = r.matmul("scores", rounding)?;
        let softmax = r.softmax()?;
        let pv = r.matmul("pv", rounding)?;
        r.check(
            "pv",
            "params",
            pv.lhs_zero_point == -128,
            "the probabilities' zero point is not -128",
        )?;
        let proj = r.fc("proj", d, d)?;
        let add1 = r.add("add1", rounding)?;
        let ln2 = r.ln("ln2", d)?;
        let ff1 = r.fc("ff1", d, f)?;
        let gelu: &[i8; 256] =
            r.i8s("gelu", "data", 256)?
                .try_into()
                .map_err(|_| LmBlobError::BadSection {
                    name: r.name("gelu", "data"),
                    why: "is not 256 codes",
                })?;
        let ff2 = r.fc("ff2", f, d)?;
        let add2 = r.add("add2", rounding)?;
        let b = Block {
            ln1,
            q,
            k,
            v: vv,
            scores,
            softmax,
            pv,
            proj,
            add1,
            ln2,
            ff1,
            gelu,
            ff2,
            add2,
        };
        *slot = Some(b);
    }
    r.layer = None;
    let ln_f = r.ln("ln_f", d)?;
    let head = r.fc("head", d, v)?;
    if r.at != end {
        return Err(LmBlobError::TrailingBytes { len: end - r.at });
    }
    let mut list = [blocks[0].ok_or(header_bad("N_LAYER", "is 0"))?; super::MAX_LAYERS];
    for (slot, b) in list.iter_mut().zip(blocks.iter().flatten()) {
        *slot = *b;
    }
    let blocks = list.get(..shape.n_layer).unwrap_or(&[]);
    let parts = Parts {
        shape,
        rounding,
        vocab,
        tok_emb,
        pos_emb,
        embed,
        blocks,
        ln_f,
        head,
        logits,
    };
    LmModel::new(parts).map_err(|why| header_bad("shape", why))
}
