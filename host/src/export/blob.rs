//! The blob writer: the exact inverse of `axon_core::blob::parse`
//! (layout in `axon_core::blob::format` and docs/blob-format.md).

use axon_core::blob::format::{self as fmt, entry, header};
use axon_core::crc32::crc32;
use axon_core::quant::Rounding;

use crate::quantize::{Int8Layer, Int8Model};

/// What goes into a blob besides the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlobOptions {
    /// Store each fully connected layer's weight-row sums (4 bytes per
    /// output), which the desktop AVX-512 VNNI kernel uses; the MCU does not,
    /// so the default leaves them out to save flash.
    pub row_sums: bool,
}

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn put<const N: usize>(&mut self, off: usize, bytes: [u8; N]) {
        self.buf[off..off + N].copy_from_slice(&bytes);
    }

    fn u16(&mut self, off: usize, v: u16) {
        self.put(off, v.to_le_bytes());
    }

    fn u32(&mut self, off: usize, v: usize) {
        let v = u32::try_from(v).expect("blob offsets and sizes fit u32 (checked by write_blob)");
        self.put(off, v.to_le_bytes());
    }

    fn i32(&mut self, off: usize, v: i32) {
        self.put(off, v.to_le_bytes());
    }

    fn f32(&mut self, off: usize, v: f32) {
        self.put(off, v.to_le_bytes());
    }

    /// Appends an array at the next multiple of [`fmt::ALIGN`]; returns its offset.
    fn array(&mut self, bytes: impl IntoIterator<Item = u8>) -> usize {
        while !self.buf.len().is_multiple_of(fmt::ALIGN) {
            self.buf.push(0);
        }
        let off = self.buf.len();
        self.buf.extend(bytes);
        off
    }
}

fn le_i32(xs: &[i32]) -> impl Iterator<Item = u8> + '_ {
    xs.iter().flat_map(|v| v.to_le_bytes())
}

fn le_f32(xs: &[f32]) -> impl Iterator<Item = u8> + '_ {
    xs.iter().flat_map(|v| v.to_le_bytes())
}

