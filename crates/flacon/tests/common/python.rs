//! A private Python venv with the pinned Flask stack, created on first use.
//!
//! `.ci/run` runs `tests/python/setup-venv.sh` first so CI pays for the install once; a
//! developer's `cargo test` creates the same venv on demand.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

/// The venv's python, with Flask, Flask-Session, msgspec and redis installed.
pub fn python() -> PathBuf {
    let root = workspace_root();
    let script = root.join("tests/python/setup-venv.sh");
    let venv = root.join("target/pyenv");
    std::fs::create_dir_all(root.join("target")).expect("target dir");
    // Several test binaries may ask at once: one installs, the others wait.
    let lock = File::create(root.join("target/pyenv.lock")).expect("lock file");
    lock.lock().expect("lock");
    let status = Command::new("bash")
        .arg(&script)
        .arg(&venv)
        .status()
        .expect("bash runs");
    assert!(status.success(), "tests/python/setup-venv.sh failed");
    venv.join("bin/python")
}

pub fn script(name: &str) -> PathBuf {
    workspace_root().join("tests/python").join(name)
}

/// Runs the venv's python with `args`, `input` on its stdin, and returns its stdout as JSON
/// lines. Panics, with its stderr, if it fails.
pub fn json_lines(args: &[&str], input: String) -> Vec<serde_json::Value> {
    use std::io::Write as _;
    let mut child = Command::new(python())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    let mut stdin = child.stdin.take().expect("stdin");
    // Fed from another thread so that neither side blocks on a full pipe.
    let feeder = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("python ends");
    feeder.join().expect("feeder").expect("stdin written");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}
