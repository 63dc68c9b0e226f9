//! The blob parser: validates every field once, then hands out the graph's
//! tensors and nodes decoded on demand from the blob's bytes in place (no
//! allocation, no copy of weights).

use super::error::BlobError;
use super::format::{self as fmt, header, node, storage, tensor};
use super::record::{array, bytes_at, Fields, Record};
use crate::crc32::crc32;
use crate::graph::{DType, Graph, Node, Nodes, Quant, Shape, Storage, Tensor, Tensors};
use crate::interpreter::Interpreter;
use crate::ops::{Op, MAX_INPUTS};
use crate::quant::QuantParams;

/// Where the parts of a validated blob are.
#[derive(Debug, Clone, Copy)]
struct Parts<'a> {
    /// The blob, `total_len` bytes, 4-aligned, checksum verified.
    blob: &'a [u8],
    /// Where records and arrays may lie.
    payload: (usize, usize),
    /// The string section.
    strings: &'a [u8],
}

impl<'a> Parts<'a> {
    /// The name at `offset` of the string section (`None` for
    /// [`fmt::NO_NAME`] or a bad one, which parsing rejects).
    fn name(&self, offset: u32) -> Option<&'a str> {
        if offset == fmt::NO_NAME {
            return None;
        }
        let s = self.strings.get(offset as usize..)?;
        let end = s.iter().position(|&b| b == 0)?;
        core::str::from_utf8(s.get(..end)?).ok()
    }

    fn check_name(&self, offset: u32) -> Result<(), BlobError> {
        if offset == fmt::NO_NAME || self.name(offset).is_some() {
            Ok(())
        } else {
            Err(BlobError::BadName { offset })
        }
    }
}

/// A validated blob's tensor table.
#[derive(Debug, Clone, Copy)]
pub struct TensorTable<'a> {
    parts: Parts<'a>,
    at: usize,
    count: usize,
}

impl<'a> TensorTable<'a> {
    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the table is empty (never, for a parsed blob).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn fields(&self, id: u16) -> Fields<'a> {
        Fields {
            b: self.parts.blob,
            base: self.at + id as usize * tensor::LAYOUT.len,
        }
    }

    /// Tensor `id`; `None` past the end (every entry was validated).
    pub fn get(&self, id: u16) -> Option<Tensor<'a>> {
        if id as usize >= self.count {
            return None;
        }
        decode_tensor(&self.fields(id), id).ok()
    }

    /// Tensor `id`'s name.
    pub fn name(&self, id: u16) -> Option<&'a str> {
        if id as usize >= self.count {
            return None;
        }
        self.parts.name(self.fields(id).u32(tensor::NAME))
    }
}

/// A validated blob's node table.
#[derive(Debug, Clone, Copy)]
pub struct NodeTable<'a> {
    parts: Parts<'a>,
    at: usize,
    count: usize,
}

impl<'a> NodeTable<'a> {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the table is empty (never, for a parsed blob).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn fields(&self, i: usize) -> Fields<'a> {
        Fields {
            b: self.parts.blob,
            base: self.at + i * node::LAYOUT.len,
        }
    }

    /// Node `i`; `None` past the end (every entry was validated).
    pub fn get(&self, i: usize) -> Option<Node<'a>> {
        if i >= self.count {
            return None;
        }
        // Every node was fully checked once by `parse`, which alone makes
        // a table; the bytes are borrowed, so they are unchanged.
        decode_node(&self.parts, &self.fields(i), i as u16, true).ok()
    }

    /// Node `i`'s name.
    pub fn name(&self, i: usize) -> Option<&'a str> {
        if i >= self.count {
            return None;
        }
        self.parts.name(self.fields(i).u32(node::NAME))
    }
}

