//! `--plot`: training and validation curves as a PNG, drawn without text
//! (so no system fonts are needed). The legend is the colours, and the axis
//! ranges are returned for the command line to print.

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

use crate::train::EpochStats;

/// Training loss in blue.
pub const TRAIN_LOSS: RGBColor = RGBColor(31, 119, 180);
/// Validation loss in orange.
pub const VAL_LOSS: RGBColor = RGBColor(255, 127, 14);
/// Validation accuracy in green (on its own 0..1 scale).
pub const VAL_ACC: RGBColor = RGBColor(44, 160, 44);

/// Draws the curves; returns a description of the axes and colours.
pub fn plot_history(path: &Path, history: &[EpochStats]) -> anyhow::Result<String> {
    let n = history.len().max(2);
    let max_loss = history
        .iter()
        .flat_map(|h| [Some(h.train_loss), h.val_loss])
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-12)
        * 1.05;
    let tmp = path.with_extension("tmp.png");
    {
        let root = BitMapBackend::new(&tmp, (800, 500)).into_drawing_area();
        root.fill(&WHITE).context("plot")?;
        let area = root.margin(20, 20, 20, 20);
        let mut chart = ChartBuilder::on(&area)
            .build_cartesian_2d(1f64..n as f64, 0f64..max_loss)
            .context("plot")?;
        // Grid: a line every tenth of each axis.
        for i in 0..=10 {
            let x = 1.0 + (n as f64 - 1.0) * f64::from(i) / 10.0;
            let y = max_loss * f64::from(i) / 10.0;
            let grey = RGBColor(225, 225, 225);
            chart
                .draw_series(LineSeries::new([(x, 0.0), (x, max_loss)], grey))
                .context("plot")?;
            chart
                .draw_series(LineSeries::new([(1.0, y), (n as f64, y)], grey))
                .context("plot")?;
        }
        let series = |f: &dyn Fn(&EpochStats) -> Option<f64>| -> Vec<(f64, f64)> {
            history
                .iter()
                .filter_map(|h| f(h).map(|v| (h.epoch as f64, v)))
                .collect()
        };
        let style = |c: RGBColor| ShapeStyle::from(c).stroke_width(2);
        chart
            .draw_series(LineSeries::new(
                series(&|h| Some(h.train_loss)),
                style(TRAIN_LOSS),
            ))
            .context("plot")?;
        chart
            .draw_series(LineSeries::new(series(&|h| h.val_loss), style(VAL_LOSS)))
            .context("plot")?;
        chart
            .draw_series(LineSeries::new(
                series(&|h| h.val_accuracy.map(|a| a * max_loss)),
                style(VAL_ACC),
            ))
            .context("plot")?;
        root.present().context("plot")?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(format!(
        "x: epoch 1..{n}, gridlines every tenth; y: loss 0..{max_loss:.4}; \
         blue = training loss, orange = validation loss, green = validation accuracy scaled so the top is 100%"
    ))
}
