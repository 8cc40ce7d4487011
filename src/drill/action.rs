//! Inject and restore actions: a command or an HTTP request, each bounded.
//!
//! Actions are what make a drill disruptive (disabling a real connector), so
//! every one has a deadline and reports a plain-text error; the orchestrator
//! journals them and decides what a failure means.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use crate::scenario::model::Action;
use crate::target::template::{engine, render};

/// How long an action may take unless it says otherwise.
pub const DEFAULT_ACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// A one-line description for the journal and the record.
pub fn describe(action: &Action) -> String {
    match (&action.command, &action.http) {
        (Some(argv), _) => format!("command: {}", argv.join(" ")),
        (None, Some(http)) => format!("http: {} {}", http.method.to_uppercase(), http.url),
        (None, None) => "empty action".to_string(),
    }
}

/// Runs `action` with `vars` for its templates, in `dir`.
pub async fn run(action: &Action, vars: &Value, dir: &std::path::Path) -> Result<(), String> {
    let limit = action
        .timeout
        .map(|d| d.0)
        .unwrap_or(DEFAULT_ACTION_TIMEOUT);
    let work = async {
        match (&action.command, &action.http) {
            (Some(argv), _) => run_command(argv, vars, dir).await,
            (None, Some(_)) => run_http(action, vars).await,
            (None, None) => Err("the action has neither `command` nor `http`".to_string()),
        }
    };
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "did not finish within {}",
            crate::scenario::duration::Dur(limit)
        )),
    }
}

async fn run_command(argv: &[String], vars: &Value, dir: &std::path::Path) -> Result<(), String> {
    let hb = engine();
    let argv: Vec<String> = argv
        .iter()
        .map(|a| render(&hb, a, vars))
        .collect::<Result<_, _>>()?;
    run_argv(&argv, dir, &[]).await
}

/// Runs an already rendered argv in `dir`, stdin closed, killed if the
/// caller gives up (its deadline passed). A non-zero exit is an error that
/// carries an excerpt of stderr.
pub async fn run_argv(
    argv: &[String],
    dir: &std::path::Path,
    env: &[(&str, &std::ffi::OsStr)],
) -> Result<(), String> {
    let (program, args) = argv.split_first().ok_or("empty command")?;
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!(
            "`{program}` exited with {}: {}",
            output.status,
            excerpt(&stderr)
        ))
    }
}

/// The first 300 characters of a peer's output, on one line.
pub fn excerpt(text: &str) -> String {
    let t: String = text.trim().chars().take(300).collect();
    t.replace('\n', " | ")
}

async fn run_http(action: &Action, vars: &Value) -> Result<(), String> {
    let http = action.http.as_ref().ok_or("no http request")?;
    let hb = engine();
    let url = render(&hb, &http.url, vars)?;
    let method = reqwest::Method::from_bytes(http.method.to_uppercase().as_bytes())
        .map_err(|_| format!("`{}` is not an HTTP method", http.method))?;
    crate::tls::ensure_provider();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let mut request = client.request(method, url);
    for (name, value) in &http.headers {
        request = request.header(name.as_str(), render(&hb, value, vars)?);
    }
    if let Some(body) = &http.body {
        request = request.body(render(&hb, body, vars)?);
    }
    let answer = request
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = answer.status().as_u16();
    if status_matches(&http.expect, status) {
        Ok(())
    } else {
        Err(format!("answered {status}, expected {}", http.expect))
    }
}

/// `2xx`-style classes or exact codes, comma-separated.
pub fn status_matches(expect: &str, status: u16) -> bool {
    expect.split(',').map(str::trim).any(|want| {
        let want = want.to_ascii_lowercase();
        if let Some(class) = want.strip_suffix("xx") {
            class.parse::<u16>().is_ok_and(|c| status / 100 == c)
        } else {
            want.parse::<u16>().is_ok_and(|c| c == status)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_and_codes() {
        assert!(status_matches("2xx", 204));
        assert!(!status_matches("2xx", 302));
        assert!(status_matches("200, 409", 409));
    }
}
