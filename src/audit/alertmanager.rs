//! Prometheus Alertmanager configurations (`alertmanager.yml`): `receivers`
//! with `email_configs` and other integrations, `global.smtp_smarthost`, and
//! the `route` tree.
//!
//! A receiver is email-dependent when one of its `email_configs` goes to
//! Exchange Online or to any relay that is not a known non-Exchange provider
//! (a relay may hand mail to Exchange Online). A receiver fans out to all
//! its integrations at once, so any other integration is its fallback. A
//! receiver no route reaches sends nothing and is only noted.

use std::path::Path;

use serde_json::Value;

use super::channel::{self, Channel, ChannelKind, HttpUse, SmtpHost};
use super::model::{Coverage, FallbackRoute, Finding, Format, Location, Send, Transport};
use super::text::{excerpt, str_at};

/// Whether a parsed YAML document is an Alertmanager configuration.
pub fn is_config(doc: &Value) -> bool {
    doc.get("receivers").is_some_and(Value::is_array)
        && (doc.get("route").is_some_and(Value::is_object) || doc.get("global").is_some())
}

/// The findings in an Alertmanager configuration, and notes about
/// email receivers that no route reaches.
pub fn findings(file: &Path, text: &str, doc: &Value) -> (Vec<Finding>, Vec<String>) {
    let mut findings = Vec::new();
    let mut notes = Vec::new();
    let global_smarthost = str_at(&doc["global"], "smtp_smarthost");
    let mut routes = Vec::new();
    if let Some(root) = doc.get("route") {
        collect_routes(root, "/route", None, &mut routes);
    }

    for (i, receiver) in doc["receivers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = str_at(receiver, "name");
        let mut exchange = Vec::new();
        let mut fallback = Vec::new();
        let mut subjects = Vec::new();
        for (j, email) in receiver["email_configs"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let smarthost = Some(str_at(email, "smarthost"))
                .filter(|s| !s.is_empty())
                .unwrap_or(global_smarthost);
            match channel::smtp_host(smarthost) {
                SmtpHost::Provider(p) => fallback.push(FallbackRoute {
                    channel: Channel::other_mail(p),
                    action: format!("email_configs[{j}]"),
                    coverage: Coverage::Full,
                }),
                SmtpHost::ExchangeOnline => {
                    exchange.push(format!("{smarthost} (Exchange Online)"));
                    subjects.push(subject(email));
                }
                SmtpHost::Unknown if smarthost.is_empty() => {
                    exchange.push("no smarthost set".into());
                    subjects.push(subject(email));
                }
                SmtpHost::Unknown => {
                    exchange.push(format!("{smarthost} (relay; may hand mail to Exchange)"));
                    subjects.push(subject(email));
                }
            }
        }
        if exchange.is_empty() {
            continue;
        }
        fallback.extend(other_integrations(receiver));

        let reaching: Vec<&(String, String)> = routes
            .iter()
            .filter(|(_, r)| r == name)
            .map(|(t, _)| t)
            .collect();
        if reaching.is_empty() {
            notes.push(format!(
                "{}: receiver `{name}` sends email but no route reaches it; it was not counted",
                file.display()
            ));
            continue;
        }
        let trigger = reaching
            .iter()
            .map(|(pointer, matchers)| format!("route {pointer}{matchers}"))
            .collect::<Vec<_>>()
            .join("; ");
        exchange.dedup();
        subjects.dedup();
        let send = Send {
            workflow: name.to_string(),
            format: Format::Alertmanager,
            file: file.to_path_buf(),
            location: Location::PointerAt {
                pointer: format!("/receivers/{i}"),
                line: line_of_receiver(text, name),
            },
            action: name.to_string(),
            via: format!("email_configs via smarthost {}", exchange.join(", ")),
            transport: Transport::Smtp,
            notifies: subjects.join("; "),
            trigger,
        };
        findings.push(send.judge(fallback));
    }
    (findings, notes)
}

type RouteRef = ((String, String), String);

/// Every route with its effective receiver (inherited from the parent when
/// unset), as ((pointer, matchers), receiver).
fn collect_routes(route: &Value, pointer: &str, inherited: Option<&str>, out: &mut Vec<RouteRef>) {
    let receiver = route.get("receiver").and_then(Value::as_str).or(inherited);
    if let Some(r) = receiver {
        out.push(((pointer.to_string(), matchers(route)), r.to_string()));
    }
    for (i, child) in route["routes"].as_array().into_iter().flatten().enumerate() {
        collect_routes(child, &format!("{pointer}/routes/{i}"), receiver, out);
    }
}

