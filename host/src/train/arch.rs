//! Network architectures: what `axon train` builds before it trains — a
//! chain from `--layers 64,32,10` and `--activation`, or an architecture
//! file (`--arch net.toml`, `docs/architecture.md`) with residual blocks.
//! Either becomes a graph of f32 nodes with seeded initial weights, named
//! as PyTorch's state dict would name them (`fc1.weight`,
//! `blocks.0.fc1.bias`).

use std::path::Path;

use anyhow::{bail, Context};
use axon_core::graph::DType;
use axon_core::Activation;
use serde::Deserialize;

use super::init::init_dense;
use super::rng::{stream, Rng};
use crate::model::{Graph, Quant, Tensor, TensorId};
use crate::ops::{self, Op};

/// One layer of an architecture.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// A fully connected layer of `units` outputs, then an optional
    /// activation.
    Dense {
        /// Outputs.
        units: usize,
        /// The activation after it (an element-wise op).
        activation: Option<Op>,
    },
    /// `x + body(x)` (`repeat` times, each block its own weights), then an
    /// optional activation; the body must give back its input's width.
    Residual {
        /// The block's layers.
        body: Vec<Layer>,
        /// How many blocks.
        repeat: usize,
        /// The activation after each add (an element-wise op).
        activation: Option<Op>,
    },
}

/// An architecture: its hidden layers; the output layer (as wide as the
/// data's outputs) and the loss's head are added by [`build`].
#[derive(Debug, Clone, PartialEq)]
pub struct Arch {
    /// The layers between the input and the output layer.
    pub layers: Vec<Layer>,
}

impl Arch {
    /// A chain of dense layers of these widths, each followed by `act`.
    pub fn chain(hidden: &[usize], act: Option<Op>) -> Arch {
        Arch {
            layers: hidden
                .iter()
                .map(|&units| Layer::Dense {
                    units,
                    activation: act.clone(),
                })
                .collect(),
        }
    }

    /// Reads an architecture file.
    pub fn load(path: &Path) -> anyhow::Result<Arch> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read architecture file {}", path.display()))?;
        Arch::from_toml(&text).with_context(|| format!("architecture file {}", path.display()))
    }

    /// Parses an architecture (TOML, `docs/architecture.md`).
    pub fn from_toml(text: &str) -> anyhow::Result<Arch> {
        let f: File = toml::from_str(text)?;
        let layers = f
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| layer(l).with_context(|| format!("layers[{i}]")))
            .collect::<anyhow::Result<_>>()?;
        Ok(Arch { layers })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "layer", default)]
    layers: Vec<RawLayer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    #[serde(default)]
    dense: Option<usize>,
    #[serde(default)]
    residual: Option<Vec<RawLayer>>,
    #[serde(default)]
    repeat: Option<usize>,
    #[serde(default)]
    activation: Option<String>,
    #[serde(default)]
    alpha: Option<f32>,
}

fn activation(name: Option<&str>, alpha: Option<f32>) -> anyhow::Result<Option<Op>> {
    match name {
        Some(name) => parse_activation(name, alpha),
        None => Ok(None),
    }
}

fn layer(l: &RawLayer) -> anyhow::Result<Layer> {
    let act = activation(l.activation.as_deref(), l.alpha)?;
    match (l.dense, &l.residual) {
        (Some(units), None) => {
            if l.repeat.is_some() {
                bail!("\"repeat\" goes with \"residual\"");
            }
            if units == 0 {
                bail!("\"dense\" needs at least 1 unit");
            }
            Ok(Layer::Dense {
                units,
                activation: act,
            })
        }
        (None, Some(body)) => {
            if body.is_empty() {
                bail!("a residual block needs at least one layer");
            }
            let body = body
                .iter()
                .enumerate()
                .map(|(i, b)| layer(b).with_context(|| format!("residual[{i}]")))
                .collect::<anyhow::Result<_>>()?;
            Ok(Layer::Residual {
                body,
                repeat: l.repeat.unwrap_or(1).max(1),
                activation: act,
            })
        }
        (Some(_), Some(_)) => {
            bail!("a layer is either \"dense = N\" or \"residual = [...]\", not both")
        }
        (None, None) => bail!("a layer needs \"dense = N\" or \"residual = [...]\""),
    }
}

/// What [`build`] is building: the graph and its initialisation.
struct Builder<'a> {
    g: Graph,
    rng: &'a mut Rng,
    counts: std::collections::HashMap<String, usize>,
}

