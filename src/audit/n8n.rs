//! n8n workflow exports: `nodes` (each with a `type` such as
//! `n8n-nodes-base.emailSend`, its `parameters`, `onError` /
//! `continueOnFail`) and `connections` (`main` outputs per node).
//!
//! A send is an SMTP "Send Email" node, a Microsoft Outlook node that sends
//! or replies, or an HTTP Request to Graph `sendMail`; Gmail, SendGrid, SES
//! and the like are other providers, hence possible fallbacks. A send has a
//! fallback when its error output (`onError: continueErrorOutput`) or, with
//! `continueOnFail` / `continueRegularOutput`, its regular output leads to a
//! notifier, or when the workflow's `settings.errorWorkflow` notifies.
//! Error workflows live in other files, so judging happens in [`judge`],
//! after every file has been parsed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use serde_json::Value;

use super::channel::{self, Channel, ChannelKind, HttpUse};
use super::model::{Coverage, FallbackRoute, Finding, Format, Location, Send, Transport};
use super::text::{excerpt, find_text, name_or_stem, one_or_many, str_at};

/// One n8n workflow, parsed but not yet judged.
#[derive(Debug)]
pub struct Parsed {
    id: Option<String>,
    name: String,
    error_workflow: Option<String>,
    /// Each send, the fallback routes found in this file, and whether the
    /// workflow stops (so the error workflow runs) when the send fails.
    sends: Vec<(Send, Vec<FallbackRoute>, bool)>,
    /// Every notifier node, for when this workflow is another's error workflow.
    notifiers: Vec<(String, Channel)>,
}

/// The n8n workflows in `doc` (one export or a list); `None` when it holds none.
pub fn parse(file: &Path, doc: &Value) -> Option<Vec<Parsed>> {
    let workflows = one_or_many(doc, is_workflow)?;
    Some(
        workflows
            .into_iter()
            .map(|(ptr, wf)| parse_workflow(file, &ptr, wf))
            .collect(),
    )
}

fn is_workflow(v: &Value) -> bool {
    let typed = v["nodes"].as_array().is_some_and(|nodes| {
        nodes.iter().any(|n| {
            let t = str_at(n, "type");
            t.starts_with("n8n-nodes-") || t.starts_with("@n8n/")
        })
    });
    typed && v.get("connections").is_some_and(Value::is_object)
}

/// Findings for every parsed workflow, resolving error workflows by id
/// among all of them.
pub fn judge(parsed: Vec<Parsed>) -> Vec<Finding> {
    let by_id: BTreeMap<String, (String, Vec<(String, Channel)>)> = parsed
        .iter()
        .filter_map(|p| {
            p.id.clone()
                .map(|id| (id, (p.name.clone(), p.notifiers.clone())))
        })
        .collect();
    let mut out = Vec::new();
    for wf in parsed {
        for (send, mut routes, stops) in wf.sends {
            if let (true, Some(id)) = (stops, &wf.error_workflow) {
                match by_id.get(id) {
                    Some((name, notifiers)) => {
                        routes.extend(notifiers.iter().map(|(node, channel)| FallbackRoute {
                            channel: channel.clone(),
                            action: format!("{node} in error workflow \"{name}\""),
                            coverage: Coverage::Full,
                        }));
                    }
                    None => routes.push(FallbackRoute {
                        channel: Channel {
                            kind: ChannelKind::Unresolved,
                            detail: Some(format!("error workflow {id}")),
                        },
                        action: "settings.errorWorkflow (not among the audited files)".into(),
                        coverage: Coverage::Full,
                    }),
                }
            }
            out.push(send.judge(routes));
        }
    }
    out
}

enum Class {
    Send { via: String, transport: Transport },
    Notify(Channel),
    Other,
}

/// The node type without its package, lowercased, `...Tool` variants folded.
fn short_type(node: &Value) -> String {
    let t = str_at(node, "type").rsplit('.').next().unwrap_or("");
    let t = t.to_ascii_lowercase();
    match t.strip_suffix("tool") {
        Some(base) if !base.is_empty() => base.to_string(),
        _ => t,
    }
}

fn param<'a>(node: &'a Value, key: &str) -> Option<&'a str> {
    node["parameters"][key].as_str().filter(|s| !s.is_empty())
}

