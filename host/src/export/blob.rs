//! The blob writer: the inverse of `axon_core::blob::parse`, following the
//! same layout definitions (`axon_core::blob::format` and each op's
//! record).

use anyhow::{bail, Context};
use axon_core::blob::format::{self as fmt, header, node, storage, tensor, Field};
use axon_core::crc32::crc32;
use axon_core::graph::{Quant, Storage};

use super::RecordWriter;
use crate::model::{Model, Runner};

/// Bytes at a 4-byte-aligned address (a `Vec<u8>` guarantees only 1), so
/// that `axon_core::blob::parse` can view them in place.
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

/// Recomputes the CRC of a blob whose bytes were changed on purpose (tests
/// and fuzzing use it to reach the checks behind the checksum). Does
/// nothing to a buffer shorter than its header's `total_len`.
pub fn fix_crc(blob: &mut [u8]) {
    let o = header::TOTAL_LEN.offset;
    let Some(t) = blob.get(o..o + 4) else {
        return;
    };
    let total = u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize;
    if total < fmt::CRC_LEN || total > blob.len() {
        return;
    }
    let body = total - fmt::CRC_LEN;
    let crc = crc32(&blob[..body]);
    blob[body..total].copy_from_slice(&crc.to_le_bytes());
}

/// A fixed-size structure being filled.
struct Entry(Vec<u8>);

impl Entry {
    fn new(len: usize) -> Self {
        Entry(vec![0; len])
    }

    fn put(&mut self, f: Field, b: &[u8]) {
        self.0[f.offset..f.offset + b.len()].copy_from_slice(b);
    }

    fn u8(&mut self, f: Field, v: u8) {
        self.put(f, &[v]);
    }

    fn u16(&mut self, f: Field, v: usize) -> anyhow::Result<()> {
        let v =
            u16::try_from(v).with_context(|| format!("{} = {v} does not fit 16 bits", f.name))?;
        self.put(f, &v.to_le_bytes());
        Ok(())
    }

    fn u32(&mut self, f: Field, v: usize) -> anyhow::Result<()> {
        let v =
            u32::try_from(v).with_context(|| format!("{} = {v} does not fit 32 bits", f.name))?;
        self.put(f, &v.to_le_bytes());
        Ok(())
    }
}

/// The string section: names, each NUL-terminated.
#[derive(Default)]
struct Strings(Vec<u8>);

impl Strings {
    fn add(&mut self, s: &str) -> u32 {
        if s.is_empty() || s.contains('\0') {
            return fmt::NO_NAME;
        }
        let at = self.0.len() as u32;
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        at
    }
}