impl Builder<'_> {
    fn act_tensor(&mut self, name: String, width: usize) -> TensorId {
        self.g.add_tensor(Tensor::activation(
            name,
            vec![width as u32],
            DType::F32,
            Quant::None,
        ))
    }

    fn count(&mut self, scope: &str, what: &str) -> usize {
        let k = self.counts.entry(format!("{scope}/{what}")).or_insert(0);
        *k += 1;
        *k
    }

    fn dense(&mut self, scope: &str, x: TensorId, units: usize, act: Option<&Op>) -> TensorId {
        let width = self.g.tensors[x].len();
        let k = self.count(scope, "fc");
        let name = format!("{scope}fc{k}");
        let (w, b) = init_dense(self.rng, width, units, act.and_then(Op::activation_init));
        let wt = self.g.add_tensor(Tensor::f32(
            format!("{name}.weight"),
            vec![units as u32, width as u32],
            w,
        ));
        let bt = self
            .g
            .add_tensor(Tensor::f32(format!("{name}.bias"), vec![units as u32], b));
        let y = self.act_tensor(format!("{name}.out"), units);
        self.g.add_node(
            name,
            Op::FullyConnected(Default::default()),
            vec![x],
            y,
            vec![("weight", wt), ("bias", bt)],
        );
        match act {
            Some(a) => self.activation(scope, y, a.clone()),
            None => y,
        }
    }

    fn activation(&mut self, scope: &str, x: TensorId, op: Op) -> TensorId {
        let k = self.count(scope, op.name());
        let name = format!("{scope}{}{k}", op.name());
        let y = self.act_tensor(format!("{name}.out"), self.g.tensors[x].len());
        self.g.add_node(name, op, vec![x], y, vec![]);
        y
    }

    fn layer(&mut self, scope: &str, x: TensorId, l: &Layer) -> anyhow::Result<TensorId> {
        match l {
            Layer::Dense { units, activation } => {
                Ok(self.dense(scope, x, *units, activation.as_ref()))
            }
            Layer::Residual {
                body,
                repeat,
                activation,
            } => {
                let mut x = x;
                for _ in 0..*repeat {
                    let b = self.count("", "block") - 1;
                    let inner = format!("{scope}blocks.{b}.");
                    let mut h = x;
                    for l in body {
                        h = self.layer(&inner, h, l)?;
                    }
                    let (wx, wh) = (self.g.tensors[x].len(), self.g.tensors[h].len());
                    if wx != wh {
                        bail!("a residual block takes {wx} values and its body gives {wh}; they must be equal");
                    }
                    let y = self.act_tensor(format!("{inner}add.out"), wx);
                    self.g.add_node(
                        format!("{inner}add"),
                        Op::Add(Default::default()),
                        vec![x, h],
                        y,
                        vec![],
                    );
                    x = match activation {
                        Some(a) => self.activation(&inner, y, a.clone()),
                        None => y,
                    };
                }
                Ok(x)
            }
        }
    }
}

/// A hidden activation by name: `none` (or `identity`) for none; `gelu`
/// (the tanh form) and `gelu_erf`; otherwise any op the registry marks as
/// an activation (`relu`, `leaky_relu`, `sigmoid`, `tanh`, `silu`, `elu`,
/// … [`Op::activation_names`]), with `alpha` as its attribute when given
/// (`leaky_relu`'s slope, `elu`'s scale). `softmax` is the loss's head,
/// not a hidden activation.
pub fn parse_activation(name: &str, alpha: Option<f32>) -> anyhow::Result<Option<Op>> {
    let no_alpha = |op: Op| match alpha {
        Some(_) => bail!("activation '{name}' takes no alpha"),
        None => Ok(Some(op)),
    };
    match name {
        "identity" | "none" => no_alpha(Op::Relu(Default::default())).map(|_| None),
        "gelu" => no_alpha(Op::Gelu(ops::gelu::Gelu::f32(true))),
        "gelu_erf" => no_alpha(Op::Gelu(ops::gelu::Gelu::f32(false))),
        "softmax" => bail!(
            "softmax is the loss's head, added after the output layer; not a hidden activation"
        ),
        _ => {
            let attrs = alpha.map(|a| serde_json::json!({ "alpha": a }));
            Op::activation(name, attrs.as_ref())
                .map(Some)
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
    }
}

/// The f32 op of an activation; `None` for the identity (no node).
pub fn op_of(a: Activation) -> Option<Op> {
    Some(match a {
        Activation::Identity => return None,
        Activation::Relu => Op::Relu(Default::default()),
        Activation::LeakyRelu { alpha } => Op::LeakyRelu(ops::leaky_relu::LeakyRelu::f32(alpha)),
        Activation::Sigmoid => Op::Sigmoid(ops::sigmoid::Sigmoid),
        Activation::Tanh => Op::Tanh(ops::tanh::Tanh),
        Activation::GeluTanh => Op::Gelu(ops::gelu::Gelu::f32(true)),
        Activation::GeluErf => Op::Gelu(ops::gelu::Gelu::f32(false)),
        Activation::Silu => Op::Silu(ops::silu::Silu),
        Activation::Softmax => Op::Softmax(Default::default()),
    })
}

/// The graph of `arch` for `inputs` features and `outputs` outputs: an
/// optional standardisation (`mean`, `std` per feature), the layers, the
/// output layer (initialised for `head`), `head` if the loss has one.
/// Weights drawn from the seed's initialisation stream, layer by layer.
pub fn build(
    arch: &Arch,
    inputs: usize,
    outputs: usize,
    standardize: Option<(Vec<f32>, Vec<f32>)>,
    head: Option<Activation>,
    seed: u64,
) -> anyhow::Result<Graph> {
    let mut rng = Rng::new(seed, stream::INIT);
    let mut b = Builder {
        g: Graph::default(),
        rng: &mut rng,
        counts: Default::default(),
    };
    let x = b.act_tensor("x".into(), inputs);
    b.g.inputs.push(x);
    let mut h = x;
    if let Some((mean, std)) = standardize {
        let m =
            b.g.add_tensor(Tensor::f32("input.mean", vec![inputs as u32], mean));
        let s =
            b.g.add_tensor(Tensor::f32("input.std", vec![inputs as u32], std));
        let y = b.act_tensor("input.standardized".into(), inputs);
        b.g.add_node(
            "input",
            Op::Standardize(ops::standardize::Standardize),
            vec![x],
            y,
            vec![("mean", m), ("std", s)],
        );
        h = y;
    }
    for l in &arch.layers {
        h = b.layer("", h, l)?;
    }
    // The output layer (and its head): its last tensor is the output `y`.
    let head = head.and_then(op_of);
    let out = b.dense("", h, outputs, head.as_ref());
    b.g.tensors[out].name = "y".into();
    b.g.outputs.push(out);
    Ok(b.g)
}
