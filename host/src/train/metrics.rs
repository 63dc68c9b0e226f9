//! Loss, accuracy and confusion matrix of a model on labelled data, through
//! the model's own inference path.

use axon_core::Activation;

use super::loss::Loss;
use crate::model::{LayerSpec, Model, Task};

/// Evaluation results.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Mean loss (the loss the model's head implies: ce, bce or mse).
    pub loss: f64,
    /// Fraction classified correctly (classification only).
    pub accuracy: Option<f64>,
    /// `confusion[true][predicted]` counts (classification only).
    pub confusion: Vec<Vec<usize>>,
    /// Samples evaluated.
    pub samples: usize,
}

/// The loss a model was trained with, read from its task and last layer.
pub fn loss_of(model: &Model) -> Loss {
    match (model.task, model.layers.last()) {
        (Task::Regression, _) => Loss::Mse,
        (Task::Classification { .. }, Some(LayerSpec::Activation(Activation::Sigmoid)))
            if model.outputs() == 1 =>
        {
            Loss::Bce
        }
        (Task::Classification { .. }, _) => Loss::Ce,
    }
}

/// Evaluates `model` on raw rows `x: (n, inputs)` with targets `y` (class
/// index or value). The loss is computed fused on the values before the
/// head (`softmax`/`sigmoid`), the prediction from the full output, which is
/// bit for bit [`Model::forward`].
pub fn evaluate(model: &Model, x: &[f32], y: &[f32]) -> Metrics {
    let loss = loss_of(model);
    let n_head = match (loss.head(), model.layers.last()) {
        (Some(h), Some(LayerSpec::Activation(a))) if *a == h => 1,
        _ => 0,
    };
    let body = Model {
        layers: model.layers[..model.layers.len() - n_head].to_vec(),
        ..model.clone()
    };
    let classes = match model.task {
        Task::Classification { classes } => classes,
        Task::Regression => 0,
    };
    let mut confusion = vec![vec![0usize; classes]; classes];
    let mut total = 0.0f64;
    let mut correct = 0usize;
    let n = y.len();
    for (r, &t) in y.iter().enumerate() {
        let z = body.forward(&x[r * model.inputs..(r + 1) * model.inputs]);
        total += f64::from(loss.forward::<f32>(&z, t));
        if classes > 0 {
            let mut out = z;
            if n_head == 1 {
                if let Some(LayerSpec::Activation(a)) = model.layers.last() {
                    a.apply(&mut out);
                }
            }
            let p = Model::predicted_class(&out);
            let truth = t as usize;
            if p == truth {
                correct += 1;
            }
            if truth < classes {
                confusion[truth][p] += 1;
            }
        }
    }
    Metrics {
        loss: total / n.max(1) as f64,
        accuracy: (classes > 0).then(|| correct as f64 / n.max(1) as f64),
        confusion,
        samples: n,
    }
}
