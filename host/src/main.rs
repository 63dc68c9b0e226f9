//! The `axon` command line.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = axon_host::cli::Cli::parse();
    match axon_host::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
