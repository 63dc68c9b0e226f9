//! The `axon` command line.

use clap::Parser;

/// The exit status a shell reports for a process ended by SIGPIPE (128 + 13).
const EXIT_BROKEN_PIPE: i32 = 141;

fn main() -> std::process::ExitCode {
    quiet_on_broken_pipe();
    let cli = axon_host::cli::Cli::parse();
    match axon_host::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `axon eval … | head` closes the pipe early; Rust ignores SIGPIPE, so the
/// next `println!` panics. Treat that as the reader having had enough: stop
/// quietly, with the status a shell expects, instead of printing a panic.
/// Every other panic keeps the default report.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(EXIT_BROKEN_PIPE);
        }
        default(info)
    }));
}
