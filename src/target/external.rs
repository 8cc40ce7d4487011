//! Targets that are real pipelines: Alertmanager, a webhook, a command.
//!
//! Each hands the alert over and reports whether the pipeline took it; a
//! refusal or error is a `not-fired` firing, never fatal to the drill.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::template::{alert_vars, engine, render};
use super::{FireRequest, TargetContext};
use crate::scenario::model::{Target as TargetSpec, TargetKind};

/// How long a fire may take unless `target.timeout` says otherwise.
pub const DEFAULT_FIRE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct External {
    spec: TargetSpec,
    ctx: TargetContext,
    http: reqwest::Client,
    hb: handlebars::Handlebars<'static>,
}

impl External {
    pub fn new(spec: &TargetSpec, ctx: TargetContext) -> External {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("an HTTP client with the ring provider installed");
        External {
            spec: spec.clone(),
            ctx,
            http,
            hb: engine(),
        }
    }

    fn timeout(&self) -> Duration {
        self.spec
            .timeout
            .map(|d| d.0)
            .unwrap_or(DEFAULT_FIRE_TIMEOUT)
    }

    pub async fn fire(&self, req: &FireRequest) -> Result<(), String> {
        let work = async {
            match self.spec.kind {
                TargetKind::Alertmanager => self.fire_alertmanager(req).await,
                TargetKind::Webhook => self.fire_webhook(req).await,
                TargetKind::Command => self.fire_command(req).await,
                TargetKind::Builtin => Err("the built-in target is not external".to_string()),
            }
        };
        match tokio::time::timeout(self.timeout(), work).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "the target did not take the alert within {:?}",
                self.timeout()
            )),
        }
    }

    /// POST /api/v2/alerts with the labels a drill route groups by.
    async fn fire_alertmanager(&self, req: &FireRequest) -> Result<(), String> {
        let base = self
            .spec
            .url
            .as_deref()
            .unwrap_or_default()
            .trim_end_matches('/');
        let body = json!([{
            "labels": {
                "alertname": req.alert,
                "severity": req.severity.as_str(),
                "drill": req.drill,
                "drill_nonce": req.nonce,
            },
            "annotations": {
                "summary": req.headline(),
                "description": format!("outage-drill {} run {}: {}", req.drill, req.run_id, req.title),
            },
            "startsAt": Utc::now().to_rfc3339(),
            "generatorURL": format!("http://outage-drill.localhost/{}/{}", req.drill, req.run_id),
        }]);
        let request = self.http.post(format!("{base}/api/v2/alerts")).json(&body);
        super::send_expecting_success(request, "Alertmanager").await
    }

    async fn fire_webhook(&self, req: &FireRequest) -> Result<(), String> {
        let vars = alert_vars(req);
        let url = render(
            &self.hb,
            self.spec.url.as_deref().unwrap_or_default(),
            &vars,
        )?;
        let method = self
            .spec
            .method
            .as_deref()
            .unwrap_or("POST")
            .to_ascii_uppercase();
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("`{method}` is not an HTTP method"))?;
        let mut request = self.http.request(method, url);
        for (name, value) in &self.spec.headers {
            request = request.header(name.as_str(), render(&self.hb, value, &vars)?);
        }
        let body = match &self.spec.body {
            Some(template) => render(&self.hb, template, &vars)?,
            None => json!({"nonce": req.nonce, "alert": req.alert, "title": req.title,
                           "severity": req.severity.as_str(), "drill": req.drill})
            .to_string(),
        };
        let has_type = self
            .spec
            .headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"));
        if !has_type {
            request = request.header("content-type", "application/json");
        }
        super::send_expecting_success(request.body(body), "webhook").await
    }

    async fn fire_command(&self, req: &FireRequest) -> Result<(), String> {
        let vars = alert_vars(req);
        let argv: Vec<String> = self
            .spec
            .argv
            .iter()
            .map(|a| render(&self.hb, a, &vars))
            .collect::<Result<_, _>>()?;
        let run_dir = self.ctx.run_dir.as_os_str();
        crate::drill::action::run_argv(&argv, &self.ctx.dir, &[("DRILL_RUN_DIR", run_dir)]).await
    }
}