/// Serialises a (validated) int8 model into a blob.
pub fn write_blob(m: &Int8Model, opts: BlobOptions) -> anyhow::Result<Vec<u8>> {
    m.validate()?;
    let count = m.layers.len();
    if count > u16::MAX as usize {
        anyhow::bail!("{count} layers do not fit a blob (at most {})", u16::MAX);
    }
    let table_end = fmt::HEADER_LEN + count * fmt::ENTRY_LEN;
    let mut w = Writer {
        buf: vec![0u8; table_end],
    };

    w.buf[header::MAGIC..header::MAGIC + 4].copy_from_slice(&fmt::MAGIC);
    w.u16(header::VERSION, fmt::VERSION);
    let rounding_flag = match m.rounding {
        Rounding::Double => 0,
        Rounding::Single => fmt::FLAG_SINGLE_ROUNDING,
    };
    w.u16(header::FLAGS, fmt::FLAG_PREPROCESS | rounding_flag);
    w.u16(header::HEADER_LEN, fmt::HEADER_LEN as u16);
    w.u16(header::LAYER_COUNT, count as u16);
    w.u32(header::INPUT_LEN, m.inputs);
    w.u32(header::OUTPUT_LEN, m.outputs());
    w.f32(header::INPUT_SCALE, m.input.scale);
    w.i32(header::INPUT_ZERO_POINT, m.input.zero_point);
    let out = m.output();
    w.f32(header::OUTPUT_SCALE, out.scale);
    w.i32(header::OUTPUT_ZERO_POINT, out.zero_point);
    let mut pre: Vec<f32> = m.preprocess.mean.clone();
    pre.extend_from_slice(&m.preprocess.std);
    let pre_off = w.array(le_f32(&pre).collect::<Vec<_>>());
    w.u32(header::PREPROCESS, pre_off);

    for (i, l) in m.layers.iter().enumerate() {
        let e = fmt::HEADER_LEN + i * fmt::ENTRY_LEN;
        match l {
            Int8Layer::FullyConnected {
                inputs,
                outputs,
                weights,
                bias,
                multiplier,
                shift,
                input,
                output,
                act_min,
                act_max,
                row_sums,
                ..
            } => {
                let wo = w.array(weights.iter().map(|&v| v as u8));
                let bo = w.array(le_i32(bias).collect::<Vec<_>>());
                let mo = w.array(le_i32(multiplier).collect::<Vec<_>>());
                let so = w.array(le_i32(shift).collect::<Vec<_>>());
                let ro = if opts.row_sums {
                    w.array(le_i32(row_sums).collect::<Vec<_>>())
                } else {
                    0
                };
                w.buf[e + entry::KIND] = fmt::KIND_FULLY_CONNECTED;
                w.buf[e + entry::ACT_MIN] = *act_min as u8;
                w.buf[e + entry::ACT_MAX] = *act_max as u8;
                w.u32(e + entry::INPUT_LEN, *inputs);
                w.u32(e + entry::OUTPUT_LEN, *outputs);
                w.f32(e + entry::OUTPUT_SCALE, output.scale);
                w.i32(e + entry::OUTPUT_ZERO_POINT, output.zero_point);
                w.i32(e + entry::PARAM_A, -input.zero_point);
                w.u32(e + entry::PARAM_B, multiplier.len());
                w.u32(e + entry::DATA, wo);
                w.u32(e + entry::BIAS, bo);
                w.u32(e + entry::MULTIPLIER, mo);
                w.u32(e + entry::SHIFT, so);
                w.u32(e + entry::ROW_SUMS, ro);
            }
            Int8Layer::Lut {
                kind,
                len,
                output,
                table,
                ..
            } => {
                let to = w.array(table.iter().map(|&v| v as u8));
                w.buf[e + entry::KIND] = fmt::KIND_LUT;
                w.buf[e + entry::SUBKIND] = kind.code();
                w.u32(e + entry::INPUT_LEN, *len);
                w.u32(e + entry::OUTPUT_LEN, *len);
                w.f32(e + entry::OUTPUT_SCALE, output.scale);
                w.i32(e + entry::OUTPUT_ZERO_POINT, output.zero_point);
                w.u32(e + entry::DATA, to);
            }
            Int8Layer::Softmax { len, params, .. } => {
                let out = axon_core::quant::softmax::SOFTMAX_OUTPUT;
                w.buf[e + entry::KIND] = fmt::KIND_SOFTMAX;
                w.u32(e + entry::INPUT_LEN, *len);
                w.u32(e + entry::OUTPUT_LEN, *len);
                w.f32(e + entry::OUTPUT_SCALE, out.scale);
                w.i32(e + entry::OUTPUT_ZERO_POINT, out.zero_point);
                w.i32(e + entry::PARAM_A, params.input_multiplier);
                w.i32(e + entry::PARAM_B, params.input_left_shift);
                w.i32(e + entry::DATA, params.diff_min);
            }
        }
    }
    // Pad so the CRC (and so the whole blob) ends on a 4-byte boundary.
    w.array(std::iter::empty());
    let total = w.buf.len() + fmt::CRC_LEN;
    if u32::try_from(total).is_err() {
        anyhow::bail!("the blob would be {total} bytes, more than a u32 offset can address");
    }
    w.u32(header::TOTAL_LEN, total);
    let crc = crc32(&w.buf);
    w.buf.extend_from_slice(&crc.to_le_bytes());
    Ok(w.buf)
}

/// Recomputes and stores the CRC of a blob whose bytes were edited (tests
/// and fuzzing use it to reach the checks behind the checksum). Does
/// nothing to a buffer shorter than a header.
pub fn fix_crc(blob: &mut [u8]) {
    let Some(total) = blob.get(header::TOTAL_LEN..header::TOTAL_LEN + 4) else {
        return;
    };
    let total = u32::from_le_bytes([total[0], total[1], total[2], total[3]]) as usize;
    if total < fmt::CRC_LEN || total > blob.len() {
        return;
    }
    let body = total - fmt::CRC_LEN;
    let crc = crc32(&blob[..body]);
    blob[body..total].copy_from_slice(&crc.to_le_bytes());
}

/// Bytes held at a 4-byte-aligned address (a `Vec<u8>` guarantees only 1),
/// so that `axon_core::blob::parse` can view them in place.
#[derive(Debug, Clone)]
pub struct AlignedBytes {
    words: Vec<u32>,
    len: usize,
}

impl AlignedBytes {
    /// Copies `bytes` into aligned storage.
    pub fn new(bytes: &[u8]) -> AlignedBytes {
        let mut words = vec![0u32; bytes.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        AlignedBytes {
            words,
            len: bytes.len(),
        }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u32, u8>(&self.words)[..self.len]
    }

    /// The bytes, mutable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<u32, u8>(&mut self.words)[..self.len]
    }
}
