//! The `axon` subcommands: one file per command.

use clap::{Parser, Subcommand};

pub mod article;
pub mod convert;
pub mod dataset;
pub mod demo;
pub mod eval;
pub mod export;
pub mod lm;
pub mod lm_int8;
pub mod plot;
pub mod predict;
pub mod progress;
pub mod quantize;
pub mod train;

/// Train a small neural network, quantize it to int8, and run it on a
/// microcontroller with the same bits as on the desktop.
#[derive(Debug, Parser)]
#[command(name = "axon", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole pipeline on the bundled digits set: train, evaluate, report.
    Demo(demo::Args),
    /// Train an f32 model on a CSV file (or a bundled set).
    Train(train::Args),
    /// Loss, accuracy and confusion matrix of a model on labelled data.
    Eval(eval::Args),
    /// Run a model on every row of a CSV file and write its outputs.
    Predict(predict::Args),
    /// Quantize an f32 model to int8 (TFLite spec) with calibration data.
    Quantize(quantize::Args),
    /// Export an int8 model as a binary blob and/or Rust source for firmware.
    Export(export::Args),
    /// Write any model file Axon reads as a version-2 JSON model.
    Convert(convert::Args),
    /// Write a generated or bundled data set as CSV.
    Dataset(dataset::Args),
    /// Print the article's hand calculations, computed by the core, step by step.
    Article(article::Args),
    /// The character-level transformer language model: train, eval.
    Lm(lm::LmArgs),
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Quantize(a) => quantize::run(a),
        Command::Export(a) => export::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Dataset(a) => dataset::run(a),
        Command::Article(a) => article::run(a),
        Command::Lm(a) => lm::run(a),
    }
}
