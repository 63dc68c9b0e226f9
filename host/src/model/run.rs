//! Running a host model through the core: the core's graph is a view of
//! the host's (tensors renumbered, the arena planned by tensor lifetime,
//! each node's op borrowing its parameters), run by the core's one
//! interpreter — the same code the firmware runs.

use anyhow::{anyhow, bail, Context};
use axon_core::graph::{plan, DType, Node as CoreNode, Quant as CoreQuant, Shape, Storage};
use axon_core::graph::{Graph as CoreGraph, Tensor as CoreTensor};
use axon_core::ops::{Op as CoreOp, View, ViewMut};
use axon_core::Interpreter;

use super::{Model, Quant, Tensor};
use crate::ops::Ctx;

/// The core's view of an activation tensor, stored as `storage`.
pub fn core_tensor(t: &Tensor, storage: Storage) -> CoreTensor<'static> {
    let shape = Shape::try_new(&t.shape).unwrap_or(Shape::vector(0));
    CoreTensor {
        shape,
        dtype: t.dtype,
        quant: match &t.quant {
            Quant::PerTensor(p) => CoreQuant::PerTensor(*p),
            _ => CoreQuant::None,
        },
        storage,
    }
}

/// A model's core graph: tensors, planned arena, nodes with their ops.
#[derive(Debug)]
pub struct Runner<'m> {
    model: &'m Model,
    /// Core tensor table (the host's activation tensors, renumbered).
    pub tensors: Vec<CoreTensor<'static>>,
    /// Core nodes, in order.
    pub nodes: Vec<CoreNode<'m>>,
    /// Graph inputs (core ids).
    pub inputs: Vec<u16>,
    /// Graph outputs (core ids).
    pub outputs: Vec<u16>,
    /// The arena the plan needs.
    pub arena_len: usize,
    /// Host tensor id of each core tensor.
    pub host_ids: Vec<usize>,
}

/// An arena on the heap, 8-byte aligned.
#[derive(Debug, Clone)]
pub struct HeapArena(Vec<u64>);

impl HeapArena {
    /// At least `len` bytes.
    pub fn new(len: usize) -> Self {
        HeapArena(vec![0; len.div_ceil(8).max(1)])
    }

    /// The bytes.
    pub fn bytes(&mut self) -> &mut [u8] {
        bytemuck::cast_slice_mut(&mut self.0)
    }
}

impl<'m> Runner<'m> {
    /// Builds and plans `model`'s core graph, and validates it as the
    /// device will.
    pub fn new(model: &'m Model) -> anyhow::Result<Runner<'m>> {
        let g = &model.graph;
        // Core ids for the activation tensors, in host order.
        let mut core_id = vec![None; g.tensors.len()];
        let mut host_ids = Vec::new();
        for (i, t) in g.tensors.iter().enumerate() {
            if !t.is_param() {
                core_id[i] = Some(host_ids.len() as u16);
                host_ids.push(i);
            }
        }
        if host_ids.len() > u16::MAX as usize {
            bail!("the graph has more than 65,535 activation tensors");
        }
        let cid = |t: usize| {
            core_id[t].ok_or_else(|| anyhow!("tensor {} is a parameter", g.tensors[t].name))
        };
        // Lifetimes by node index.
        let n = g.nodes.len();
        let count = host_ids.len();
        let mut first = vec![usize::MAX; count];
        let mut last = vec![0usize; count];
        for (k, node) in g.nodes.iter().enumerate() {
            for &t in node.inputs.iter().chain(std::iter::once(&node.output)) {
                let c = cid(t)? as usize;
                first[c] = first[c].min(k);
                last[c] = last[c].max(k);
            }
        }
        let mut sizes = vec![0usize; count];
        for c in 0..count {
            let h = host_ids[c];
            if first[c] == usize::MAX {
                first[c] = 0;
            }
            let io = g.inputs.contains(&h) || g.outputs.contains(&h);
            if !io {
                let t = &g.tensors[h];
                sizes[c] = t
                    .dtype
                    .bytes(t.len())
                    .ok_or_else(|| anyhow!("tensor {} is too large", t.name))?;
            }
            if g.outputs.contains(&h) {
                last[c] = n;
            }
        }
        let mut scratch = vec![0u16; count];
        let mut offsets = vec![0u32; count];
        let arena_len = plan::arena_layout(&sizes, &first, &last, &mut scratch, &mut offsets)
            .map_err(|e| anyhow!("cannot plan the arena: {e:?}"))?;
        let mut tensors = Vec::with_capacity(count);
        for c in 0..count {
            let h = host_ids[c];
            let storage = if let Some(k) = g.inputs.iter().position(|&t| t == h) {
                Storage::Input(k as u8)
            } else if let Some(k) = g.outputs.iter().position(|&t| t == h) {
                Storage::Output(k as u8)
            } else {
                Storage::Arena(offsets[c])
            };
            tensors.push(core_tensor(&g.tensors[h], storage));
        }
        let mut nodes = Vec::with_capacity(n);
        for node in &g.nodes {
            let op: CoreOp<'m> = node.op.core(&Ctx::new(g, node))?;
            let ins: Vec<u16> = node
                .inputs
                .iter()
                .map(|&t| cid(t))
                .collect::<anyhow::Result<_>>()?;
            let out = cid(node.output)?;
            nodes.push(CoreNode::try_new(op, &ins, out).ok_or_else(|| {
                anyhow!("node {} has more inputs than the core takes", node.name)
            })?);
        }
        let inputs = g
            .inputs
            .iter()
            .map(|&t| cid(t))
            .collect::<anyhow::Result<_>>()?;
        let outputs = g
            .outputs
            .iter()
            .map(|&t| cid(t))
            .collect::<anyhow::Result<_>>()?;
        let r = Runner {
            model,
            tensors,
            nodes,
            inputs,
            outputs,
            arena_len,
            host_ids,
        };
        r.interpreter()?;
        Ok(r)
    }

    /// The model this runs.
    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// The core graph.
    pub fn graph(&self) -> CoreGraph<'_> {
        CoreGraph::new(
            &self.tensors,
            &self.nodes,
            &self.inputs,
            &self.outputs,
            self.arena_len,
        )
    }

