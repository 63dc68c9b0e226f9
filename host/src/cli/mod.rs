//! The `axon` subcommands: one file per command.

use clap::{Parser, Subcommand};

pub mod article;

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
    /// Print the article's hand calculations, computed by the core, step by step.
    Article(article::Args),
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Article(a) => article::run(a),
    }
}
