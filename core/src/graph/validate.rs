//! The load-time check of a graph (see the module documentation of
//! [`super`]). Allocation-free: quadratic scans over the tables, which are
//! small and checked once.

use super::{At, Graph, GraphError, Node, Storage, Tensor, TensorId, ARENA_ALIGN};
use crate::ops::{Signature, MAX_INPUTS};

/// The signature of node `n` (its tensors), or why it has none.
pub(crate) fn signature<'a>(g: &Graph<'a>, n: &Node<'a>) -> Result<Signature<'a>, &'static str> {
    let out = n.output;
    let output = g.tensors.get(out).ok_or("names a tensor past the table")?;
    let mut list = [output; MAX_INPUTS];
    for (slot, &id) in list.iter_mut().zip(n.inputs()) {
        *slot = g.tensors.get(id).ok_or("names a tensor past the table")?;
    }
    Ok(Signature::new(
        list.get(..n.inputs().len()).unwrap_or(&[]),
        output,
    ))
}

/// The lifetime of tensor `t`: the first and last node index at which its
/// bytes must hold its value (graph inputs from 0, outputs to the end).
pub fn lifetime(g: &Graph<'_>, t: TensorId) -> (usize, usize) {
    let n = g.nodes.len();
    let mut first = usize::MAX;
    let mut last = 0;
    for i in 0..n {
        let Some(node) = g.nodes.get(i) else { continue };
        if node.output == t {
            first = first.min(i);
            last = last.max(i);
        }
        if node.inputs().contains(&t) {
            first = first.min(i);
            last = last.max(i);
        }
    }
    if g.inputs.contains(&t) {
        first = 0;
    }
    if g.outputs.contains(&t) {
        last = n;
    }
    if first == usize::MAX {
        first = 0;
    }
    (first, last.max(first))
}

fn tensor_ok(g: &Graph<'_>, id: TensorId, t: &Tensor<'_>) -> Result<(), GraphError> {
    if !t.is_consistent() {
        return Err(GraphError::tensor(
            id,
            "its shape, type and quantization do not agree (or a scale is not finite and positive, or a zero point is outside int8)",
        ));
    }
    match t.storage {
        Storage::Input(k) => {
            if g.inputs.get(k as usize) != Some(&id) {
                return Err(GraphError::tensor(
                    id,
                    "is stored as a graph input it is not",
                ));
            }
        }
        Storage::Output(k) => {
            if g.outputs.get(k as usize) != Some(&id) {
                return Err(GraphError::tensor(
                    id,
                    "is stored as a graph output it is not",
                ));
            }
        }
        Storage::Arena(o) => {
            if !(o as usize).is_multiple_of(ARENA_ALIGN) {
                return Err(GraphError::tensor(
                    id,
                    "its arena offset is not a multiple of 8",
                ));
            }
            let end = (o as usize).checked_add(t.bytes());
            if end.is_none_or(|e| e > g.arena_len) {
                return Err(GraphError::tensor(id, "lies past the end of the arena"));
            }
        }
    }
    Ok(())
}

pub(super) fn validate(g: &Graph<'_>) -> Result<(), GraphError> {
    let count = g.tensors.len();
    if count > u16::MAX as usize {
        return Err(GraphError::graph("has more than 65,535 tensors"));
    }
    if g.nodes.is_empty() {
        return Err(GraphError::graph("has no nodes"));
    }
    if g.inputs.is_empty() || g.outputs.is_empty() {
        return Err(GraphError::graph("needs at least one input and one output"));
    }
    if g.inputs.len() > 255 || g.outputs.len() > 255 {
        return Err(GraphError::graph("has more than 255 inputs or outputs"));
    }
    if g.arena_len > u32::MAX as usize {
        return Err(GraphError::graph("its arena is larger than 4 GiB"));
    }
    for (k, &id) in g.inputs.iter().enumerate() {
        let t = g
            .tensors
            .get(id)
            .ok_or(GraphError::graph("an input names a tensor past the table"))?;
        let seen = g.inputs.get(..k).is_some_and(|s| s.contains(&id));
        if t.storage != Storage::Input(k as u8) || seen {
            return Err(GraphError::tensor(id, "is a graph input not stored as one"));
        }
    }
    for (k, &id) in g.outputs.iter().enumerate() {
        let t = g
            .tensors
            .get(id)
            .ok_or(GraphError::graph("an output names a tensor past the table"))?;
        let seen = g.outputs.get(..k).is_some_and(|s| s.contains(&id));
        if t.storage != Storage::Output(k as u8) || seen {
            return Err(GraphError::tensor(
                id,
                "is a graph output not stored as one",
            ));
        }
    }
    for id in 0..count as TensorId {
        if let Some(t) = g.tensors.get(id) {
            tensor_ok(g, id, &t)?;
        }
    }
    for i in 0..g.nodes.len() {
        let node = g
            .nodes
            .get(i)
            .ok_or(GraphError::graph("a node could not be decoded"))?;
        let at = |why| GraphError::node(i as u16, node.op.name(), why);
        let sig = signature(g, &node).map_err(at)?;
        let out = node.output;
        if g.inputs.contains(&out) {
            return Err(at("writes a graph input"));
        }
        let earlier = |t: TensorId| (0..i).find(|&j| g.nodes.get(j).is_some_and(|n| n.output == t));
        if earlier(out).is_some() {
            return Err(at("writes a tensor an earlier node already wrote"));
        }
        for &x in node.inputs() {
            if x == out {
                return Err(at("reads the tensor it writes"));
            }
            if g.outputs.contains(&x) {
                return Err(at("reads a graph output (outputs are for the caller only)"));
            }
            if !g.inputs.contains(&x) && earlier(x).is_none() {
                return Err(at(
                    "reads a tensor no earlier node writes (the order is not topological)",
                ));
            }
        }
        node.op.check(&sig).map_err(at)?;
    }
    for &o in g.outputs {
        if g.producer(o).is_none() {
            return Err(GraphError::tensor(o, "is a graph output no node writes"));
        }
    }
    // Arena tensors alive at the same time share no byte.
    for a in 0..count as TensorId {
        let Some((a0, a1)) = g.tensors.get(a).and_then(|t| t.arena_range()) else {
            continue;
        };
        for b in a + 1..count as TensorId {
            let Some((b0, b1)) = g.tensors.get(b).and_then(|t| t.arena_range()) else {
                continue;
            };
            if a0 < b1 && b0 < a1 {
                let (fa, la) = lifetime(g, a);
                let (fb, lb) = lifetime(g, b);
                if fa <= lb && fb <= la {
                    return Err(GraphError {
                        at: At::Tensors(a, b),
                        why: "share arena bytes while both are alive",
                    });
                }
            }
        }
    }
    Ok(())
}
