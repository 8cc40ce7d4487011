//! Runs the `outage-drill` binary for tests and explains failures.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The compiled binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_outage-drill"))
}

/// The project root (for bundled scenarios and fixtures).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh scratch folder, removed when dropped.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("outage-drill-test-")
        .tempdir()
        .expect("scratch folder")
}

/// One finished command, with everything needed to explain a failure.
pub struct Run {
    pub cmd: String,
    pub cwd: PathBuf,
    pub output: Output,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Everything about the run, for assertion messages.
    pub fn explain(&self) -> String {
        format!(
            "command: {}\ncwd: {}\nexit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.cmd,
            self.cwd.display(),
            self.output.status.code(),
            self.stdout(),
            self.stderr()
        )
    }

    /// Asserts the exit code, printing the run when it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "unexpected exit code\n{}",
            self.explain()
        );
        self
    }
}

/// Runs the binary with `args` in `cwd`.
pub fn run_in(cwd: &Path, args: &[&str]) -> Run {
    run_with_env(cwd, args, &[])
}

/// Runs the binary with `args` in `cwd` and extra environment variables.
pub fn run_with_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args).current_dir(cwd).env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("outage-drill runs");
    Run {
        cmd: format!("outage-drill {}", args.join(" ")),
        cwd: cwd.to_path_buf(),
        output,
    }
}
