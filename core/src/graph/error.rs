//! Why a graph was rejected at load.

use core::fmt;

use super::TensorId;

/// Where in the graph a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The graph as a whole (its inputs, outputs or arena).
    Graph,
    /// A tensor.
    Tensor(TensorId),
    /// A node, with its op's name.
    Node(u16, &'static str),
    /// Two tensors (an arena overlap).
    Tensors(TensorId, TensorId),
}

/// A graph failed validation: where, and why (a plain sentence fragment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphError {
    /// Where.
    pub at: At,
    /// Why.
    pub why: &'static str,
}

impl GraphError {
    /// A problem of the whole graph.
    pub const fn graph(why: &'static str) -> Self {
        GraphError { at: At::Graph, why }
    }

    /// A problem of tensor `t`.
    pub const fn tensor(t: TensorId, why: &'static str) -> Self {
        GraphError {
            at: At::Tensor(t),
            why,
        }
    }

    /// A problem of node `n` (op `op`).
    pub const fn node(n: u16, op: &'static str, why: &'static str) -> Self {
        GraphError {
            at: At::Node(n, op),
            why,
        }
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            At::Graph => write!(f, "graph: {}", self.why),
            At::Tensor(t) => write!(f, "tensor {t}: {}", self.why),
            At::Node(n, op) => write!(f, "node {n} ({op}): {}", self.why),
            At::Tensors(a, b) => write!(f, "tensors {a} and {b}: {}", self.why),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for GraphError {}
