//! `axon article`: the article's calculations, step by step.

/// Arguments of `axon article` (none yet).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Prints the calculations.
pub fn run(_args: Args) -> anyhow::Result<()> {
    Ok(())
}