fn decode_tensor<'a>(f: &Fields<'a>, id: u16) -> Result<Tensor<'a>, BlobError> {
    let bad = |why| BlobError::BadTensor { tensor: id, why };
    let dtype = DType::from_code(f.u8(tensor::DTYPE)).ok_or(bad("unknown element type"))?;
    let rank = f.u8(tensor::RANK) as usize;
    let dims = [
        f.u32(tensor::DIM0),
        f.u32(tensor::DIM1),
        f.u32(tensor::DIM2),
        f.u32(tensor::DIM3),
    ];
    let shape = dims
        .get(..rank)
        .and_then(Shape::try_new)
        .ok_or(bad("rank is not 1..=4"))?;
    if dims
        .get(rank..)
        .is_some_and(|rest| rest.iter().any(|&d| d != 1))
    {
        return Err(bad("dimensions past the rank are not 1"));
    }
    let (scale, zp) = (f.f32(tensor::SCALE), f.i32(tensor::ZERO_POINT));
    let quant = if dtype.is_quantized() {
        Quant::PerTensor(QuantParams::new(scale, zp))
    } else {
        if scale.to_bits() != 0 || zp != 0 {
            return Err(bad("an unquantized tensor has a scale or zero point"));
        }
        Quant::None
    };
    let index = f.u8(tensor::INDEX);
    let offset = f.u32(tensor::ARENA_OFFSET);
    let storage = match f.u8(tensor::STORAGE) {
        storage::ARENA if index == 0 => Storage::Arena(offset),
        storage::INPUT if offset == 0 => Storage::Input(index),
        storage::OUTPUT if offset == 0 => Storage::Output(index),
        storage::ARENA | storage::INPUT | storage::OUTPUT => {
            return Err(bad(
                "an arena tensor has an index, or an input or output an offset",
            ))
        }
        _ => return Err(bad("unknown storage")),
    };
    if !f.is_zero(tensor::RESERVED) {
        return Err(BlobError::ReservedNotZero {
            offset: f.base + tensor::RESERVED.offset,
        });
    }
    Ok(Tensor {
        shape,
        dtype,
        quant,
        storage,
    })
}

/// Node `i` of a blob; `checked` when `parse` has already decoded it in
/// full (its op may then skip checks that scan all its constants).
fn decode_node<'a>(
    parts: &Parts<'a>,
    f: &Fields<'a>,
    i: u16,
    checked: bool,
) -> Result<Node<'a>, BlobError> {
    let bad = |why| BlobError::BadRecord { node: i, why };
    let (n_in, n_out) = (f.u8(node::INPUTS) as usize, f.u8(node::OUTPUTS) as usize);
    if !(1..=MAX_INPUTS).contains(&n_in) || n_out != 1 {
        return Err(bad("a node has 1..=4 inputs and one output"));
    }
    let ids: &'a [u16] = array(parts.blob, parts.payload, f.u32(node::IDS), n_in + n_out)?;
    let (inputs, outputs) = ids.split_at(n_in.min(ids.len()));
    let &[output] = outputs else {
        return Err(bad("a node has one output"));
    };
    let len = f.u32(node::RECORD_LEN) as usize;
    let start = f.u32(node::RECORD) as usize;
    if len > 0 {
        // The record's bytes: inside the payload, aligned.
        let _: &[u8] = array(parts.blob, parts.payload, start as u32, len)?;
    } else if start != 0 {
        return Err(bad("an empty record has an offset"));
    }
    let record = Record::new(i, parts.blob, start, len, parts.payload, checked);
    let op = Op::decode(f.u8(node::OP), &record)?;
    Node::try_new(op, inputs, output).ok_or(bad("a node has 1..=4 inputs"))
}

/// The fields of the header.
fn header_fields(b: &[u8]) -> Fields<'_> {
    Fields { b, base: 0 }
}

