//! f32 against int8 on the same data: accuracy of each, agreement of their
//! decisions, and the size of the output error.

use crate::model::{Model, Runner, Task};

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

/// Runs both models on the raw inputs `x` (row-major) through the core's
/// interpreter and compares them; `classes` are the true class indices, if
/// known.
pub fn compare(
    f32_model: &Model,
    int8: &Model,
    x: &[f32],
    classes: Option<&[usize]>,
) -> anyhow::Result<Comparison> {
    let d = f32_model.inputs();
    let (rf, rq) = (Runner::new(f32_model)?, Runner::new(int8)?);
    let mut yf_all = Vec::new();
    rf.for_each_row(x, |_, y, _| {
        yf_all.extend_from_slice(y);
        Ok(())
    })?;
    let mut yq_all = Vec::new();
    rq.for_each_row(x, |_, y, _| {
        yq_all.extend_from_slice(y);
        Ok(())
    })?;
    let cq_all = rq.classify_rows(x)?;
    let o = f32_model.outputs().max(1);
    let n = x.len().checked_div(d).unwrap_or(0);
    let classify = matches!(f32_model.meta.task, Task::Classification { .. });
    let (mut ok_f, mut ok_q, mut agree) = (0usize, 0usize, 0usize);
    let (mut max_err, mut sum_err, mut count) = (0.0f64, 0.0f64, 0usize);
    for i in 0..n {
        let (yf, yq) = (&yf_all[i * o..(i + 1) * o], &yq_all[i * o..(i + 1) * o]);
        for (a, b) in yf.iter().zip(yq) {
            let e = (*a as f64 - *b as f64).abs();
            max_err = max_err.max(e);
            sum_err += e;
            count += 1;
        }
        if classify {
            let cf = Model::predicted_class(yf);
            let cq = cq_all[i];
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

impl Comparison {
    /// The report lines for a comparison.
    pub fn report_lines(&self) -> Vec<String> {
        let c = self;
        let mut lines = Vec::new();
        if let (Some(f), Some(q)) = (c.f32_accuracy, c.int8_accuracy) {
            lines.push(format!(
                "accuracy  f32 {:.2}%  int8 {:.2}%  (Δ {:+.2} points, {} samples)",
                f * 100.0,
                q * 100.0,
                (q - f) * 100.0,
                c.samples
            ));
        }
        if let Some(a) = c.agreement {
            lines.push(format!(
                "agreement int8 and f32 pick the same class on {:.2}% of samples",
                a * 100.0
            ));
        }
        lines.push(format!(
            "outputs   |f32 − int8| max {:.5}, mean {:.5}",
            c.max_abs_error, c.mean_abs_error
        ));
        lines
    }
}