/// The model as a blob; `name` goes into the header.
pub fn write_blob(m: &Model, name: &str) -> anyhow::Result<Vec<u8>> {
    m.validate()?;
    let run = Runner::new(m)?;
    let g = &m.graph;
    let (tcount, ncount) = (run.tensors.len(), run.nodes.len());
    let (icount, ocount) = (run.inputs.len(), run.outputs.len());
    let hlen = header::LAYOUT.len;
    let tensors_at = hlen;
    let nodes_at = tensors_at + tcount * tensor::LAYOUT.len;
    let io_at = nodes_at + ncount * node::LAYOUT.len;
    let payload_at = (io_at + 2 * (icount + ocount)).next_multiple_of(fmt::ALIGN);
    let mut strings = Strings::default();
    let mut payload = Vec::new();

    let mut ttable = Vec::with_capacity(tcount * tensor::LAYOUT.len);
    for (c, t) in run.tensors.iter().enumerate() {
        let mut e = Entry::new(tensor::LAYOUT.len);
        e.u8(tensor::DTYPE, t.dtype as u8);
        e.u8(tensor::RANK, t.shape.rank() as u8);
        let (st, index, off) = match t.storage {
            Storage::Arena(o) => (storage::ARENA, 0, o),
            Storage::Input(k) => (storage::INPUT, k, 0),
            Storage::Output(k) => (storage::OUTPUT, k, 0),
        };
        e.u8(tensor::STORAGE, st);
        e.u8(tensor::INDEX, index);
        let dims = [tensor::DIM0, tensor::DIM1, tensor::DIM2, tensor::DIM3];
        for (k, f) in dims.into_iter().enumerate() {
            e.u32(f, t.shape.dims().get(k).copied().unwrap_or(1) as usize)?;
        }
        if let Quant::PerTensor(p) = t.quant {
            e.put(tensor::SCALE, &p.scale.to_le_bytes());
            e.put(tensor::ZERO_POINT, &p.zero_point.to_le_bytes());
        }
        e.u32(tensor::ARENA_OFFSET, off as usize)?;
        let name = strings.add(&g.tensors[run.host_ids[c]].name);
        e.put(tensor::NAME, &name.to_le_bytes());
        ttable.extend(e.0);
    }

    let mut ntable = Vec::with_capacity(ncount * node::LAYOUT.len);
    for (i, n) in run.nodes.iter().enumerate() {
        let host = &g.nodes[i];
        let mut e = Entry::new(node::LAYOUT.len);
        e.u8(node::OP, n.op.code());
        e.u8(node::INPUTS, n.inputs().len() as u8);
        e.u8(node::OUTPUTS, 1);
        while !payload.len().is_multiple_of(fmt::ALIGN) {
            payload.push(0);
        }
        e.u32(node::IDS, payload_at + payload.len())?;
        for &id in n.inputs().iter().chain(std::iter::once(&n.output)) {
            payload.extend_from_slice(&id.to_le_bytes());
        }
        let mut w = RecordWriter::new(&mut payload, payload_at);
        crate::ops::emit_blob(&n.op, &mut w)
            .with_context(|| format!("node {} ({})", host.name, n.op.name()))?;
        let (off, len) = w.finish()?;
        e.u32(node::RECORD, off as usize)?;
        e.u32(node::RECORD_LEN, len as usize)?;
        let nm = strings.add(&host.name);
        e.put(node::NAME, &nm.to_le_bytes());
        ntable.extend(e.0);
    }

    let model_name = strings.add(name);
    while !payload.len().is_multiple_of(fmt::ALIGN) {
        payload.push(0);
    }
    while !strings.0.len().is_multiple_of(fmt::ALIGN) {
        strings.0.push(0);
    }
    let strings_at = payload_at + payload.len();
    let total = strings_at + strings.0.len() + fmt::CRC_LEN;
    if total > u32::MAX as usize {
        bail!("the blob would be larger than 4 GiB");
    }

    let mut h = Entry::new(hlen);
    h.put(header::MAGIC, &fmt::MAGIC);
    h.u16(header::VERSION, fmt::VERSION as usize)?;
    h.u32(header::TOTAL_LEN, total)?;
    h.u16(header::HEADER_LEN, hlen)?;
    h.u16(header::TENSOR_LEN, tensor::LAYOUT.len)?;
    h.u16(header::NODE_LEN, node::LAYOUT.len)?;
    h.u16(header::TENSOR_COUNT, tcount)?;
    h.u16(header::NODE_COUNT, ncount)?;
    h.u16(header::INPUT_COUNT, icount)?;
    h.u16(header::OUTPUT_COUNT, ocount)?;
    h.u32(header::TENSORS, tensors_at)?;
    h.u32(header::NODES, nodes_at)?;
    h.u32(header::IO, io_at)?;
    h.u32(header::ARENA_LEN, run.arena_len)?;
    h.u32(header::STRINGS, strings_at)?;
    h.u32(header::STRINGS_LEN, strings.0.len())?;
    h.put(header::NAME, &model_name.to_le_bytes());

    let mut out = h.0;
    out.extend(ttable);
    out.extend(ntable);
    for &id in run.inputs.iter().chain(&run.outputs) {
        out.extend_from_slice(&id.to_le_bytes());
    }
    out.resize(payload_at, 0);
    out.extend(payload);
    out.extend(strings.0);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(out.len(), total);
    // The parser is the judge: what we write must read back.
    let aligned = AlignedBytes::new(&out);
    axon_core::blob::parse(aligned.as_bytes())
        .map_err(|e| anyhow::anyhow!("internal error: the written blob does not parse: {e}"))?;
    Ok(out)
}

/// A blob read back as a model: version 1 is converted; version 2 is read
/// through the core's parser.
pub fn read_blob(bytes: &[u8], what: &str) -> anyhow::Result<Model> {
    let version = bytes.get(4..6).map(|v| u16::from_le_bytes([v[0], v[1]]));
    match version {
        Some(1) => crate::model::v1::from_blob(bytes),
        Some(2) => {
            let aligned = AlignedBytes::new(bytes);
            let it = axon_core::blob::parse(aligned.as_bytes())
                .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
            super::from_core::model(&it)
        }
        Some(v) => {
            bail!("{what}: blob format version {v} is not supported (this axon reads 1 and 2)")
        }
        None => bail!("{what}: truncated blob"),
    }
}
