//! A model's columns in a data table: which are its inputs, which its
//! target.

use anyhow::bail;

use super::{Model, Task};
use crate::data::Table;

impl Model {
    /// The model's input columns in `table`: by header name when the header
    /// has every feature name, else all columns except `target` (given, or the
    /// model's target name, or the last column when there is one extra).
    pub fn input_columns(
        &self,
        table: &Table,
        target: Option<usize>,
    ) -> anyhow::Result<Vec<usize>> {
        let model = self;
        if let Some(h) = &table.header {
            if !model.meta.features.is_empty() {
                let pos: Option<Vec<usize>> = model
                    .meta
                    .features
                    .iter()
                    .map(|f| h.iter().position(|c| c == f))
                    .collect();
                if let Some(p) = pos {
                    return Ok(p);
                }
            }
        }
        let n = table.ncols();
        if n == model.inputs() && target.is_none() {
            return Ok((0..n).collect());
        }
        if n == model.inputs() + 1 {
            let tc = match target {
                Some(t) => t,
                None => table
                    .header
                    .as_ref()
                    .and_then(|h| h.iter().position(|c| *c == model.meta.target))
                    .unwrap_or(n - 1),
            };
            return Ok((0..n).filter(|&c| c != tc).collect());
        }
        bail!(
            "{}: has {n} columns, but the model takes {} inputs (give the {} features, optionally with the target column)",
            table.source,
            model.inputs(),
            model.inputs()
        )
    }

    /// Reads inputs and targets of a labelled table for `model`.
    pub fn labelled(
        &self,
        table: &Table,
        target: Option<&str>,
    ) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
        let model = self;
        let by_name = table
            .header
            .as_ref()
            .is_some_and(|h| h.contains(&model.meta.target));
        let spec = target.or(by_name.then_some(model.meta.target.as_str()));
        let tc = table.resolve_column(spec)?;
        let cols = model.input_columns(table, Some(tc))?;
        let x = table.numbers(&cols)?;
        let y = match model.meta.task {
            Task::Classification { classes } => {
                let labels: Vec<String> = if model.meta.labels.is_empty() {
                    (0..classes).map(|k| k.to_string()).collect()
                } else {
                    model.meta.labels.clone()
                };
                table
                    .classes(tc, Some(&labels))?
                    .index
                    .iter()
                    .map(|&k| k as f32)
                    .collect()
            }
            Task::Regression => table.numbers(&[tc])?,
        };
        Ok((x, y))
    }
}
