//! `axon … | head`: a reader that stops early ends the CLI quietly.

use std::io::Read;
use std::process::{Command, Stdio};

#[test]
fn a_closed_stdout_ends_quietly_with_the_sigpipe_status() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_axon"))
        .args(["dataset", "sine", "--rows", "200000", "--seed", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("axon runs");
    // Read a little, then hang up, as `head` does.
    let mut first = [0u8; 64];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert_eq!(status.code(), Some(141), "stderr: {stderr}");
}