fn classify(node: &Value) -> Class {
    let kind = short_type(node);
    let op = param(node, "operation").unwrap_or("").to_ascii_lowercase();
    let reads = ["get", "getall", "getmany", "search", "list", "delete"].contains(&op.as_str());
    match kind.as_str() {
        "emailsend" => {
            if !(op.is_empty() || op.starts_with("send")) {
                return Class::Other;
            }
            let credential = node["credentials"]["smtp"]["name"]
                .as_str()
                .unwrap_or("not set");
            Class::Send {
                via: format!("Send Email node (SMTP; server in credential \"{credential}\")"),
                transport: Transport::Smtp,
            }
        }
        "microsoftoutlook" => {
            let resource = param(node, "resource")
                .unwrap_or("message")
                .to_ascii_lowercase();
            let op = if op.is_empty() {
                "send".to_string()
            } else {
                op
            };
            let draft_only = op == "reply" && node["parameters"]["send"].as_bool() == Some(false);
            let sends = match resource.as_str() {
                "message" => ["send", "reply", "sendandwait"].contains(&op.as_str()) && !draft_only,
                "draft" => op == "send",
                _ => false,
            };
            if sends {
                Class::Send {
                    via: format!("Microsoft Outlook node: {resource} {op}"),
                    transport: Transport::Graph,
                }
            } else {
                Class::Other
            }
        }
        "httprequest" => {
            let url = param(node, "url").unwrap_or("");
            let method = param(node, "method")
                .or_else(|| param(node, "requestMethod"))
                .unwrap_or("GET");
            match channel::http_use(url, method) {
                HttpUse::ExchangeSend(what) => Class::Send {
                    via: format!("HTTP Request node: {what}"),
                    transport: Transport::Graph,
                },
                HttpUse::Notify(c) => Class::Notify(c),
                HttpUse::Other => Class::Other,
            }
        }
        _ if reads => Class::Other,
        other => notifier(other).map(Class::Notify).unwrap_or(Class::Other),
    }
}

/// Notification nodes by their short type.
fn notifier(kind: &str) -> Option<Channel> {
    let mail = |p: &str| Some(Channel::other_mail(p));
    match kind {
        "gmail" => mail("Gmail"),
        "sendgrid" => mail("SendGrid"),
        "awsses" => mail("Amazon SES"),
        "mailgun" => mail("Mailgun"),
        "mailjet" => mail("Mailjet"),
        "mandrill" => mail("Mandrill"),
        "postmark" => mail("Postmark"),
        "sendinblue" | "brevo" => mail("Brevo"),
        "slack" => Some(Channel::slack()),
        "microsoftteams" => Some(Channel::teams()),
        "telegram" => Some(Channel::new(ChannelKind::Telegram)),
        "discord" => Some(Channel::new(ChannelKind::Discord)),
        "twilio" | "vonage" | "messagebird" | "plivo" => Some(Channel::new(ChannelKind::Sms)),
        "pagerduty" => Some(Channel::new(ChannelKind::PagerDuty)),
        "mattermost" => Some(Channel::chat("Mattermost")),
        "signl4" => Some(Channel::chat("SIGNL4")),
        "pushover" => Some(Channel::chat("Pushover")),
        "matrix" => Some(Channel::chat("Matrix")),
        "rocketchat" => Some(Channel::chat("Rocket.Chat")),
        "gotify" => Some(Channel::chat("Gotify")),
        "whatsapp" => Some(Channel::chat("WhatsApp")),
        k if k.contains("ntfy") => Some(Channel::new(ChannelKind::Ntfy)),
        _ => None,
    }
}

fn parse_workflow(file: &Path, base: &str, wf: &Value) -> Parsed {
    let name = name_or_stem(wf["name"].as_str(), file);
    let nodes: Vec<&Value> = wf["nodes"].as_array().into_iter().flatten().collect();
    let enabled = |n: &Value| n["disabled"].as_bool() != Some(true);
    let by_name: BTreeMap<&str, &Value> = nodes
        .iter()
        .filter(|n| enabled(n))
        .map(|n| (str_at(n, "name"), *n))
        .collect();
    let trigger = triggers(&nodes);
    let error_workflow = wf["settings"]["errorWorkflow"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string);

    let mut sends = Vec::new();
    let mut notifiers = Vec::new();
    for (i, node) in nodes.iter().enumerate().filter(|(_, n)| enabled(n)) {
        let node_name = str_at(node, "name");
        let (via, transport) = match classify(node) {
            Class::Send { via, transport } => (via, transport),
            Class::Notify(channel) => {
                notifiers.push((node_name.to_string(), channel));
                continue;
            }
            Class::Other => continue,
        };

        // Where the item goes when the node fails.
        let on_error = str_at(node, "onError");
        let legacy_continue = node["continueOnFail"].as_bool() == Some(true);
        let output = match on_error {
            "continueErrorOutput" => Some(1),
            "continueRegularOutput" => Some(0),
            _ if legacy_continue => Some(0),
            _ => None,
        };
        let routes = output
            .map(|index| {
                let starts = targets(wf, node_name, index);
                reachable_notifiers(wf, &starts, &by_name)
                    .into_iter()
                    .map(|(node, channel)| FallbackRoute {
                        channel,
                        action: node,
                        coverage: Coverage::Full,
                    })
                    .collect()
            })
            .unwrap_or_default();

        let notifies = notifies(node);
        let send = Send {
            workflow: name.clone(),
            format: Format::N8n,
            file: file.to_path_buf(),
            location: Location::Pointer(format!("{base}/nodes/{i}")),
            action: node_name.to_string(),
            via,
            transport,
            notifies,
            trigger: trigger.clone(),
        };
        sends.push((send, routes, output.is_none()));
    }
    Parsed {
        id: wf["id"].as_str().map(str::to_string),
        name,
        error_workflow,
        sends,
        notifiers,
    }
}

