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

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Copies `scenario` and every file beside it into `dir`, moving each fixed
/// loopback port (`127.0.0.1:NNNN`) to a fresh free port, the same one in
/// every file. Tests run in parallel with other suites on the same machine,
/// so the examples' fixed ports cannot be relied on. Returns the copy's path.
pub fn isolated_copy(scenario: &Path, dir: &Path) -> PathBuf {
    let folder = scenario.parent().unwrap();
    let pattern = regex::Regex::new(r"127\.0\.0\.1:(\d{2,5})").unwrap();
    let mut ports = std::collections::HashMap::new();
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let to = dir.join(path.file_name().unwrap());
        match String::from_utf8(bytes.clone()) {
            Ok(text) => {
                let text = pattern.replace_all(&text, |c: &regex::Captures| {
                    let old: u16 = c[1].parse().unwrap();
                    if old == 0 {
                        return c[0].to_string();
                    }
                    let new = *ports.entry(old).or_insert_with(free_port);
                    format!("127.0.0.1:{new}")
                });
                std::fs::write(&to, text.as_bytes()).unwrap();
            }
            Err(_) => std::fs::write(&to, bytes).unwrap(),
        }
        std::fs::set_permissions(&to, std::fs::metadata(&path).unwrap().permissions()).unwrap();
    }
    dir.join(scenario.file_name().unwrap())
}

/// `outage-drill run SCENARIO --out OUT [extra...]` in `cwd`, waited for.
pub fn run_drill(cwd: &Path, scenario: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_in(cwd, &args)
}

/// The same, started in the background (output discarded) so a test can
/// signal it.
pub fn spawn_drill(cwd: &Path, scenario: &Path, out: &Path) -> std::process::Child {
    Command::new(bin())
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(cwd)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("outage-drill starts")
}

/// Sends `signal` to `child`.
pub fn signal(child: &std::process::Child, signal: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, signal).expect("the drill is signalled");
}
