//! What f32 and int8 models share besides their graph.

use axon_core::quant::Rounding;

/// What the model's outputs mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Class scores; the predicted class is the arg-max (one output: `p ≥ 0.5`).
    Classification {
        /// Number of classes.
        classes: usize,
    },
    /// Real-valued outputs.
    Regression,
}

/// How an int8 model was made from its f32 one.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantInfo {
    /// `minmax` or `percentile`.
    pub calibration: String,
    /// The percentile, for `percentile`.
    pub percentile: Option<f64>,
    /// Calibration samples.
    pub samples: usize,
    /// Where the calibration data came from.
    pub source: String,
    /// One weight scale per output channel (else per tensor).
    pub per_channel: bool,
    /// The requantization rounding every int8 op uses.
    pub rounding: Rounding,
}

/// The metadata of a model, f32 or int8.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// Classification or regression.
    pub task: Task,
    /// Input column names, in input order (empty if unknown).
    pub features: Vec<String>,
    /// Target column name (empty if unknown).
    pub target: String,
    /// Class labels as they appeared in the data, index = class.
    pub labels: Vec<String>,
    /// How it was quantized (int8 models).
    pub quantization: Option<QuantInfo>,
}

impl Default for Meta {
    fn default() -> Self {
        Meta {
            task: Task::Regression,
            features: Vec::new(),
            target: String::new(),
            labels: Vec::new(),
            quantization: None,
        }
    }
}
