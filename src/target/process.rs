//! The target's own process (`target.start`): launch, readiness, stop.
//!
//! Its stdout and stderr are captured into the run folder with secrets
//! masked. Stopping sends SIGTERM, waits a grace period, then SIGKILL.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::secret::Secrets;

/// How long a stopped target may take to exit after SIGTERM.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// Readiness wait unless `start.timeout` says otherwise.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TargetProcess {
    child: Child,
    pub pid: Option<u32>,
}

/// Starts `argv` in `dir`, capturing output into `run_dir`.
pub fn spawn(
    argv: &[String],
    dir: &Path,
    run_dir: &Path,
    secrets: &Secrets,
) -> Result<TargetProcess, String> {
    let (program, args) = argv.split_first().ok_or("empty start command")?;
    let mut command = Command::new(program);
    // If the harness itself dies (kill -9), the target must not outlive it
    // holding ports: the kernel sends it SIGTERM when its parent exits.
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                .map_err(std::io::Error::from)
        });
    }
    let mut child = command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start `{program}`: {e}"))?;
    if let Some(out) = child.stdout.take() {
        tokio::spawn(capture(
            out,
            run_dir.join("target-stdout.log"),
            secrets.clone(),
        ));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(capture(
            err,
            run_dir.join("target-stderr.log"),
            secrets.clone(),
        ));
    }
    let pid = child.id();
    Ok(TargetProcess { child, pid })
}

async fn capture(
    stream: impl tokio::io::AsyncRead + Unpin,
    path: std::path::PathBuf,
    secrets: Secrets,
) {
    let Ok(mut file) = tokio::fs::File::create(&path).await else {
        return;
    };
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let masked = secrets.mask(&line);
        if file.write_all(masked.as_bytes()).await.is_err() || file.write_all(b"\n").await.is_err()
        {
            return;
        }
    }
    let _ = file.flush().await;
}

impl TargetProcess {
    /// Waits until `url` answers 2xx, the process exits, or `limit` passes.
    pub async fn wait_ready(&mut self, url: &str, limit: Duration) -> Result<Duration, String> {
        crate::tls::ensure_provider();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let mut last = String::from("no answer yet");
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the target exited during setup ({status}); see target-stderr.log"
                ));
            }
            match client.get(url).send().await {
                Ok(r) if r.status().is_success() => return Ok(started.elapsed()),
                Ok(r) => last = format!("answered {}", r.status()),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("`{url}` was not ready within {limit:?} ({last})"))
    }

    /// SIGTERM, then SIGKILL after [`STOP_GRACE`]. Returns how it ended.
    pub async fn stop(&mut self) -> String {
        if let Ok(Some(status)) = self.child.try_wait() {
            return format!("had already exited ({status})");
        }
        if let Some(pid) = self.pid {
            let pid = nix::unistd::Pid::from_raw(pid as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
        match tokio::time::timeout(STOP_GRACE, self.child.wait()).await {
            Ok(Ok(status)) => format!("stopped by SIGTERM ({status})"),
            _ => {
                let _ = self.child.kill().await;
                "killed after the SIGTERM grace period".to_string()
            }
        }
    }
}
