//! The blob parser: validates every field once, then hands out layers that
//! borrow the blob's bytes in place (no allocation, no copy of weights).

use super::error::BlobError;
use super::format::{self as fmt, entry, header};
use crate::crc32::crc32;
use crate::int8::{FullyConnected, Layer, Layers, LutKind, LutLayer, Model, Standardize};
use crate::quant::softmax::{SoftmaxParams, SOFTMAX_OUTPUT};
use crate::quant::{QuantParams, Rounding};

/// Bytes at `off..off + N`, or `None` past the end.
#[inline]
fn bytes_at<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    b.get(off..end)?.try_into().ok()
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    bytes_at::<2>(b, off).map(u16::from_le_bytes)
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    bytes_at::<4>(b, off).map(u32::from_le_bytes)
}

fn i32_at(b: &[u8], off: usize) -> Option<i32> {
    bytes_at::<4>(b, off).map(i32::from_le_bytes)
}

fn f32_at(b: &[u8], off: usize) -> Option<f32> {
    bytes_at::<4>(b, off).map(f32::from_le_bytes)
}

/// A validated blob's layer table: decodes layer `i` on demand, borrowing
/// the arrays from the blob.
#[derive(Debug, Clone, Copy)]
pub struct LayerTable<'a> {
    /// The blob, `total_len` bytes, 4-aligned in memory, checksum verified.
    blob: &'a [u8],
    /// Number of entries.
    count: usize,
    /// The rounding of every fully connected layer (`FLAG_SINGLE_ROUNDING`).
    rounding: Rounding,
}

