//! A core graph (a parsed blob) back into a host model: each op turned
//! back into its host form by its own folder's `from_core`, parameters
//! named after their node.

use axon_core::graph::{Nodes, Tensors};
use axon_core::Interpreter;

use crate::model::{Graph, Meta, Model, Quant, Tensor};
use crate::ops::FromCore;

/// The host model of a validated core graph.
pub fn model(it: &Interpreter<'_>) -> anyhow::Result<Model> {
    let cg = it.graph();
    let tname = |i: u16| match &cg.tensors {
        Tensors::Blob(t) => t.name(i).map(str::to_owned),
        Tensors::Slice(_) => None,
    };
    let nname = |i: usize| match &cg.nodes {
        Nodes::Blob(t) => t.name(i).map(str::to_owned),
        Nodes::Slice(_) => None,
    };
    let mut g = Graph::default();
    for i in 0..cg.tensors.len() as u16 {
        let t = cg
            .tensors
            .get(i)
            .ok_or_else(|| anyhow::anyhow!("tensor {i} cannot be read"))?;
        g.tensors.push(Tensor {
            name: tname(i).unwrap_or_else(|| format!("t{i}")),
            shape: t.shape.dims().to_vec(),
            dtype: t.dtype,
            quant: t.params().map_or(Quant::None, Quant::PerTensor),
            data: None,
        });
    }
    for i in 0..cg.nodes.len() {
        let n = cg
            .nodes
            .get(i)
            .ok_or_else(|| anyhow::anyhow!("node {i} cannot be read"))?;
        let name = nname(i).unwrap_or_else(|| format!("n{i}"));
        let sig = cg.signature(&n).map_err(anyhow::Error::msg)?;
        let mut b = FromCore {
            name: &name,
            sig,
            params: Vec::new(),
        };
        let op = crate::ops::from_core(&n.op, &mut b)
            .map_err(|e| anyhow::anyhow!("node {name}: {e}"))?;
        let params = b
            .params
            .into_iter()
            .map(|(role, t)| (role, g.add_tensor(t)))
            .collect::<Vec<_>>();
        g.nodes.push(crate::model::Node {
            name,
            op,
            inputs: n.inputs().iter().map(|&t| t as usize).collect(),
            output: n.output as usize,
            params,
        });
    }
    g.inputs = cg.inputs.iter().map(|&t| t as usize).collect();
    g.outputs = cg.outputs.iter().map(|&t| t as usize).collect();
    crate::ops::fully_connected::derive_row_sums(&mut g);
    let m = Model {
        meta: Meta::default(),
        graph: g,
    };
    m.validate()?;
    Ok(m)
}
