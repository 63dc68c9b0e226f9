//! What an op's checks and core view see of its node.

use anyhow::{anyhow, bail};
use axon_core::graph::DType;
use axon_core::quant::QuantParams;

use crate::model::{Graph, Node, Tensor};

/// A node in its graph.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The graph.
    pub g: &'a Graph,
    /// The node.
    pub n: &'a Node,
}

impl<'a> Ctx<'a> {
    /// Node `n` of `g`.
    pub fn new(g: &'a Graph, n: &'a Node) -> Self {
        Ctx { g, n }
    }

    /// An error about this node.
    pub fn err(&self, msg: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("node {} ({}): {msg}", self.n.name, self.n.op.name())
    }

    /// Input `k`.
    pub fn input(&self, k: usize) -> anyhow::Result<&'a Tensor> {
        self.n
            .inputs
            .get(k)
            .map(|&t| &self.g.tensors[t])
            .ok_or_else(|| self.err(format!("needs input {k}")))
    }

    /// The output.
    pub fn output(&self) -> &'a Tensor {
        &self.g.tensors[self.n.output]
    }

    /// Parameter `role`.
    pub fn param(&self, role: &str) -> anyhow::Result<&'a Tensor> {
        self.n
            .param(role)
            .map(|t| &self.g.tensors[t])
            .ok_or_else(|| self.err(format!("needs a \"{role}\" parameter")))
    }

    /// Parameter `role`, if present.
    pub fn optional(&self, role: &str) -> Option<&'a Tensor> {
        self.n.param(role).map(|t| &self.g.tensors[t])
    }

    /// Checks the number of inputs.
    pub fn arity(&self, k: usize) -> anyhow::Result<()> {
        if self.n.inputs.len() != k {
            bail!(self.err(format!("takes {k} input(s), has {}", self.n.inputs.len())));
        }
        Ok(())
    }

    /// A unary element-wise node: one input of type `t`, the output of
    /// type `t` and the same shape. Returns both.
    pub fn unary(&self, t: DType) -> anyhow::Result<(&'a Tensor, &'a Tensor)> {
        self.arity(1)?;
        let (x, y) = (self.input(0)?, self.output());
        if x.dtype != t || y.dtype != t {
            bail!(self.err(format!(
                "reads {} and writes {}; expected {} for both",
                x.describe(),
                y.describe(),
                t.name()
            )));
        }
        if x.shape != y.shape {
            bail!(self.err(format!(
                "input {} and output {} differ in shape",
                x.describe(),
                y.describe()
            )));
        }
        Ok((x, y))
    }

    /// Whether the node computes in int8 (its first input is int8).
    pub fn is_int8(&self) -> bool {
        self.input(0)
            .is_ok_and(|x| matches!(x.dtype, DType::I8 | DType::Staged))
    }

    /// A tensor's per-tensor quantization, or an error naming it.
    pub fn params_of(&self, t: &Tensor) -> anyhow::Result<QuantParams> {
        t.quant
            .params()
            .ok_or_else(|| self.err(format!("{} needs per-tensor quantization", t.name)))
    }

    /// The f32 data of parameter `role`, checked to have `len` values.
    pub fn f32_param(&self, role: &str, len: usize) -> anyhow::Result<&'a [f32]> {
        let t = self.param(role)?;
        let d = t
            .f32_data()
            .ok_or_else(|| self.err(format!("\"{role}\" ({}) must be f32", t.describe())))?;
        if d.len() != len {
            bail!(self.err(format!(
                "\"{role}\" ({}) must hold {len} values",
                t.describe()
            )));
        }
        Ok(d)
    }

    /// Checks that a derived value equals what its source gives.
    pub fn derived<T: PartialEq + std::fmt::Debug>(
        &self,
        what: &str,
        stored: T,
        expected: T,
        from: &str,
    ) -> anyhow::Result<()> {
        if stored != expected {
            bail!(self.err(format!(
                "{what} is {stored:?}, but {from} give {expected:?} (a hand-edited or corrupt file?)"
            )));
        }
        Ok(())
    }
}
