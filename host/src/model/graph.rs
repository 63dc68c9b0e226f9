//! The host's model graph: named tensors (activations and parameters, with
//! their data), and nodes that name their op, inputs, outputs and
//! parameters by role. What every stage — training, quantization, export,
//! prediction — reads and writes; the JSON file is this, written out
//! (`json.rs`), and the core's graph is a view of it (`run.rs`).

use std::collections::HashMap;

use anyhow::{anyhow, bail};
use axon_core::graph::DType;
use axon_core::quant::QuantParams;

use crate::ops::Op;

/// A tensor's index in [`Graph::tensors`].
pub type TensorId = usize;

/// A tensor's quantization.
#[derive(Debug, Clone, PartialEq)]
pub enum Quant {
    /// Not quantized.
    None,
    /// One scale and zero point.
    PerTensor(QuantParams),
    /// One scale per slice along `axis`, zero point 0 (symmetric weights).
    PerChannel {
        /// The scales.
        scales: Vec<f32>,
        /// The channel axis.
        axis: usize,
    },
}

impl Quant {
    /// The per-tensor parameters, if that is what this is.
    pub fn params(&self) -> Option<QuantParams> {
        match self {
            Quant::PerTensor(p) => Some(*p),
            _ => None,
        }
    }

    /// The scales: one for per-tensor, all of them per channel.
    pub fn scales(&self) -> Vec<f32> {
        match self {
            Quant::None => Vec::new(),
            Quant::PerTensor(p) => vec![p.scale],
            Quant::PerChannel { scales, .. } => scales.clone(),
        }
    }
}

/// A constant tensor's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// f32 values.
    F32(Vec<f32>),
    /// int8 codes.
    I8(Vec<i8>),
    /// int32 values.
    I32(Vec<i32>),
}

impl Data {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Data::F32(v) => v.len(),
            Data::I8(v) => v.len(),
            Data::I32(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Data::F32(_) => DType::F32,
            Data::I8(_) => DType::I8,
            Data::I32(_) => DType::I32,
        }
    }
}

/// A tensor: an activation (no data) or a parameter (data).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Its name, unique in the graph (`blocks.0.fc1.weight`).
    pub name: String,
    /// Its shape, outermost first.
    pub shape: Vec<u32>,
    /// Its element type.
    pub dtype: DType,
    /// Its quantization.
    pub quant: Quant,
    /// Its values, for a parameter.
    pub data: Option<Data>,
}

impl Tensor {
    /// An activation tensor.
    pub fn activation(
        name: impl Into<String>,
        shape: Vec<u32>,
        dtype: DType,
        quant: Quant,
    ) -> Self {
        Tensor {
            name: name.into(),
            shape,
            dtype,
            quant,
            data: None,
        }
    }

    /// An f32 parameter.
    pub fn f32(name: impl Into<String>, shape: Vec<u32>, values: Vec<f32>) -> Self {
        Tensor {
            name: name.into(),
            shape,
            dtype: DType::F32,
            quant: Quant::None,
            data: Some(Data::F32(values)),
        }
    }

    /// Elements (the product of the shape).
    pub fn len(&self) -> usize {
        self.shape.iter().map(|&d| d as usize).product()
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The innermost dimension.
    pub fn last(&self) -> usize {
        self.shape.last().copied().unwrap_or(0) as usize
    }

    /// Whether it holds constant data.
    pub fn is_param(&self) -> bool {
        self.data.is_some()
    }

    /// The f32 values of a parameter.
    pub fn f32_data(&self) -> Option<&[f32]> {
        match &self.data {
            Some(Data::F32(v)) => Some(v),
            _ => None,
        }
    }

    /// The int8 codes of a parameter.
    pub fn i8_data(&self) -> Option<&[i8]> {
        match &self.data {
            Some(Data::I8(v)) => Some(v),
            _ => None,
        }
    }

    /// The int32 values of a parameter.
    pub fn i32_data(&self) -> Option<&[i32]> {
        match &self.data {
            Some(Data::I32(v)) => Some(v),
            _ => None,
        }
    }

    /// A one-line description: `name f32[32, 64]`.
    pub fn describe(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(u32::to_string).collect();
        format!("{} {}[{}]", self.name, self.dtype.name(), dims.join(", "))
    }
}

/// A node: an op, its activation inputs and output, its parameters by role.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Its name, unique among nodes (`blocks.0.fc1`).
    pub name: String,
    /// The op and its attributes.
    pub op: Op,
    /// Activation inputs, in the op's order.
    pub inputs: Vec<TensorId>,
    /// Its output (one).
    pub output: TensorId,
    /// Parameters: (role, tensor), in the op's order of roles.
    pub params: Vec<(String, TensorId)>,
}

