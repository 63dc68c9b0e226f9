//! Reading a model's inputs (and targets, when present) from a CSV file.

use anyhow::bail;

use crate::data::{Header, Table};

use crate::model::Task;

/// Inputs read for a model, with targets when the file has the target column.
#[derive(Debug, Clone)]
pub struct Rows {
    /// Row-major `(n, inputs)` raw inputs.
    pub x: Vec<f32>,
    /// Number of rows.
    pub n: usize,
    /// Class index per row (classification, when the target column exists).
    pub classes: Option<Vec<usize>>,
    /// Target value per row (regression, when the target column exists).
    pub values: Option<Vec<f32>>,
}

/// Reads `spec` (a path or `bundled:NAME`) for a model with `inputs` inputs.
///
/// With a header and the model's feature names, the inputs are those
/// columns by name and the target is the model's target column if present.
/// Otherwise the file must have `inputs` columns (no target) or
/// `inputs + 1` (target last). Errors name the file, row and column.
pub fn load_rows(
    spec: &str,
    inputs: usize,
    feature_names: &[String],
    target_name: &str,
    labels: &[String],
    task: Task,
) -> anyhow::Result<Rows> {
    let t = Table::read(spec, Header::Auto)?;
    rows_from_table(&t, inputs, feature_names, target_name, labels, task)
}

/// [`load_rows`] on a table already read.
pub fn rows_from_table(
    t: &Table,
    inputs: usize,
    feature_names: &[String],
    target_name: &str,
    labels: &[String],
    task: Task,
) -> anyhow::Result<Rows> {
    let spec = &t.source;
    let n = t.rows.len();
    if n == 0 {
        bail!("{spec}: the file has no data rows");
    }
    let by_name = t.header.is_some() && feature_names.len() == inputs;
    let (feature_cols, target_col): (Vec<usize>, Option<usize>) = if by_name {
        let mut cols = Vec::with_capacity(inputs);
        for name in feature_names {
            cols.push(t.resolve_column(Some(name))?);
        }
        let target = t.header.as_ref().and_then(|h| {
            h.iter()
                .position(|c| !target_name.is_empty() && c == target_name)
        });
        (cols, target)
    } else if t.ncols() == inputs {
        ((0..inputs).collect(), None)
    } else if t.ncols() == inputs + 1 {
        ((0..inputs).collect(), Some(inputs))
    } else {
        bail!(
            "{spec}: the model takes {inputs} inputs, but the file has {} columns \
             (expected {inputs}, or {} with the target last)",
            t.ncols(),
            inputs + 1
        );
    };
    let x = t.numbers(&feature_cols)?;
    let (classes, values) = match (target_col, task) {
        (None, _) => (None, None),
        (Some(c), Task::Classification { .. }) => (Some(t.classes(c, Some(labels))?.index), None),
        (Some(c), Task::Regression) => (None, Some(t.numbers(&[c])?)),
    };
    Ok(Rows {
        x,
        n,
        classes,
        values,
    })
}

/// Evenly spaced rows `0, n/k, 2n/k, …` of a row-major matrix: every part of
/// a sorted file is represented, and the choice is deterministic.
pub fn spaced_rows(x: &[f32], d: usize, k: usize) -> Vec<f32> {
    let n = x.len() / d.max(1);
    if k >= n {
        return x.to_vec();
    }
    let mut out = Vec::with_capacity(k * d);
    for i in 0..k {
        let r = i * n / k;
        out.extend_from_slice(&x[r * d..(r + 1) * d]);
    }
    out
}
