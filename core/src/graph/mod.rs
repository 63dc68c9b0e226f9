//! A model as a graph of tensors: [`Tensor`]s (shape, element type,
//! quantization, where they live) and [`Node`]s (an [`Op`] with its
//! parameters, its input and output tensors), in execution order, with an
//! arena layout planned by tensor lifetime.
//!
//! A [`Graph`] borrows everything: its tables can be `static` items (the
//! Rust export), views decoded on demand from a blob in flash
//! ([`crate::blob::parse`]), or host memory. It is checked once
//! ([`Graph::validate`], which [`crate::Interpreter::new`] runs) and then
//! run any number of times.
//!
//! What validation guarantees, so that a run can neither panic nor read
//! out of bounds: every tensor is consistent (shape, type, quantization,
//! storage); every node's tensors exist, its op accepts them
//! ([`crate::ops::OpDef::check`]) and it runs only after each of its inputs
//! has been written (the node order is a topological order); every
//! non-input tensor is written by exactly one node; graph outputs are not
//! read by nodes; every arena tensor fits the arena, is aligned, and
//! shares no byte with another arena tensor alive at the same time (a
//! tensor lives from the node that writes it to the last node that reads
//! it — a residual connection keeps its input alive across its block).

pub mod arena;
mod error;
pub mod plan;
mod tensor;
mod validate;

pub use error::{At, GraphError};
pub use tensor::{
    staged_index, DType, Quad, Quant, Shape, Storage, Tensor, TensorId, ARENA_ALIGN, MAX_RANK,
};

use crate::blob::{NodeTable, TensorTable};
use crate::ops::{Op, MAX_INPUTS};

/// One node: an op with its parameters, its input tensors (at most
/// [`MAX_INPUTS`], held inline) and its output tensor.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    /// What it computes.
    pub op: Op<'a>,
    ids: [TensorId; MAX_INPUTS],
    arity: u8,
    /// Its output tensor.
    pub output: TensorId,
}

impl<'a> Node<'a> {
    /// A node reading `inputs` and writing `output`.
    ///
    /// # Panics
    /// With no inputs or more than [`MAX_INPUTS`] (a compile error in a
    /// `static`); use [`try_new`](Self::try_new) for untrusted input.
    pub const fn new(op: Op<'a>, inputs: &[TensorId], output: TensorId) -> Self {
        match Self::try_new(op, inputs, output) {
            Some(n) => n,
            None => panic!("a node has 1 to 4 inputs"),
        }
    }

    /// [`new`](Self::new), or `None` for a bad input count.
    pub const fn try_new(op: Op<'a>, inputs: &[TensorId], output: TensorId) -> Option<Self> {
        if inputs.is_empty() || inputs.len() > MAX_INPUTS {
            return None;
        }
        let mut ids = [0; MAX_INPUTS];
        let mut i = 0;
        while i < inputs.len() {
            ids[i] = inputs[i];
            i += 1;
        }
        Some(Node {
            op,
            ids,
            arity: inputs.len() as u8,
            output,
        })
    }

    /// Its input tensors, in the op's order.
    pub fn inputs(&self) -> &[TensorId] {
        self.ids.get(..self.arity as usize).unwrap_or(&[])
    }
}

/// Where a graph's tensor table lives.
#[derive(Debug, Clone, Copy)]
pub enum Tensors<'a> {
    /// Tensors as values.
    Slice(&'a [Tensor<'a>]),
    /// A validated blob's tensor table, decoded on demand.
    Blob(TensorTable<'a>),
}

impl<'a> Tensors<'a> {
    /// Number of tensors.
    pub fn len(&self) -> usize {
        match self {
            Tensors::Slice(s) => s.len(),
            Tensors::Blob(t) => t.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tensor `id`, or `None` past the end.
    #[inline]
    pub fn get(&self, id: TensorId) -> Option<Tensor<'a>> {
        match self {
            Tensors::Slice(s) => s.get(id as usize).copied(),
            Tensors::Blob(t) => t.get(id),
        }
    }
}

/// Where a graph's node table lives.
#[derive(Debug, Clone, Copy)]
pub enum Nodes<'a> {
    /// Nodes as values.
    Slice(&'a [Node<'a>]),
    /// A validated blob's node table, decoded on demand.
    Blob(NodeTable<'a>),
}

impl<'a> Nodes<'a> {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        match self {
            Nodes::Slice(s) => s.len(),
            Nodes::Blob(t) => t.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Node `i`, or `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<Node<'a>> {
        match self {
            Nodes::Slice(s) => s.get(i).copied(),
            Nodes::Blob(t) => t.get(i),
        }
    }
}

/// A model: its tensors, its nodes in execution order, its inputs and
/// outputs, and the arena its plan needs.
#[derive(Debug, Clone, Copy)]
pub struct Graph<'a> {
    /// The tensor table.
    pub tensors: Tensors<'a>,
    /// The nodes, in execution order.
    pub nodes: Nodes<'a>,
    /// The graph's input tensors (each with `Storage::Input(k)`, `k` its
    /// position here).
    pub inputs: &'a [TensorId],
    /// The graph's output tensors (`Storage::Output(k)`).
    pub outputs: &'a [TensorId],
    /// Bytes of arena one run needs: the plan's peak.
    pub arena_len: usize,
}

impl<'a> Graph<'a> {
    /// A graph from static tables (what `axon export --rust` writes).
    pub const fn new(
        tensors: &'a [Tensor<'a>],
        nodes: &'a [Node<'a>],
        inputs: &'a [TensorId],
        outputs: &'a [TensorId],
        arena_len: usize,
    ) -> Self {
        Graph {
            tensors: Tensors::Slice(tensors),
            nodes: Nodes::Slice(nodes),
            inputs,
            outputs,
            arena_len,
        }
    }

    /// Checks everything listed in the module documentation.
    pub fn validate(&self) -> Result<(), GraphError> {
        validate::validate(self)
    }

    /// Tensor `id`.
    pub fn tensor(&self, id: TensorId) -> Option<Tensor<'a>> {
        self.tensors.get(id)
    }

    /// Graph input `k`'s tensor.
    pub fn input(&self, k: usize) -> Option<Tensor<'a>> {
        self.inputs.get(k).and_then(|&t| self.tensors.get(t))
    }

    /// Graph output `k`'s tensor.
    pub fn output(&self, k: usize) -> Option<Tensor<'a>> {
        self.outputs.get(k).and_then(|&t| self.tensors.get(t))
    }

    /// The index of the node that writes tensor `t`, if any.
    pub fn producer(&self, t: TensorId) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| self.nodes.get(i).is_some_and(|n| n.output == t))
    }

    /// Node `n`'s tensors as its op sees them.
    pub fn signature(&self, n: &Node<'a>) -> Result<crate::ops::Signature<'a>, &'static str> {
        validate::signature(self, n)
    }
}