    /// The validated interpreter over the core graph.
    pub fn interpreter(&self) -> anyhow::Result<Interpreter<'_>> {
        Interpreter::new(self.graph()).map_err(|e| {
            // Name the host node or tensor the core's index points at.
            let at = match e.at {
                axon_core::graph::At::Node(i, _) => self
                    .model
                    .graph
                    .nodes
                    .get(i as usize)
                    .map(|n| format!(" (node {})", n.name)),
                axon_core::graph::At::Tensor(t) => self
                    .host_ids
                    .get(t as usize)
                    .map(|&h| format!(" (tensor {})", self.model.graph.tensors[h].name)),
                _ => None,
            };
            anyhow!("the core rejects the graph: {e}{}", at.unwrap_or_default())
        })
    }

    /// A fresh arena for this graph.
    pub fn arena(&self) -> HeapArena {
        HeapArena::new(self.arena_len)
    }

    /// Runs a graph with one f32 input and one f32 output on many rows:
    /// `f(row, outputs, codes)` for each, `codes` being the int8 codes a
    /// final dequantize read (int8 models).
    pub fn for_each_row(
        &self,
        x: &[f32],
        mut f: impl FnMut(usize, &[f32], Option<&[i8]>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let it = self.interpreter()?;
        let (d, o) = (self.model.inputs(), self.model.outputs());
        if d == 0 || !x.len().is_multiple_of(d) {
            bail!("{} values are not whole rows of {d} inputs", x.len());
        }
        let mut arena = self.arena();
        let mut y = vec![0f32; o];
        let codes_at = self.output_codes();
        let mut codes = vec![0i8; o];
        for (r, row) in x.chunks_exact(d).enumerate() {
            it.run(
                &[View::F32(row)],
                &mut [ViewMut::F32(&mut y)],
                arena.bytes(),
            )
            .with_context(|| format!("row {}", r + 1))?;
            let c = match codes_at {
                Some(off) => {
                    codes.copy_from_slice(bytemuck::cast_slice(&arena.bytes()[off..off + o]));
                    Some(codes.as_slice())
                }
                None => None,
            };
            f(r, &y, c)?;
        }
        Ok(())
    }

    /// The outputs of one row.
    pub fn run(&self, x: &[f32]) -> anyhow::Result<Vec<f32>> {
        let mut out = Vec::new();
        self.for_each_row(x, |_, y, _| {
            out = y.to_vec();
            Ok(())
        })?;
        Ok(out)
    }

    /// The predicted class of each row, as the device computes it
    /// ([`Interpreter::classify`]).
    pub fn classify_rows(&self, x: &[f32]) -> anyhow::Result<Vec<usize>> {
        let it = self.interpreter()?;
        let d = self.model.inputs().max(1);
        let mut arena = self.arena();
        x.chunks_exact(d)
            .enumerate()
            .map(|(r, row)| {
                it.classify(row, arena.bytes())
                    .with_context(|| format!("row {}", r + 1))
            })
            .collect()
    }

    /// The arena offset of the int8 codes a final dequantize reads, if the
    /// graph ends in one (they are still there after a run).
    fn output_codes(&self) -> Option<usize> {
        let out = *self.outputs.first()?;
        let deq = self.nodes.iter().find(|n| n.output == out)?;
        if !matches!(deq.op, CoreOp::Dequantize(_)) {
            return None;
        }
        let t = self.tensors.get(*deq.inputs().first()? as usize)?;
        match (t.dtype, t.storage) {
            (DType::I8, Storage::Arena(off)) => Some(off as usize),
            _ => None,
        }
    }
}
