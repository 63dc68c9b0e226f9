//! Writing one node's op record into a blob being built: its fields by the
//! op's own layout ([`axon_core::blob::format::Field`]s), its arrays
//! appended to the payload with their offsets in the record.

use axon_core::blob::format::{Field, Layout, ALIGN};

/// Builds one record (see the module documentation).
#[derive(Debug)]
pub struct RecordWriter<'b> {
    payload: &'b mut Vec<u8>,
    base: usize,
    record: Vec<u8>,
    started: bool,
}

impl<'b> RecordWriter<'b> {
    /// A writer appending to `payload`, which starts at blob offset `base`.
    pub fn new(payload: &'b mut Vec<u8>, base: usize) -> Self {
        RecordWriter {
            payload,
            base,
            record: Vec::new(),
            started: false,
        }
    }

    /// Starts the record with its layout (all fields 0).
    pub fn start(&mut self, layout: &Layout) {
        self.record = vec![0; layout.len];
        self.started = true;
    }

    fn put(&mut self, f: Field, bytes: &[u8]) {
        let end = f.offset + bytes.len();
        if end <= self.record.len() {
            self.record[f.offset..end].copy_from_slice(bytes);
        }
    }

    /// A byte field.
    pub fn u8(&mut self, f: Field, v: u8) {
        self.put(f, &[v]);
    }

    /// A u16 field.
    pub fn u16(&mut self, f: Field, v: u16) {
        self.put(f, &v.to_le_bytes());
    }

    /// A u32 field.
    pub fn u32(&mut self, f: Field, v: u32) {
        self.put(f, &v.to_le_bytes());
    }

    /// An i32 field.
    pub fn i32(&mut self, f: Field, v: i32) {
        self.put(f, &v.to_le_bytes());
    }

    /// An f32 field.
    pub fn f32(&mut self, f: Field, v: f32) {
        self.put(f, &v.to_le_bytes());
    }

    /// Appends an array (aligned) and stores its blob offset in `f`.
    pub fn bytes(&mut self, f: Field, bytes: &[u8]) {
        while !self.payload.len().is_multiple_of(ALIGN) {
            self.payload.push(0);
        }
        let off = (self.base + self.payload.len()) as u32;
        self.payload.extend_from_slice(bytes);
        self.u32(f, off);
    }

    /// An int8 array.
    pub fn i8s(&mut self, f: Field, v: &[i8]) {
        self.bytes(f, bytemuck::cast_slice(v));
    }

    /// An int32 array.
    pub fn i32s(&mut self, f: Field, v: &[i32]) {
        let b: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.bytes(f, &b);
    }

    /// An f32 array.
    pub fn f32s(&mut self, f: Field, v: &[f32]) {
        let b: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.bytes(f, &b);
    }

    /// Appends the record itself (aligned); its blob offset and length.
    pub fn finish(self) -> anyhow::Result<(u32, u32)> {
        if !self.started {
            anyhow::bail!("an op wrote no record");
        }
        if self.record.is_empty() {
            return Ok((0, 0));
        }
        while !self.payload.len().is_multiple_of(ALIGN) {
            self.payload.push(0);
        }
        let off = (self.base + self.payload.len()) as u32;
        self.payload.extend_from_slice(&self.record);
        Ok((off, self.record.len() as u32))
    }
}