fn matchers(route: &Value) -> String {
    let mut parts: Vec<String> = route["matchers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    for (key, op) in [("match", "="), ("match_re", "=~")] {
        if let Some(map) = route[key].as_object() {
            for (label, value) in map {
                let value = value
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or(value.to_string());
                parts.push(format!("{label}{op}\"{value}\""));
            }
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" {{{}}}", parts.join(", "))
    }
}

fn subject(email: &Value) -> String {
    let to = str_at(email, "to");
    match email["headers"].as_object().and_then(|h| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("subject"))
            .and_then(|(_, v)| v.as_str())
    }) {
        Some(s) => excerpt(s, 100),
        None if to.is_empty() => "default Alertmanager email".into(),
        None => format!("default Alertmanager email to {to}"),
    }
}

/// The receiver's non-email integrations: all fire together with the email.
fn other_integrations(receiver: &Value) -> Vec<FallbackRoute> {
    let mut out = Vec::new();
    let Some(map) = receiver.as_object() else {
        return out;
    };
    for (key, configs) in map {
        let Some(list) = configs.as_array() else {
            continue;
        };
        if !key.ends_with("_configs") || key == "email_configs" {
            continue;
        }
        for (i, config) in list.iter().enumerate() {
            let channel = match key.as_str() {
                "slack_configs" => Channel::slack(),
                "msteams_configs" | "msteamsv2_configs" => Channel::teams(),
                "pagerduty_configs" => Channel::new(ChannelKind::PagerDuty),
                "opsgenie_configs" => Channel::new(ChannelKind::Opsgenie),
                "telegram_configs" => Channel::new(ChannelKind::Telegram),
                "discord_configs" => Channel::new(ChannelKind::Discord),
                "pushover_configs" => Channel::chat("Pushover"),
                "victorops_configs" => Channel::chat("VictorOps"),
                "webex_configs" => Channel::chat("Webex"),
                "wechat_configs" => Channel::chat("WeChat"),
                "sns_configs" => Channel::chat("Amazon SNS"),
                "rocketchat_configs" => Channel::chat("Rocket.Chat"),
                "incidentio_configs" => Channel::chat("incident.io"),
                "jira_configs" => Channel::chat("Jira"),
                "webhook_configs" => match channel::http_use(str_at(config, "url"), "POST") {
                    HttpUse::Notify(c) => c,
                    _ => Channel::webhook(str_at(config, "url")),
                },
                other => Channel::webhook(other),
            };
            out.push(FallbackRoute {
                channel,
                action: format!("{key}[{i}]"),
                coverage: Coverage::Full,
            });
        }
    }
    out
}

/// The line of `name: <receiver>` (1-based), or of `receivers:` if not found.
fn line_of_receiver(text: &str, name: &str) -> u64 {
    let mut receivers_line = 0;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start().trim_start_matches("- ").trim();
        if line.starts_with("receivers:") && receivers_line == 0 {
            receivers_line = n as u64 + 1;
        }
        if let Some(value) = t.strip_prefix("name:") {
            let value = value.trim().trim_matches(['"', '\'']);
            if value == name && receivers_line > 0 {
                return n as u64 + 1;
            }
        }
    }
    receivers_line.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn child_routes_inherit_the_receiver() {
        let route = json!({
            "receiver": "default",
            "routes": [{"matchers": ["severity=\"critical\""]}, {"receiver": "ops"}]
        });
        let mut out = Vec::new();
        collect_routes(&route, "/route", None, &mut out);
        let receivers: Vec<&str> = out.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(receivers, ["default", "default", "ops"]);
        assert_eq!(out[1].0.1, " {severity=\"critical\"}");
    }

    #[test]
    fn receiver_lines_are_found_after_the_receivers_key() {
        let text = "route:\n  receiver: soc\nreceivers:\n  - name: ops\n  - name: \"soc\"\n";
        assert_eq!(line_of_receiver(text, "soc"), 5);
        assert_eq!(line_of_receiver(text, "missing"), 3);
    }
}