/// Parses and validates a blob in place and returns the interpreter of
/// its graph. `bytes` may be longer than the blob (a flash region); the
/// blob's own `total_len` bounds what is read. The buffer must start at a
/// 4-byte boundary in memory.
///
/// Checks, in order: magic, version, header and total length
/// (truncation), CRC-32, flags and reserved fields, buffer alignment, the
/// position of every table; every tensor entry (type, rank, storage,
/// quantization, name), every node entry and its op's record (the op's
/// own layout, array bounds and alignment); then the graph as a whole
/// ([`Graph::validate`]: shapes, types, order, the arena plan, each op's
/// parameters against its tensors).
pub fn parse(bytes: &[u8]) -> Result<Interpreter<'_>, BlobError> {
    if cfg!(target_endian = "big") {
        return Err(BlobError::BigEndianHost);
    }
    let hlen = header::LAYOUT.len;
    match bytes_at::<4>(bytes, header::MAGIC.offset) {
        Some(m) if m == fmt::MAGIC => {}
        Some(_) => return Err(BlobError::BadMagic),
        None => {
            return Err(BlobError::Truncated {
                needed: hlen,
                found: bytes.len(),
            })
        }
    }
    let h = header_fields(bytes);
    let version = match bytes_at::<2>(bytes, header::VERSION.offset) {
        Some(v) => u16::from_le_bytes(v),
        None => {
            return Err(BlobError::Truncated {
                needed: hlen,
                found: bytes.len(),
            })
        }
    };
    if version != fmt::VERSION {
        return Err(BlobError::UnsupportedVersion(version));
    }
    if bytes.len() < hlen {
        return Err(BlobError::Truncated {
            needed: hlen,
            found: bytes.len(),
        });
    }
    if h.u16(header::HEADER_LEN) as usize != hlen {
        return Err(BlobError::BadHeader {
            field: "header_len",
        });
    }
    let total = h.u32(header::TOTAL_LEN) as usize;
    if total < hlen + fmt::CRC_LEN || !total.is_multiple_of(fmt::ALIGN) {
        return Err(BlobError::BadHeader { field: "total_len" });
    }
    let blob = bytes.get(..total).ok_or(BlobError::Truncated {
        needed: total,
        found: bytes.len(),
    })?;
    let body = total - fmt::CRC_LEN;
    let stored = bytes_at::<4>(blob, body).map_or(0, u32::from_le_bytes);
    let computed = crc32(blob.get(..body).unwrap_or(&[]));
    if stored != computed {
        return Err(BlobError::ChecksumMismatch { stored, computed });
    }
    let flags = h.u16(header::FLAGS);
    if flags != 0 {
        return Err(BlobError::UnknownFlags(flags));
    }
    for f in [header::RESERVED0, header::RESERVED1, header::RESERVED2] {
        if !h.is_zero(f) {
            return Err(BlobError::ReservedNotZero { offset: f.offset });
        }
    }
    if !(blob.as_ptr() as usize).is_multiple_of(fmt::ALIGN) {
        return Err(BlobError::UnalignedBuffer);
    }
    if h.u16(header::TENSOR_LEN) as usize != tensor::LAYOUT.len {
        return Err(BlobError::BadHeader {
            field: "tensor_entry_len",
        });
    }
    if h.u16(header::NODE_LEN) as usize != node::LAYOUT.len {
        return Err(BlobError::BadHeader {
            field: "node_entry_len",
        });
    }
    // The tables in order, back to back: tensors, nodes, graph io.
    let tcount = h.u16(header::TENSOR_COUNT) as usize;
    let ncount = h.u16(header::NODE_COUNT) as usize;
    let (icount, ocount) = (
        h.u16(header::INPUT_COUNT) as usize,
        h.u16(header::OUTPUT_COUNT) as usize,
    );
    let at = |field: &'static str, v: u32, want: usize| {
        if v as usize == want {
            Ok(want)
        } else {
            Err(BlobError::BadHeader { field })
        }
    };
    let tensors = at("tensors", h.u32(header::TENSORS), hlen)?;
    let nodes = at(
        "nodes",
        h.u32(header::NODES),
        tensors + tcount * tensor::LAYOUT.len,
    )?;
    let io = at("io", h.u32(header::IO), nodes + ncount * node::LAYOUT.len)?;
    let payload_start = (io + 2 * (icount + ocount)).next_multiple_of(fmt::ALIGN);
    let strings = h.u32(header::STRINGS) as usize;
    let strings_len = h.u32(header::STRINGS_LEN) as usize;
    if strings < payload_start || strings.checked_add(strings_len) != Some(body) {
        return Err(BlobError::BadHeader { field: "strings" });
    }
    let parts = Parts {
        blob,
        payload: (payload_start, strings),
        strings: blob.get(strings..body).unwrap_or(&[]),
    };
    parts.check_name(h.u32(header::NAME))?;
    let ids: &[u16] = array(blob, (io, payload_start), io as u32, icount + ocount)?;
    let (inputs, outputs) = ids.split_at(icount.min(ids.len()));
    let ttable = TensorTable {
        parts,
        at: tensors,
        count: tcount,
    };
    for id in 0..tcount as u16 {
        let f = ttable.fields(id);
        decode_tensor(&f, id)?;
        parts.check_name(f.u32(tensor::NAME))?;
    }
    let ntable = NodeTable {
        parts,
        at: nodes,
        count: ncount,
    };
    for i in 0..ncount {
        let f = ntable.fields(i);
        for r in [node::RESERVED0, node::RESERVED1] {
            if !f.is_zero(r) {
                return Err(BlobError::ReservedNotZero {
                    offset: f.base + r.offset,
                });
            }
        }
        decode_node(&parts, &f, i as u16, false)?;
        parts.check_name(f.u32(node::NAME))?;
    }
    let graph = Graph {
        tensors: Tensors::Blob(ttable),
        nodes: Nodes::Blob(ntable),
        inputs,
        outputs,
        arena_len: h.u32(header::ARENA_LEN) as usize,
    };
    Ok(Interpreter::new(graph)?)
}

/// The model name a blob's header gives, if any (the blob must parse).
pub fn model_name(bytes: &[u8]) -> Option<&str> {
    let h = header_fields(bytes);
    let strings = h.u32(header::STRINGS) as usize;
    let len = h.u32(header::STRINGS_LEN) as usize;
    let parts = Parts {
        blob: bytes,
        payload: (0, 0),
        strings: bytes.get(strings..strings.checked_add(len)?)?,
    };
    parts.name(h.u32(header::NAME))
}