impl Node {
    /// The tensor that plays `role`, if any.
    pub fn param(&self, role: &str) -> Option<TensorId> {
        self.params.iter().find(|(r, _)| r == role).map(|(_, t)| *t)
    }
}

/// A model graph.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    /// Every tensor.
    pub tensors: Vec<Tensor>,
    /// The nodes, in execution order (a topological order).
    pub nodes: Vec<Node>,
    /// Graph inputs.
    pub inputs: Vec<TensorId>,
    /// Graph outputs.
    pub outputs: Vec<TensorId>,
}

impl Graph {
    /// The tensor named `name`.
    pub fn find(&self, name: &str) -> Option<TensorId> {
        self.tensors.iter().position(|t| t.name == name)
    }

    /// Adds a tensor; its id.
    pub fn add_tensor(&mut self, t: Tensor) -> TensorId {
        self.tensors.push(t);
        self.tensors.len() - 1
    }

    /// Adds a node at the end.
    pub fn add_node(
        &mut self,
        name: impl Into<String>,
        op: Op,
        inputs: Vec<TensorId>,
        output: TensorId,
        params: Vec<(&str, TensorId)>,
    ) {
        self.nodes.push(Node {
            name: name.into(),
            op,
            inputs,
            output,
            params: params.into_iter().map(|(r, t)| (r.to_owned(), t)).collect(),
        });
    }

    /// Tensor `id`.
    pub fn tensor(&self, id: TensorId) -> &Tensor {
        &self.tensors[id]
    }

    /// Node `n`'s parameter `role`, or an error naming both.
    pub fn param(&self, n: &Node, role: &str) -> anyhow::Result<&Tensor> {
        n.param(role).map(|t| &self.tensors[t]).ok_or_else(|| {
            anyhow!(
                "node {} ({}) has no \"{role}\" parameter",
                n.name,
                n.op.name()
            )
        })
    }

    /// Node `n`'s input `k`.
    pub fn input(&self, n: &Node, k: usize) -> &Tensor {
        &self.tensors[n.inputs[k]]
    }

    /// Node `n`'s output.
    pub fn output_of(&self, n: &Node) -> &Tensor {
        &self.tensors[n.output]
    }

    /// The node that writes tensor `t`.
    pub fn producer(&self, t: TensorId) -> Option<usize> {
        self.nodes.iter().position(|n| n.output == t)
    }