impl<'a> LayerTable<'a> {
    /// Number of layers.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the table is empty (never, for a parsed blob).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Layer `i`; `None` past the end. Every entry was validated by
    /// [`parse`], so this does not fail for `i < len()`.
    pub fn get(&self, i: usize) -> Option<Layer<'a>> {
        if i >= self.count {
            return None;
        }
        // Parsing verified every entry; inference skips the O(weights) checks.
        self.decode(i, false).ok()
    }

    /// Output width of layer `i` (read from its entry without decoding the
    /// layer); `None` past the end.
    pub fn output_len(&self, i: usize) -> Option<usize> {
        if i >= self.count {
            return None;
        }
        let at = fmt::HEADER_LEN + i * fmt::ENTRY_LEN + entry::OUTPUT_LEN;
        u32_at(self.blob, at).map(|w| w as usize)
    }

    /// The payload: after the layer table, before the CRC.
    fn payload(&self) -> (usize, usize) {
        let start = fmt::HEADER_LEN + self.count * fmt::ENTRY_LEN;
        (start, self.blob.len().saturating_sub(fmt::CRC_LEN))
    }

    /// An array of `count` elements of `T` at `offset`, inside the payload,
    /// 4-aligned, viewed in place.
    fn array<T: bytemuck::Pod>(&self, offset: u32, count: usize) -> Result<&'a [T], BlobError> {
        let offset = offset as usize;
        let len =
            count
                .checked_mul(core::mem::size_of::<T>())
                .ok_or(BlobError::OffsetOutOfRange {
                    offset,
                    len: usize::MAX,
                })?;
        if !offset.is_multiple_of(fmt::ALIGN) {
            return Err(BlobError::Misaligned { offset });
        }
        let (start, end) = self.payload();
        let stop = offset
            .checked_add(len)
            .ok_or(BlobError::OffsetOutOfRange { offset, len })?;
        if offset < start || stop > end {
            return Err(BlobError::OffsetOutOfRange { offset, len });
        }
        let bytes = self
            .blob
            .get(offset..stop)
            .ok_or(BlobError::OffsetOutOfRange { offset, len })?;
        bytemuck::try_cast_slice(bytes).map_err(|_| BlobError::UnalignedBuffer)
    }

    /// Decodes entry `i` on its own (chaining is checked by [`parse`]).
    /// Field ranges and array bounds are always checked; with `verify`, also
    /// the per-element checks (shift ranges, row sums) that [`parse`] runs
    /// once so that each inference need not.
    fn decode(&self, i: usize, verify: bool) -> Result<Layer<'a>, BlobError> {
        let base = fmt::HEADER_LEN + i * fmt::ENTRY_LEN;
        let e = self
            .blob
            .get(base..base + fmt::ENTRY_LEN)
            .ok_or(BlobError::Truncated {
                needed: base + fmt::ENTRY_LEN,
                found: self.blob.len(),
            })?;
        // `e` is exactly ENTRY_LEN bytes, so every fixed read below succeeds;
        // `unwrap_or(0)` keeps the path panic-free regardless.
        let byte = |off: usize| e.get(off).copied().unwrap_or(0);
        let word = |off: usize| u32_at(e, off).unwrap_or(0);
        let int = |off: usize| i32_at(e, off).unwrap_or(0);
        let reserved = |offs: &[usize]| -> Result<(), BlobError> {
            for &off in offs {
                let nonzero = if off < 4 {
                    byte(off) != 0
                } else {
                    word(off) != 0
                };
                if nonzero {
                    return Err(BlobError::ReservedNotZero { offset: base + off });
                }
            }
            Ok(())
        };
        let kind = byte(entry::KIND);
        let input_len = word(entry::INPUT_LEN) as usize;
        let output_len = word(entry::OUTPUT_LEN) as usize;
        let output = QuantParams::new(
            f32_at(e, entry::OUTPUT_SCALE).unwrap_or(f32::NAN),
            int(entry::OUTPUT_ZERO_POINT),
        );
        if input_len == 0 || output_len == 0 {
            return Err(BlobError::ShapesDoNotChain { layer: i });
        }
        match kind {
            fmt::KIND_FULLY_CONNECTED => {
                reserved(&[entry::SUBKIND])?;
                let row_sums = match word(entry::ROW_SUMS) {
                    0 => None,
                    off => Some(self.array::<i32>(off, output_len)?),
                };
                let channels = word(entry::PARAM_B) as usize;
                if channels != 1 && channels != output_len {
                    return Err(BlobError::BadQuantParams { layer: i });
                }
                let n = input_len
                    .checked_mul(output_len)
                    .ok_or(BlobError::OffsetOutOfRange {
                        offset: word(entry::DATA) as usize,
                        len: usize::MAX,
                    })?;
                let fc = FullyConnected {
                    input_len,
                    output_len,
                    weights: self.array::<i8>(word(entry::DATA), n)?,
                    bias: self.array::<i32>(word(entry::BIAS), output_len)?,
                    multiplier: self.array::<i32>(word(entry::MULTIPLIER), channels)?,
                    shift: self.array::<i32>(word(entry::SHIFT), channels)?,
                    input_offset: int(entry::PARAM_A),
                    output,
                    act_min: byte(entry::ACT_MIN) as i8,
                    act_max: byte(entry::ACT_MAX) as i8,
                    row_sums,
                    rounding: self.rounding,
                };
                if verify && !fc.is_consistent() {
                    return Err(BlobError::BadQuantParams { layer: i });
                }
                if verify && !fc.row_sums_match() {
                    return Err(BlobError::RowSumsMismatch { layer: i });
                }
                Ok(Layer::FullyConnected(fc))
            }
            fmt::KIND_LUT => {
                let sub = byte(entry::SUBKIND);
                let lut_kind = LutKind::from_code(sub).ok_or(BlobError::UnknownLayerKind {
                    layer: i,
                    kind: sub,
                })?;
                reserved(&[
                    entry::ACT_MIN,
                    entry::ACT_MAX,
                    entry::PARAM_A,
                    entry::PARAM_B,
                    entry::BIAS,
                    entry::MULTIPLIER,
                    entry::SHIFT,
                    entry::ROW_SUMS,
                ])?;
                if input_len != output_len {
                    return Err(BlobError::ShapesDoNotChain { layer: i });
                }
                if !output.is_valid() {
                    return Err(BlobError::BadQuantParams { layer: i });
                }
                let table: &'a [i8; 256] = self
                    .array::<i8>(word(entry::DATA), 256)?
                    .try_into()
                    .map_err(|_| BlobError::OffsetOutOfRange {
                        offset: word(entry::DATA) as usize,
                        len: 256,
                    })?;
                Ok(Layer::Lut(LutLayer {
                    kind: lut_kind,
                    len: input_len,
                    table,
                    output,
                }))
            }
            fmt::KIND_SOFTMAX => {
                reserved(&[
                    entry::SUBKIND,
                    entry::ACT_MIN,
                    entry::ACT_MAX,
                    entry::BIAS,
                    entry::MULTIPLIER,
                    entry::SHIFT,
                    entry::ROW_SUMS,
                ])?;
                if input_len != output_len {
                    return Err(BlobError::ShapesDoNotChain { layer: i });
                }
                let params = SoftmaxParams {
                    input_multiplier: int(entry::PARAM_A),
                    input_left_shift: int(entry::PARAM_B),
                    diff_min: int(entry::DATA),
                };
                if !params.is_valid() || output != SOFTMAX_OUTPUT {
                    return Err(BlobError::BadQuantParams { layer: i });
                }
                // A blob carries no exponential table: its softmax computes
                // each exponential (the same bits as the table's lookup).
                Ok(Layer::Softmax {
                    len: input_len,
                    params,
                    exp_table: None,
                })
            }
            other => Err(BlobError::UnknownLayerKind {
                layer: i,
                kind: other,
            }),
        }
    }
}