/// The subject of the mail a node sends (n8n's `=` expression marker
/// dropped), or an excerpt of its body; HTTP nodes are read in their JSON body.
fn notifies(node: &Value) -> String {
    let direct = ["subject", "text", "message", "bodyContent", "html"]
        .iter()
        .find_map(|k| param(node, k))
        .map(str::to_string);
    let from_json = || {
        let body: Value = serde_json::from_str(param(node, "jsonBody")?).ok()?;
        find_text(&body, &["subject"], 3).map(str::to_string)
    };
    direct
        .or_else(from_json)
        .map(|t| excerpt(t.strip_prefix('=').unwrap_or(&t), 100))
        .unwrap_or_default()
}

/// The nodes wired to output `index` of `node`.
fn targets(wf: &Value, node: &str, index: usize) -> Vec<String> {
    wf["connections"][node]["main"][index]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| str_at(c, "node").to_string())
        .collect()
}

/// Notifiers among `starts` and every node downstream of them.
fn reachable_notifiers(
    wf: &Value,
    starts: &[String],
    by_name: &BTreeMap<&str, &Value>,
) -> Vec<(String, Channel)> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<String> = starts.iter().cloned().collect();
    let mut out = Vec::new();
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(node) = by_name.get(name.as_str()) else {
            continue;
        };
        if let Class::Notify(channel) = classify(node) {
            out.push((name.clone(), channel));
        }
        for output in wf["connections"][name.as_str()]["main"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for c in output.as_array().into_iter().flatten() {
                queue.push_back(str_at(c, "node").to_string());
            }
        }
    }
    out
}

fn triggers(nodes: &[&Value]) -> String {
    let phrases: Vec<String> = nodes
        .iter()
        .filter(|n| {
            let t = short_type(n);
            t.ends_with("trigger") || ["webhook", "cron", "interval", "start"].contains(&t.as_str())
        })
        .map(|n| format!("{} ({})", str_at(n, "name"), short_type(n)))
        .collect();
    if phrases.is_empty() {
        "manual".into()
    } else {
        phrases.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outlook_defaults_to_sending_and_reads_are_not_sends() {
        let send =
            json!({"type": "n8n-nodes-base.microsoftOutlook", "parameters": {"subject": "x"}});
        assert!(matches!(classify(&send), Class::Send { .. }));
        let list = json!({"type": "n8n-nodes-base.microsoftOutlook",
            "parameters": {"resource": "message", "operation": "getAll"}});
        assert!(matches!(classify(&list), Class::Other));
        let draft = json!({"type": "n8n-nodes-base.microsoftOutlook",
            "parameters": {"operation": "reply", "send": false}});
        assert!(matches!(classify(&draft), Class::Other));
        let tool = json!({"type": "n8n-nodes-base.microsoftOutlookTool", "parameters": {}});
        assert!(matches!(classify(&tool), Class::Send { .. }));
    }

    #[test]
    fn other_providers_are_notifiers_not_sends() {
        let gmail = json!({"type": "n8n-nodes-base.gmail", "parameters": {"operation": "send"}});
        assert!(matches!(classify(&gmail), Class::Notify(c) if c.kind == ChannelKind::OtherMail));
        let ses = json!({"type": "n8n-nodes-base.awsSes", "parameters": {}});
        assert!(matches!(classify(&ses), Class::Notify(_)));
        let read = json!({"type": "n8n-nodes-base.gmail", "parameters": {"operation": "getAll"}});
        assert!(matches!(classify(&read), Class::Other));
    }
}
