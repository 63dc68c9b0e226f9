//! f32 against int8 on the same data: accuracy of each, agreement of their
//! decisions, and the size of the output error.

use crate::model::{Model, Task};

use super::{Int8Model, Int8Runner};

/// The two models side by side over a data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Samples compared.
    pub samples: usize,
    /// f32 accuracy in [0, 1] (classification with labels).
    pub f32_accuracy: Option<f64>,
    /// int8 accuracy in [0, 1] (classification with labels).
    pub int8_accuracy: Option<f64>,
    /// Share of samples whose predicted class agrees (classification).
    pub agreement: Option<f64>,
    /// Largest |f32 output − dequantized int8 output| over all outputs.
    pub max_abs_error: f64,
    /// Mean |f32 output − dequantized int8 output|.
    pub mean_abs_error: f64,
}

/// Runs both models on the raw inputs `x` (row-major) and compares them;
/// `classes` are the true class indices, if known.
pub fn compare(
    f32_model: &Model,
    int8: &Int8Model,
    x: &[f32],
    classes: Option<&[usize]>,
) -> anyhow::Result<Comparison> {
    let d = f32_model.inputs;
    let layers = int8.core_layers();
    let mut runner = Int8Runner::new(int8.core_model(&layers))?;
    let n = x.len().checked_div(d).unwrap_or(0);
    let classify = matches!(f32_model.task, Task::Classification { .. });
    let (mut ok_f, mut ok_q, mut agree) = (0usize, 0usize, 0usize);
    let (mut max_err, mut sum_err, mut count) = (0.0f64, 0.0f64, 0usize);
    for (i, row) in x.chunks_exact(d.max(1)).enumerate() {
        let yf = f32_model.forward(row);
        let (_, yq) = runner.run(row)?;
        for (a, b) in yf.iter().zip(&yq) {
            let e = (*a as f64 - *b as f64).abs();
            max_err = max_err.max(e);
            sum_err += e;
            count += 1;
        }
        if classify {
            let cf = Model::predicted_class(&yf);
            let cq = runner.classify(row)?;
            agree += usize::from(cf == cq);
            if let Some(t) = classes.and_then(|c| c.get(i)) {
                ok_f += usize::from(cf == *t);
                ok_q += usize::from(cq == *t);
            }
        }
    }
    let share = |k: usize| if n == 0 { 0.0 } else { k as f64 / n as f64 };
    let labelled = classify && classes.is_some();
    Ok(Comparison {
        samples: n,
        f32_accuracy: labelled.then(|| share(ok_f)),
        int8_accuracy: labelled.then(|| share(ok_q)),
        agreement: classify.then(|| share(agree)),
        max_abs_error: max_err,
        mean_abs_error: if count == 0 {
            0.0
        } else {
            sum_err / count as f64
        },
    })
}
