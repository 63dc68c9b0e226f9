//! Every activation of an f32 graph for one sample, through the ops'
//! forward passes in f32 (the core's kernels: the bits the interpreter
//! computes). What calibration observes.

use anyhow::{anyhow, bail};

use super::Graph;
use crate::ops::Args;

/// The values of every activation tensor (`None` for parameters) after
/// running `g` on `inputs` (one slice per graph input).
pub fn activations(g: &Graph, inputs: &[&[f32]]) -> anyhow::Result<Vec<Option<Vec<f32>>>> {
    let mut vals: Vec<Option<Vec<f32>>> = vec![None; g.tensors.len()];
    if inputs.len() != g.inputs.len() {
        bail!(
            "the graph takes {} inputs, got {}",
            g.inputs.len(),
            inputs.len()
        );
    }
    for (&t, x) in g.inputs.iter().zip(inputs) {
        if x.len() != g.tensors[t].len() {
            bail!(
                "input {} takes {} values, got {}",
                g.tensors[t].name,
                g.tensors[t].len(),
                x.len()
            );
        }
        vals[t] = Some(x.to_vec());
    }
    for n in &g.nodes {
        let ins = n
            .inputs
            .iter()
            .map(|&t| {
                vals[t].as_deref().ok_or_else(|| {
                    anyhow!(
                        "node {} reads {} before it is written",
                        n.name,
                        g.tensors[t].name
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let params = n
            .params
            .iter()
            .map(|(r, t)| {
                g.tensors[*t].f32_data().ok_or_else(|| {
                    anyhow!("node {}'s {r} is not f32: only f32 graphs run here", n.name)
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let shapes: Vec<&[u32]> = n
            .inputs
            .iter()
            .map(|&t| g.tensors[t].shape.as_slice())
            .collect();
        let args = Args {
            inputs: &ins,
            input_shapes: &shapes,
            params: &params,
            output_shape: &g.tensors[n.output].shape,
        };
        let mut y = vec![0f32; g.tensors[n.output].len()];
        n.op.forward(&args, &mut y)?;
        vals[n.output] = Some(y);
    }
    Ok(vals)
}
