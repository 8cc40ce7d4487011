//! Shuffle workflow exports: `actions` (each with `app_name`, the function
//! `name` and `parameters`), `branches` (`source_id` → `destination_id` with
//! `conditions`) and `triggers`.
//!
//! A send is an Outlook / Office 365 / Microsoft Graph mail action, an
//! Email-app SMTP send to a relay that is not a known non-Exchange provider,
//! or an HTTP action that calls Graph `sendMail`. It has a fallback when a
//! branch leaving it tests its failure (`$label.success` equals `false`, a
//! 4xx/5xx status, "error"/"fail"/"timeout") and leads to a notifier.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use serde_json::Value;

use super::channel::{self, Channel, ChannelKind, HttpUse, SmtpHost};
use super::model::{Coverage, FallbackRoute, Finding, Format, Location, Send, Transport};
use super::text::{excerpt, name_or_stem, one_or_many, str_at};

/// The findings in `doc` when it is a Shuffle export (one workflow or a
/// list of them); `None` otherwise.
pub fn findings(file: &Path, doc: &Value) -> Option<Vec<Finding>> {
    let workflows = one_or_many(doc, is_workflow)?;
    let mut out = Vec::new();
    for (ptr, wf) in workflows {
        audit_workflow(file, &ptr, wf, &mut out);
    }
    Some(out)
}

fn is_workflow(v: &Value) -> bool {
    let has_apps = v
        .get("actions")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| x.get("app_name").is_some()));
    let has_graph = v.get("branches").is_some_and(Value::is_array)
        || v.get("start").is_some()
        || v.get("workflow_variables").is_some();
    has_apps && has_graph
}

