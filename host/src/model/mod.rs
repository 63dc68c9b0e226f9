//! A model on the host: a [`Graph`] of named tensors and nodes, and the
//! [`Meta`] data that f32 and int8 models share (task, column names,
//! labels, how it was quantized). One file format for both
//! (`docs/model-format.md`, `"version": 2`), strict on read: an unknown
//! field is an error that names it, and every derived parameter is checked
//! against its source. Version-1 files (the chain of layers, f32 and
//! int8, and version-1 blobs) are converted on read, with a note.
//!
//! [`Model::load`] tells the kinds of file apart by their first bytes, so
//! every command takes any model file Axon writes.

use std::path::Path;

use anyhow::{bail, Context};
use axon_core::graph::DType;

mod columns;
mod eval;
mod graph;
mod io;
mod json;
mod meta;
mod number;
pub mod run;
pub mod v1;

pub use eval::activations;
pub use graph::{Data, Graph, Node, Quant, Tensor, TensorId};
pub use io::write_atomic;
pub use json::{FORMAT, VERSION};
pub use meta::{Meta, QuantInfo, Task};
pub use number::f32_from_json;
pub use run::{HeapArena, Runner};

/// A model: its graph and what it is for.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Task, columns, labels, provenance.
    pub meta: Meta,
    /// The graph.
    pub graph: Graph,
}

/// What kind of file a path holds, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A JSON model file (any version).
    Json,
    /// A model blob (`AXON`).
    Blob,
}

/// The kind of model file `bytes` is, or a plain description of what it is
/// instead.
pub fn file_kind(bytes: &[u8]) -> Result<FileKind, String> {
    if bytes.starts_with(b"AXON") {
        return Ok(FileKind::Blob);
    }
    let start = bytes.iter().find(|b| !b.is_ascii_whitespace());
    match start {
        Some(b'{') => Ok(FileKind::Json),
        None => Err("the file is empty".into()),
        _ if bytes.starts_with(b"\x7fELF") => Err("an ELF executable, not a model".into()),
        _ if bytes.get(4..8) == Some(b"TFL3") => Err(
            "a TensorFlow Lite flatbuffer, not an Axon model (Axon cannot import it yet)".into(),
        ),
        _ if std::str::from_utf8(&bytes[..bytes.len().min(512)]).is_ok() => {
            Err("a text file that is not a JSON model (a CSV data file?)".into())
        }
        _ => Err("a binary file that is neither an Axon blob nor a JSON model".into()),
    }
}

impl Model {
    /// Reads any model file Axon writes: a JSON model (version 2, or
    /// version 1 converted with a note on stderr) or a blob (version 2, or
    /// version 1 converted).
    pub fn load(path: &Path) -> anyhow::Result<Model> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read model file {}", path.display()))?;
        Model::from_bytes(&bytes, &path.display().to_string())
    }

    /// [`load`](Self::load) from bytes; `what` names them in messages.
    pub fn from_bytes(bytes: &[u8], what: &str) -> anyhow::Result<Model> {
        let kind = file_kind(bytes).map_err(|why| anyhow::anyhow!("{what} is {why}"))?;
        let m = match kind {
            FileKind::Json => {
                let text = std::str::from_utf8(bytes)
                    .with_context(|| format!("{what} is not UTF-8 text"))?;
                json::from_str(text, what)
            }
            FileKind::Blob => crate::export::read_blob(bytes, what),
        }
        .with_context(|| format!("invalid model file {what}"))?;
        Ok(m)
    }

    /// Parses a JSON model (any version).
    pub fn from_json_str(text: &str) -> anyhow::Result<Model> {
        json::from_str(text, "the model")
    }

    /// The model as version-2 JSON text.
    pub fn to_json_string(&self) -> anyhow::Result<String> {
        json::to_string(self)
    }

    /// Validates and writes the model atomically as version-2 JSON.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        self.validate()?;
        write_atomic(path, self.to_json_string()?.as_bytes())
    }

    /// Checks the graph (structure, then every node's op) and the metadata
    /// against it.
    pub fn validate(&self) -> anyhow::Result<()> {
        let g = &self.graph;
        g.validate_structure()?;
        for n in &g.nodes {
            crate::ops::check_node(g, n)?;
        }
        if let Some(t) = g.inputs.first() {
            let w = g.tensors[*t].last();
            if !self.meta.features.is_empty() && self.meta.features.len() != w {
                bail!(
                    "\"features\" names {} columns, but the model takes {w} inputs",
                    self.meta.features.len()
                );
            }
        }
        if let (Task::Classification { classes }, Some(&o)) = (self.meta.task, g.outputs.first()) {
            let w = g.tensors[o].last();
            let ok = if w == 1 { classes == 2 } else { classes == w };
            if !ok {
                bail!(
                    "the task has {classes} classes but the model has {w} outputs \
                     (expected one output per class, or one output for two classes)"
                );
            }
            if !self.meta.labels.is_empty() && self.meta.labels.len() != classes {
                bail!(
                    "\"labels\" has {} entries, expected {classes} (one per class)",
                    self.meta.labels.len()
                );
            }
        }
        Ok(())
    }

    /// Number of raw inputs (the first input's innermost dimension).
    pub fn inputs(&self) -> usize {
        self.graph
            .inputs
            .first()
            .map_or(0, |&t| self.graph.tensors[t].len())
    }

    /// Number of outputs.
    pub fn outputs(&self) -> usize {
        self.graph
            .outputs
            .first()
            .map_or(0, |&t| self.graph.tensors[t].len())
    }

    /// Whether the model computes in int8.
    pub fn is_int8(&self) -> bool {
        self.graph.is_int8()
    }

    /// `f32` or `int8`.
    pub fn kind(&self) -> &'static str {
        if self.is_int8() {
            "int8"
        } else {
            DType::F32.name()
        }
    }

    /// Number of parameters.
    pub fn parameter_count(&self) -> usize {
        self.graph.parameter_count()
    }

    /// A one-line description of the graph, e.g.
    /// `64 → fully_connected 32 → relu → fully_connected 10 → softmax`
    /// (nodes in order; `+` marks a node with two inputs).
    pub fn summary(&self) -> String {
        let g = &self.graph;
        let mut s = self.inputs().to_string();
        for n in &g.nodes {
            let out = g.tensors[n.output].last();
            let desc = match &n.op {
                crate::ops::Op::FullyConnected(f) => match &f.int8 {
                    Some(q) if q.activation != axon_core::ops::Fused::None => {
                        format!("fully_connected {out} ({})", q.activation.name())
                    }
                    _ => format!("fully_connected {out}"),
                },
                op if n.inputs.len() > 1 => format!("{} (+)", op.name()),
                op => op.name().to_owned(),
            };
            s.push_str(" → ");
            s.push_str(&desc);
        }
        s
    }

    /// The predicted class from f32 outputs: the first largest, or, for a
    /// single output, `p ≥ 0.5`.
    pub fn predicted_class(outputs: &[f32]) -> usize {
        if outputs.len() == 1 {
            return usize::from(outputs[0] >= 0.5);
        }
        let mut best = 0;
        for (i, &v) in outputs.iter().enumerate() {
            if v > outputs[best] {
                best = i;
            }
        }
        best
    }
}