/// Parses and validates a blob in place. `bytes` may be longer than the
/// blob (a flash region); the blob's own `total_len` bounds what is read.
/// The buffer must start at a 4-byte boundary in memory.
///
/// Checks, in order: magic, version, header length and total length
/// (truncation), CRC-32, flags and reserved fields, buffer alignment,
/// then the model header, preprocess arrays and every layer (kinds,
/// widths, array offsets and alignment, quantization ranges), and
/// finally that widths and quantization parameters chain from the input
/// to the output.
pub fn parse(bytes: &[u8]) -> Result<Model<'_>, BlobError> {
    if cfg!(target_endian = "big") {
        return Err(BlobError::BigEndianHost);
    }
    match bytes_at::<4>(bytes, header::MAGIC) {
        Some(m) if m == fmt::MAGIC => {}
        Some(_) => return Err(BlobError::BadMagic),
        None => {
            return Err(BlobError::Truncated {
                needed: fmt::HEADER_LEN,
                found: bytes.len(),
            })
        }
    }
    let truncated = || BlobError::Truncated {
        needed: fmt::HEADER_LEN,
        found: bytes.len(),
    };
    let version = u16_at(bytes, header::VERSION).ok_or_else(truncated)?;
    if version != fmt::VERSION {
        return Err(BlobError::UnsupportedVersion(version));
    }
    if bytes.len() < fmt::HEADER_LEN {
        return Err(truncated());
    }
    let h = |off| u32_at(bytes, off).ok_or_else(truncated);
    let total_len = h(header::TOTAL_LEN)? as usize;
    let header_len = u16_at(bytes, header::HEADER_LEN).ok_or_else(truncated)? as usize;
    let count = u16_at(bytes, header::LAYER_COUNT).ok_or_else(truncated)? as usize;
    let table_end = fmt::HEADER_LEN + count * fmt::ENTRY_LEN;
    if header_len != fmt::HEADER_LEN || total_len < table_end + fmt::CRC_LEN {
        return Err(BlobError::BadHeader);
    }
    if bytes.len() < total_len {
        return Err(BlobError::Truncated {
            needed: total_len,
            found: bytes.len(),
        });
    }
    let blob = bytes.get(..total_len).ok_or(BlobError::Truncated {
        needed: total_len,
        found: bytes.len(),
    })?;
    let body = total_len - fmt::CRC_LEN;
    let stored = u32_at(blob, body).ok_or(BlobError::BadHeader)?;
    let computed = crc32(blob.get(..body).ok_or(BlobError::BadHeader)?);
    if stored != computed {
        return Err(BlobError::ChecksumMismatch { stored, computed });
    }

    let flags = u16_at(blob, header::FLAGS).ok_or(BlobError::BadHeader)?;
    if flags & !fmt::KNOWN_FLAGS != 0 {
        return Err(BlobError::UnknownFlags(flags));
    }
    let word = |off| u32_at(blob, off).ok_or(BlobError::BadHeader);
    if word(header::RESERVED)? != 0 {
        return Err(BlobError::ReservedNotZero {
            offset: header::RESERVED,
        });
    }
    if !blob.as_ptr().addr().is_multiple_of(fmt::ALIGN) {
        return Err(BlobError::UnalignedBuffer);
    }
    if count == 0 {
        return Err(BlobError::NoLayers);
    }
    let rounding = if flags & fmt::FLAG_SINGLE_ROUNDING != 0 {
        Rounding::Single
    } else {
        Rounding::Double
    };
    let table = LayerTable {
        blob,
        count,
        rounding,
    };

    let input_len = word(header::INPUT_LEN)? as usize;
    let output_len = word(header::OUTPUT_LEN)? as usize;
    if input_len == 0 {
        return Err(BlobError::ShapesDoNotChain { layer: 0 });
    }
    if output_len == 0 {
        return Err(BlobError::ShapesDoNotChain { layer: count });
    }
    let f = |off| f32_at(blob, off).ok_or(BlobError::BadHeader);
    let i = |off| i32_at(blob, off).ok_or(BlobError::BadHeader);
    let input = QuantParams::new(f(header::INPUT_SCALE)?, i(header::INPUT_ZERO_POINT)?);
    let output = QuantParams::new(f(header::OUTPUT_SCALE)?, i(header::OUTPUT_ZERO_POINT)?);
    if !input.is_valid() || !output.is_valid() {
        return Err(BlobError::BadQuantParams { layer: count });
    }

    let pre_off = word(header::PREPROCESS)?;
    let preprocess = if flags & fmt::FLAG_PREPROCESS != 0 {
        let both = table.array::<f32>(pre_off, input_len.saturating_mul(2))?;
        let (mean, std) = both.split_at(input_len);
        let ok =
            mean.iter().all(|m| m.is_finite()) && std.iter().all(|s| s.is_finite() && *s != 0.0);
        if !ok {
            return Err(BlobError::BadQuantParams { layer: count });
        }
        Some(Standardize { mean, std })
    } else {
        if pre_off != 0 {
            return Err(BlobError::ReservedNotZero {
                offset: header::PREPROCESS,
            });
        }
        None
    };

    let mut width = input_len;
    let mut params = input;
    for index in 0..count {
        let layer = table.decode(index, true)?;
        if layer.input_len() != width {
            return Err(BlobError::ShapesDoNotChain { layer: index });
        }
        if let Layer::FullyConnected(fc) = &layer {
            if fc.input_offset != -params.zero_point {
                return Err(BlobError::QuantParamsDoNotChain { layer: index });
            }
        }
        width = layer.output_len();
        params = layer.output_params();
    }
    if width != output_len {
        return Err(BlobError::ShapesDoNotChain { layer: count });
    }
    if params != output {
        return Err(BlobError::QuantParamsDoNotChain { layer: count });
    }
    Ok(Model {
        input_len,
        output_len,
        preprocess,
        input,
        output,
        layers: Layers::Blob(table),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::format::{entry as e, header as h, ENTRY_LEN, HEADER_LEN};

    /// A hand-built blob: one fully connected layer 2 → 1, no preprocess.
    /// (The host's exporter writes real ones; this keeps the parser's own
    /// tests — and Miri's view of the in-place casts — free of it.)
    fn tiny() -> [u32; 32] {
        let mut b = [0u8; 128];
        let put = |b: &mut [u8], off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
        put(&mut b, h::MAGIC, b"AXON");
        put(&mut b, h::VERSION, &1u16.to_le_bytes());
        put(&mut b, h::HEADER_LEN, &(HEADER_LEN as u16).to_le_bytes());
        put(&mut b, h::LAYER_COUNT, &1u16.to_le_bytes());
        put(&mut b, h::INPUT_LEN, &2u32.to_le_bytes());
        put(&mut b, h::OUTPUT_LEN, &1u32.to_le_bytes());
        put(&mut b, h::INPUT_SCALE, &0.5f32.to_le_bytes());
        put(&mut b, h::INPUT_ZERO_POINT, &3i32.to_le_bytes());
        put(&mut b, h::OUTPUT_SCALE, &0.25f32.to_le_bytes());
        put(&mut b, h::OUTPUT_ZERO_POINT, &(-1i32).to_le_bytes());
        let t = HEADER_LEN;
        b[t + e::KIND] = fmt::KIND_FULLY_CONNECTED;
        b[t + e::ACT_MIN] = (-128i8) as u8;
        b[t + e::ACT_MAX] = 127;
        put(&mut b, t + e::INPUT_LEN, &2u32.to_le_bytes());
        put(&mut b, t + e::OUTPUT_LEN, &1u32.to_le_bytes());
        put(&mut b, t + e::OUTPUT_SCALE, &0.25f32.to_le_bytes());
        put(&mut b, t + e::OUTPUT_ZERO_POINT, &(-1i32).to_le_bytes());
        put(&mut b, t + e::PARAM_A, &(-3i32).to_le_bytes());
        put(&mut b, t + e::PARAM_B, &1u32.to_le_bytes());
        let p = HEADER_LEN + ENTRY_LEN; // 96: weights, bias, multiplier, shift
        put(&mut b, p, &[2u8, (-1i8) as u8, 0, 0]);
        put(&mut b, p + 4, &7i32.to_le_bytes());
        put(&mut b, p + 8, &(1i32 << 30).to_le_bytes()); // 0.5 · 2^shift
        put(&mut b, p + 12, &1i32.to_le_bytes()); // ·2: multiplier 1.0
        for (f, v) in [
            (e::DATA, p),
            (e::BIAS, p + 4),
            (e::MULTIPLIER, p + 8),
            (e::SHIFT, p + 12),
        ] {
            put(&mut b, t + f, &(v as u32).to_le_bytes());
        }
        let total = p + 16 + 4;
        put(&mut b, h::TOTAL_LEN, &(total as u32).to_le_bytes());
        let crc = crc32(&b[..total - 4]);
        put(&mut b, total - 4, &crc.to_le_bytes());
        let mut words = [0u32; 32];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words).copy_from_slice(&b);
        words
    }

    #[test]
    fn parses_and_runs_in_place() {
        let words = tiny();
        let bytes = bytemuck::cast_slice::<u32, u8>(&words);
        let m = parse(bytes).unwrap();
        assert_eq!(
            (m.input_len, m.output_len, m.layers.len(), m.scratch_len()),
            (2, 1, 1, 4)
        );
        let mut scratch = [0i8; 4];
        let mut y = [0i8; 1];
        // acc = 2·(10 − 3) − 1·(4 − 3) + 7 = 20; ×1.0; −1 → 19.
        m.run_i8(&[10, 4], &mut scratch, &mut y).unwrap();
        assert_eq!(y, [19]);
    }

    #[test]
    fn rejects_damage_before_and_after_the_checksum() {
        let mut words = tiny();
        let bytes = bytemuck::cast_slice_mut::<u32, u8>(&mut words);
        bytes[97] ^= 0x40; // a weight
        assert!(matches!(
            parse(bytes),
            Err(BlobError::ChecksumMismatch { .. })
        ));
        assert!(matches!(
            parse(&bytes[..100]),
            Err(BlobError::Truncated {
                needed: 116,
                found: 100
            })
        ));
        bytes[0] = b'X';
        assert_eq!(parse(bytes).err(), Some(BlobError::BadMagic));
        assert_eq!(
            parse(&[]).err(),
            Some(BlobError::Truncated {
                needed: HEADER_LEN,
                found: 0
            })
        );
    }
}