    /// The nodes that read tensor `t` as an input.
    pub fn consumers(&self, t: TensorId) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].inputs.contains(&t))
            .collect()
    }

    /// Parameter count (elements of every tensor with data).
    pub fn parameter_count(&self) -> usize {
        self.tensors
            .iter()
            .filter(|t| t.is_param())
            .map(Tensor::len)
            .sum()
    }

    /// Whether any activation tensor is int8 (a quantized model).
    pub fn is_int8(&self) -> bool {
        self.tensors
            .iter()
            .any(|t| t.data.is_none() && t.dtype == DType::I8)
    }

    /// Puts the nodes in a topological order (keeping the given order
    /// where it already is one); an error names a node that can never run.
    pub fn sort(&mut self) -> anyhow::Result<()> {
        let n = self.nodes.len();
        let mut done = vec![false; self.tensors.len()];
        for &i in &self.inputs {
            done[i] = true;
        }
        for (i, t) in self.tensors.iter().enumerate() {
            if t.is_param() {
                done[i] = true;
            }
        }
        let mut placed = vec![false; n];
        let mut order = Vec::with_capacity(n);
        while order.len() < n {
            let next =
                (0..n).find(|&i| !placed[i] && self.nodes[i].inputs.iter().all(|&t| done[t]));
            let Some(i) = next else {
                let stuck = (0..n).find(|&i| !placed[i]).map_or(String::new(), |i| {
                    let node = &self.nodes[i];
                    let missing: Vec<&str> = node
                        .inputs
                        .iter()
                        .filter(|&&t| !done[t])
                        .map(|&t| self.tensors[t].name.as_str())
                        .collect();
                    format!(
                        "node {} reads {} which no node before it writes (a cycle, or a missing producer)",
                        node.name,
                        missing.join(", ")
                    )
                });
                bail!("the graph cannot be ordered: {stuck}");
            };
            placed[i] = true;
            done[self.nodes[i].output] = true;
            order.push(i);
        }
        let mut nodes: Vec<Option<Node>> = self.nodes.drain(..).map(Some).collect();
        self.nodes = order.into_iter().filter_map(|i| nodes[i].take()).collect();
        Ok(())
    }

    /// Checks the graph's structure (each op's own checks are in
    /// [`crate::ops`], run by [`crate::model::Model::validate`]): unique
    /// names, ids in range, one writer per tensor, order, inputs and
    /// outputs that are activations, parameters that are not written.
    pub fn validate_structure(&self) -> anyhow::Result<()> {
        let t = self.tensors.len();
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, x) in self.tensors.iter().enumerate() {
            if x.name.is_empty() {
                bail!("tensor {i} has no name");
            }
            if let Some(j) = names.insert(&x.name, i) {
                bail!("tensors {j} and {i} are both named \"{}\"", x.name);
            }
            if x.shape.is_empty() || x.shape.len() > axon_core::graph::MAX_RANK {
                bail!(
                    "tensor {} has rank {}; shapes have 1 to 4 dimensions",
                    x.name,
                    x.shape.len()
                );
            }
            if let Some(d) = x.shape.iter().position(|&d| d == 0) {
                bail!("tensor {}: dimension {d} is 0", x.name);
            }
            if let Some(data) = &x.data {
                if data.len() != x.len() {
                    bail!(
                        "tensor {} has shape {:?} ({} values) but {} values of data",
                        x.name,
                        x.shape,
                        x.len(),
                        data.len()
                    );
                }
                if data.dtype() != x.dtype {
                    bail!(
                        "tensor {} is {} but its data is {}",
                        x.name,
                        x.dtype.name(),
                        data.dtype().name()
                    );
                }
                if let Data::F32(v) = data {
                    if let Some(k) = v.iter().position(|v| !v.is_finite()) {
                        bail!("tensor {} value {k} is not finite", x.name);
                    }
                }
            }
            match &x.quant {
                Quant::None if x.dtype == DType::I8 && !x.is_param() => {
                    bail!("tensor {} is int8 but has no quantization", x.name)
                }
                Quant::PerTensor(p) if !p.is_valid() => bail!(
                    "tensor {}: scale {} must be finite and positive, zero point {} in −128..=127",
                    x.name,
                    p.scale,
                    p.zero_point
                ),
                Quant::PerChannel { scales, axis } => {
                    let dim = x.shape.get(*axis).copied().unwrap_or(0) as usize;
                    if scales.len() != dim {
                        bail!(
                            "tensor {}: {} scales for {dim} channels along axis {axis}",
                            x.name,
                            scales.len()
                        );
                    }
                    if let Some(k) = scales.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
                        bail!(
                            "tensor {}: channel scale {k} is not finite and positive",
                            x.name
                        );
                    }
                }
                _ => {}
            }
        }
        let mut node_names: HashMap<&str, usize> = HashMap::new();
        let mut writer: Vec<Option<usize>> = vec![None; t];
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(j) = node_names.insert(&n.name, i) {
                bail!("nodes {j} and {i} are both named \"{}\"", n.name);
            }
            let all = n
                .inputs
                .iter()
                .chain(std::iter::once(&n.output))
                .chain(n.params.iter().map(|(_, t)| t));
            if all.clone().any(|&x| x >= t) {
                bail!("node {} names a tensor that does not exist", n.name);
            }
            if self.tensors[n.output].is_param() {
                bail!(
                    "node {} writes {}, a parameter",
                    n.name,
                    self.tensors[n.output].name
                );
            }
            if let Some(j) = writer[n.output] {
                bail!(
                    "tensor {} is written by both {} and {}",
                    self.tensors[n.output].name,
                    self.nodes[j].name,
                    n.name
                );
            }
            for &x in &n.inputs {
                let tx = &self.tensors[x];
                if tx.is_param() {
                    bail!(
                        "node {} reads parameter {} as an input (name it under \"params\")",
                        n.name,
                        tx.name
                    );
                }
                if writer[x].is_none() && !self.inputs.contains(&x) {
                    bail!(
                        "node {} reads {} before any node writes it (the nodes are not in order, or nothing writes it)",
                        n.name,
                        tx.name
                    );
                }
            }
            for (role, p) in &n.params {
                if !self.tensors[*p].is_param() {
                    bail!(
                        "node {}'s \"{role}\" names {}, which has no data",
                        n.name,
                        self.tensors[*p].name
                    );
                }
            }
            writer[n.output] = Some(i);
        }
        if self.inputs.is_empty() || self.outputs.is_empty() {
            bail!("the graph needs at least one input and one output");
        }
        for &i in &self.inputs {
            if self.tensors[i].is_param() || writer[i].is_some() {
                bail!(
                    "graph input {} must be an activation no node writes",
                    self.tensors[i].name
                );
            }
        }
        for &o in &self.outputs {
            if writer[o].is_none() {
                bail!(
                    "graph output {} is written by no node",
                    self.tensors[o].name
                );
            }
            if let Some(c) = self.consumers(o).first() {
                bail!(
                    "graph output {} is also read by node {} (an output is for the caller only)",
                    self.tensors[o].name,
                    self.nodes[*c].name
                );
            }
        }
        Ok(())
    }
}