fn id_of(v: &Value) -> &str {
    v.get("id")
        .or_else(|| v.get("id_"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Parameter values by name (Shuffle stores `[{name, value}]`).
fn params(action: &Value) -> BTreeMap<String, String> {
    action
        .get("parameters")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|p| {
                    let value = match &p["value"] {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (str_at(p, "name").to_ascii_lowercase(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

enum Class {
    Send { via: String, transport: Transport },
    Notify(Channel),
    Other,
}

fn classify(action: &Value) -> Class {
    let app_raw = str_at(action, "app_name");
    let app = app_raw
        .to_ascii_lowercase()
        .replace(['_', '-'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let func = str_at(action, "name").to_ascii_lowercase();
    let p = params(action);
    let has = |words: &[&str]| words.iter().any(|w| func.contains(w));
    let sends = has(&["send", "reply", "forward"]);
    let mailish = has(&["mail", "email"]);

    // Shuffle Tools' built-in senders go through Shuffle's own services.
    if func.starts_with("send_sms_shuffle") {
        return Class::Notify(Channel::new(ChannelKind::Sms));
    }
    if func.starts_with("send_email_shuffle") {
        return Class::Notify(Channel::other_mail("Shuffle mail service"));
    }
    if app == "email" {
        if func.contains("smtp") && sends {
            let host = p
                .get("smtp_host")
                .or_else(|| p.get("smtp_server"))
                .cloned()
                .unwrap_or_default();
            return match channel::smtp_host(&host) {
                SmtpHost::Provider(name) => Class::Notify(Channel::other_mail(name)),
                SmtpHost::ExchangeOnline => Class::Send {
                    via: format!("Email app {func} via {host} (Exchange Online)"),
                    transport: Transport::Smtp,
                },
                SmtpHost::Unknown => Class::Send {
                    via: format!("Email app {func} via {} (relay)", or_unset(&host)),
                    transport: Transport::Smtp,
                },
            };
        }
        if sends {
            // send_email_shuffle: mail through Shuffle's own service.
            return Class::Notify(Channel::other_mail("Shuffle mail service"));
        }
        return Class::Other;
    }
    let outlook = ["outlook", "office365", "office 365", "exchange", "ews"]
        .iter()
        .any(|w| app.contains(w));
    if outlook && sends {
        return Class::Send {
            via: format!("{app_raw}: {func}"),
            transport: Transport::Graph,
        };
    }
    if app.contains("graph") {
        if sends && mailish {
            return Class::Send {
                via: format!("{app_raw}: {func}"),
                transport: Transport::Graph,
            };
        }
        if (sends || func.contains("post")) && has(&["channel", "chat", "team"]) {
            return Class::Notify(Channel::teams());
        }
        return Class::Other;
    }
    if app == "http" {
        let method = p.get("method").cloned().unwrap_or_else(|| func.clone());
        let url = p.get("url").cloned().unwrap_or_default();
        return match channel::http_use(&url, &method) {
            HttpUse::ExchangeSend(what) => Class::Send {
                via: format!("HTTP {}: {what}", method.to_ascii_uppercase()),
                transport: Transport::Graph,
            },
            HttpUse::Notify(c) => Class::Notify(c),
            HttpUse::Other => Class::Other,
        };
    }
    let notifying = has(&[
        "send", "post", "notify", "message", "alert", "trigger", "publish", "create",
    ]);
    if !notifying {
        return Class::Other;
    }
    let by_app: &[(&str, Channel)] = &[
        ("sendgrid", Channel::other_mail("SendGrid")),
        ("gmail", Channel::other_mail("Gmail")),
        ("mailgun", Channel::other_mail("Mailgun")),
        ("ses", Channel::other_mail("Amazon SES")),
        ("mattermost", Channel::chat("Mattermost")),
        ("pushover", Channel::chat("Pushover")),
        ("sms", Channel::new(ChannelKind::Sms)),
    ];
    if let Some(c) = channel::keyword_channel(&app) {
        return Class::Notify(c);
    }
    by_app
        .iter()
        .find(|(w, _)| app.split(' ').any(|word| word == *w) || (w.len() >= 6 && app.contains(w)))
        .map(|(_, c)| Class::Notify(c.clone()))
        .unwrap_or(Class::Other)
}

fn or_unset(host: &str) -> &str {
    if host.is_empty() {
        "an SMTP server set at run time"
    } else {
        host
    }
}

/// Whether a branch condition tests that its source failed.
fn is_failure_condition(cond: &Value) -> bool {
    let src = str_at(&cond["source"], "value").to_ascii_lowercase();
    let op = str_at(&cond["condition"], "value").to_ascii_lowercase();
    let dst = str_at(&cond["destination"], "value").to_ascii_lowercase();
    let negated = cond["condition"]["configuration"].as_bool() == Some(true);
    let negative_op = op.contains("not");
    let words = format!("{src} {dst}");
    let failure = if ["fail", "error", "timeout", "timed out"]
        .iter()
        .any(|w| words.contains(w))
    {
        !negative_op
    } else if src.contains("success") {
        (op == "equals" && dst.trim() == "false") || (negative_op && dst.trim() == "true")
    } else if src.contains("status") {
        match dst.trim().parse::<u16>() {
            Ok(n) if op == "equals" => n >= 400,
            Ok(n) if negative_op => (200..300).contains(&n),
            Ok(n) if op.contains("larger") || op.contains("greater") => n >= 299,
            _ => false,
        }
    } else {
        false
    };
    failure != negated
}

fn audit_workflow(file: &Path, base: &str, wf: &Value, out: &mut Vec<Finding>) {
    let name = name_or_stem(wf["name"].as_str(), file);
    let actions: Vec<&Value> = wf["actions"].as_array().into_iter().flatten().collect();
    let branches: Vec<&Value> = wf["branches"].as_array().into_iter().flatten().collect();
    let trigger = triggers(wf);
    let by_id: BTreeMap<&str, &Value> = actions.iter().map(|a| (id_of(a), *a)).collect();

    for (i, action) in actions.iter().enumerate() {
        let Class::Send { via, transport } = classify(action) else {
            continue;
        };
        let p = params(action);
        let notifies = ["subject", "title", "body", "message", "text"]
            .iter()
            .find_map(|k| p.get(*k).filter(|v| !v.trim().is_empty()))
            .map(|v| excerpt(v, 100))
            .unwrap_or_default();
        let label = Some(str_at(action, "label"))
            .filter(|l| !l.is_empty())
            .unwrap_or(str_at(action, "name"));

        let mut routes = Vec::new();
        for branch in &branches {
            if str_at(branch, "source_id") != id_of(action) {
                continue;
            }
            let failure = branch["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(is_failure_condition));
            if !failure {
                continue;
            }
            for (node, channel) in
                reachable_notifiers(str_at(branch, "destination_id"), &branches, &by_id)
            {
                routes.push(FallbackRoute {
                    channel,
                    action: node,
                    coverage: Coverage::Full,
                });
            }
        }
        let send = Send {
            workflow: name.clone(),
            format: Format::Shuffle,
            file: file.to_path_buf(),
            location: Location::Pointer(format!("{base}/actions/{i}")),
            action: label.to_string(),
            via,
            transport,
            notifies,
            trigger: trigger.clone(),
        };
        out.push(send.judge(routes));
    }
}

/// Notifiers at `start` and everywhere downstream of it.
fn reachable_notifiers(
    start: &str,
    branches: &[&Value],
    by_id: &BTreeMap<&str, &Value>,
) -> Vec<(String, Channel)> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([start.to_string()]);
    let mut out = Vec::new();
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some(action) = by_id.get(id.as_str())
            && let Class::Notify(channel) = classify(action)
        {
            let label = Some(str_at(action, "label"))
                .filter(|l| !l.is_empty())
                .unwrap_or(str_at(action, "name"));
            out.push((label.to_string(), channel));
        }
        for b in branches {
            if str_at(b, "source_id") == id {
                queue.push_back(str_at(b, "destination_id").to_string());
            }
        }
    }
    out
}

fn triggers(wf: &Value) -> String {
    let phrases: Vec<String> = wf["triggers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let kind = str_at(t, "trigger_type");
            let label = Some(str_at(t, "label"))
                .filter(|l| !l.is_empty())
                .unwrap_or(str_at(t, "name"));
            match (kind.is_empty(), label.is_empty()) {
                (false, false) => format!("{label} ({})", kind.to_ascii_lowercase()),
                (false, true) => kind.to_ascii_lowercase(),
                _ => label.to_string(),
            }
        })
        .collect();
    if phrases.is_empty() {
        "manual or subflow".into()
    } else {
        phrases.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(src: &str, op: &str, dst: &str) -> Value {
        json!({"source": {"value": src}, "condition": {"value": op}, "destination": {"value": dst}})
    }

    #[test]
    fn failure_conditions_are_recognised_and_success_ones_are_not() {
        assert!(is_failure_condition(&cond(
            "$send_mail.success",
            "equals",
            "false"
        )));
        assert!(is_failure_condition(&cond(
            "$send_mail.success",
            "does not equal",
            "true"
        )));
        assert!(is_failure_condition(&cond(
            "$send_mail.status",
            "equals",
            "503"
        )));
        assert!(is_failure_condition(&cond(
            "$send_mail.status",
            "larger than",
            "299"
        )));
        assert!(is_failure_condition(&cond(
            "$send_mail",
            "contains",
            "error"
        )));
        assert!(!is_failure_condition(&cond(
            "$send_mail.success",
            "equals",
            "true"
        )));
        assert!(!is_failure_condition(&cond(
            "$send_mail.status",
            "equals",
            "200"
        )));
        assert!(!is_failure_condition(&cond(
            "$send_mail",
            "does not contain",
            "error"
        )));
    }

    #[test]
    fn mail_apps_are_sorted_into_exchange_and_others() {
        let a = |app: &str, name: &str, params: Value| json!({"app_name": app, "name": name, "parameters": params});
        let outlook = a("Outlook_Office365", "send_email", json!([]));
        assert!(matches!(classify(&outlook), Class::Send { .. }));
        let read = a("Outlook_Office365", "get_emails", json!([]));
        assert!(matches!(classify(&read), Class::Other));
        let sendgrid_smtp = a(
            "email",
            "send_email_smtp",
            json!([{"name": "smtp_host", "value": "smtp.sendgrid.net"}]),
        );
        assert!(matches!(classify(&sendgrid_smtp), Class::Notify(_)));
        let teams = a("Microsoft Graph", "send_channel_message", json!([]));
        assert!(matches!(classify(&teams), Class::Notify(c) if c == Channel::teams()));
    }
}
