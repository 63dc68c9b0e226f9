//! Loss, accuracy and confusion matrix of a model on labelled data, through
//! the model's own inference path.

use super::loss::Loss;
use crate::model::{activations, Model, Runner, Task};

/// Evaluation results.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Mean loss (the loss the model's head implies: ce, bce or mse), for
    /// f32 models (an int8 model's loss is not defined on its codes).
    pub loss: Option<f64>,
    /// Fraction classified correctly (classification only).
    pub accuracy: Option<f64>,
    /// `confusion[true][predicted]` counts (classification only).
    pub confusion: Vec<Vec<usize>>,
    /// Mean absolute error of the outputs (regression only).
    pub mae: Option<f64>,
    /// Samples evaluated.
    pub samples: usize,
}

/// The loss a model was trained with, read from its task and last node.
pub fn loss_of(model: &Model) -> Loss {
    let last = model.graph.nodes.last().map(|n| n.op.name());
    match (model.meta.task, last) {
        (Task::Regression, _) => Loss::Mse,
        (Task::Classification { .. }, Some("sigmoid")) if model.outputs() == 1 => Loss::Bce,
        (Task::Classification { .. }, _) => Loss::Ce,
    }
}

/// Evaluates `model` on raw rows `x: (n, inputs)` with targets `y` (class
/// index or value). An f32 model's loss is computed fused on the values
/// before its head (`softmax`/`sigmoid`); predictions are the interpreter's
/// (for int8 models, [`axon_core::Interpreter::classify`]).
pub fn evaluate(model: &Model, x: &[f32], y: &[f32]) -> anyhow::Result<Metrics> {
    let loss = loss_of(model);
    let g = &model.graph;
    let classes = match model.meta.task {
        Task::Classification { classes } => classes,
        Task::Regression => 0,
    };
    let d = model.inputs().max(1);
    let run = Runner::new(model)?;
    let n = y.len();
    // An f32 model's loss is computed on its head's input.
    let head = g.nodes.last().filter(|n| {
        !model.is_int8()
            && matches!(
                (loss, n.op.name()),
                (Loss::Ce, "softmax") | (Loss::Bce, "sigmoid")
            )
    });
    // The outputs themselves are read only by a regression's error and by
    // the loss of an f32 model without a head.
    let mut outputs = Vec::new();
    if classes == 0 || (!model.is_int8() && head.is_none()) {
        outputs.reserve(n * model.outputs());
        run.for_each_row(&x[..n * d], |_, out, _| {
            outputs.extend_from_slice(out);
            Ok(())
        })?;
    }
    let o = model.outputs().max(1);
    let total_loss = if model.is_int8() {
        None
    } else {
        let mut total = 0.0f64;
        for (r, &t) in y.iter().enumerate() {
            let row = &x[r * d..(r + 1) * d];
            let z = match head {
                Some(h) => activations(g, &[row])?[h.inputs[0]]
                    .take()
                    .unwrap_or_default(),
                None => outputs[r * o..(r + 1) * o].to_vec(),
            };
            total += f64::from(loss.forward::<f32>(&z, t));
        }
        Some(total / n.max(1) as f64)
    };
    let mut confusion = vec![vec![0usize; classes]; classes];
    let (mut correct, mut abs_err) = (0usize, 0.0f64);
    let predicted = if classes > 0 {
        run.classify_rows(&x[..n * d])?
    } else {
        Vec::new()
    };
    for (r, &t) in y.iter().enumerate() {
        if classes > 0 {
            let (p, truth) = (predicted[r], t as usize);
            correct += usize::from(p == truth);
            if let Some(c) = confusion.get_mut(truth).and_then(|row| row.get_mut(p)) {
                *c += 1;
            }
        } else {
            abs_err += (f64::from(outputs[r * o]) - f64::from(t)).abs();
        }
    }
    Ok(Metrics {
        loss: total_loss,
        accuracy: (classes > 0).then(|| correct as f64 / n.max(1) as f64),
        confusion,
        mae: (classes == 0).then(|| abs_err / n.max(1) as f64),
        samples: n,
    })
}
