//! Azure Logic Apps and Microsoft Sentinel playbooks: ARM templates
//! (`Microsoft.Logic/workflows` resources, nested templates included) and
//! bare workflow definitions (Consumption code view, Standard `workflow.json`,
//! `az logic workflow show` output), and Power Automate flow exports, which
//! share the definition language.
//!
//! A send is an `ApiConnection` on the Office 365 / Outlook connector whose
//! path sends mail, an `Http` action that calls Graph `sendMail`, or the
//! SMTP connector. Its fallback is looked for in `runAfter` edges on
//! `Failed`/`TimedOut` from the send or any enclosing scope, condition,
//! switch or loop, and in notifiers that run independently of it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::channel::{self, Channel, ChannelKind, HttpUse};
use super::model::{Coverage, FallbackRoute, Finding, Format, Location, Send, Transport};
use super::text::{excerpt, find_text, name_or_stem, pointer, str_at};

/// The findings in `doc` when it holds Logic Apps workflows; `None` when it
/// holds none (so another parser may try).
pub fn findings(file: &Path, doc: &Value) -> Option<Vec<Finding>> {
    let workflows = workflows(file, doc);
    if workflows.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for wf in &workflows {
        audit_workflow(file, wf, &mut out);
    }
    Some(out)
}

/// One workflow definition and what is needed to read it.
struct Workflow<'a> {
    name: String,
    definition: &'a Map<String, Value>,
    pointer: String,
    /// `$connections` key → managed API name (`office365`, `slack`...).
    connections: BTreeMap<String, String>,
    /// Template parameters, to resolve `[parameters('x')]` defaults.
    arm: Option<&'a Value>,
}

fn workflows<'a>(file: &Path, doc: &'a Value) -> Vec<Workflow<'a>> {
    let stem = name_or_stem(None, file);

    // Standard workflow.json / `az logic workflow show`: {"definition": {...}}.
    if let Some(def) = doc.get("definition").and_then(Value::as_object)
        && (def.contains_key("actions") || def.contains_key("triggers"))
    {
        let name = match doc.get("name").and_then(Value::as_str) {
            Some(n) => n.to_string(),
            None if file.file_name().is_some_and(|n| n == "workflow.json") => file
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or(stem),
            None => stem,
        };
        let mut connections = connections_of(doc.pointer("/parameters/$connections/value"));
        connections.extend(connections_of(
            def.get("parameters")
                .and_then(|p| p.pointer("/$connections/defaultValue")),
        ));
        return vec![Workflow {
            name,
            definition: def,
            pointer: "/definition".into(),
            connections,
            arm: None,
        }];
    }

    // A Power Automate flow export or `az rest` output: {"properties": {"definition": {...}}}.
    if let Some(def) = doc
        .pointer("/properties/definition")
        .and_then(Value::as_object)
        .filter(|d| d.contains_key("actions") || d.contains_key("triggers"))
    {
        let name = [doc.pointer("/properties/displayName"), doc.get("name")]
            .into_iter()
            .flatten()
            .find_map(Value::as_str)
            .map(str::to_string)
            .unwrap_or(stem);
        let connections = connections_of(
            def.get("parameters")
                .and_then(|p| p.pointer("/$connections/defaultValue")),
        );
        return vec![Workflow {
            name,
            definition: def,
            pointer: "/properties/definition".into(),
            connections,
            arm: None,
        }];
    }

    // A bare definition, as the code view shows it.
    if let Some(map) = doc.as_object() {
        let schema = str_at(doc, "$schema").to_ascii_lowercase();
        let has_parts = map.get("actions").is_some_and(Value::is_object)
            || map.get("triggers").is_some_and(Value::is_object);
        if has_parts
            && (schema.contains("workflowdefinition") || map.contains_key("contentVersion"))
        {
            let connections = connections_of(doc.pointer("/parameters/$connections/defaultValue"));
            return vec![Workflow {
                name: stem,
                definition: map,
                pointer: String::new(),
                connections,
                arm: None,
            }];
        }
    }

    // ARM templates, however deeply nested.
    let mut out = Vec::new();
    collect_resources(doc, String::new(), None, doc, &stem, &mut out);
    out
}

fn collect_resources<'a>(
    v: &'a Value,
    ptr: String,
    arm: Option<&'a Value>,
    root: &'a Value,
    stem: &str,
    out: &mut Vec<Workflow<'a>>,
) {
    match v {
        Value::Object(map) => {
            let is_workflow = str_at(v, "type").eq_ignore_ascii_case("Microsoft.Logic/workflows");
            if let (true, Some(def)) = (
                is_workflow,
                v.pointer("/properties/definition")
                    .and_then(Value::as_object),
            ) {
                let name = resolve_arm(str_at(v, "name"), arm)
                    .or_else(|| root.pointer("/metadata/title").and_then(Value::as_str))
                    .map(str::to_string)
                    .unwrap_or_else(|| stem.to_string());
                let mut connections =
                    connections_of(v.pointer("/properties/parameters/$connections/value"));
                connections.extend(connections_of(
                    def.get("parameters")
                        .and_then(|p| p.pointer("/$connections/defaultValue")),
                ));
                out.push(Workflow {
                    name,
                    definition: def,
                    pointer: pointer(&ptr, "properties") + "/definition",
                    connections,
                    arm,
                });
                return;
            }
            let arm = if map.get("resources").is_some_and(Value::is_array) {
                Some(v)
            } else {
                arm
            };
            for (k, child) in map {
                if child.is_object() || child.is_array() {
                    collect_resources(child, pointer(&ptr, k), arm, root, stem, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_resources(child, format!("{ptr}/{i}"), arm, root, stem, out);
            }
        }
        _ => {}
    }
}

static ARM_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\[\s*(parameters|variables)\('([^']+)'\)\s*\]$").expect("static regex")
});

/// A literal ARM string, or the default of the parameter / the variable it
/// names; `None` for other expressions.
fn resolve_arm<'a>(text: &'a str, arm: Option<&'a Value>) -> Option<&'a str> {
    if !text.starts_with('[') {
        return Some(text).filter(|t| !t.is_empty());
    }
    let caps = ARM_REF.captures(text)?;
    let template = arm?;
    let name = caps.get(2)?.as_str();
    let value = match caps.get(1)?.as_str() {
        "parameters" => template.get("parameters")?.get(name)?.get("defaultValue")?,
        _ => template.get("variables")?.get(name)?,
    };
    value.as_str().filter(|s| !s.starts_with('['))
}

/// `$connections` entries: key → managed API, read from the connection id.
fn connections_of(value: Option<&Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(Value::Object(map)) = value else {
        return out;
    };
    for (key, entry) in map {
        let api = api_from_id(str_at(entry, "id")).unwrap_or_else(|| api_from_key(key));
        out.insert(key.clone(), api);
    }
    out
}

fn api_from_id(id: &str) -> Option<String> {
    let lower = id.to_ascii_lowercase();
    let at = lower.find("managedapis")? + "managedapis".len();
    let rest = lower[at..].trim_start_matches(['/', '\'', ',', ' ']);
    let api: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    Some(api).filter(|a| !a.is_empty())
}

/// Connector names as written in `$connections` keys (`office365_1`,
/// `Outlook-MyPlaybook`), reduced to the managed API they name.
fn api_from_key(key: &str) -> String {
    const KNOWN: &[&str] = &[
        "office365users",
        "office365groups",
        "office365",
        "outlook",
        "azuresentinel",
        "smtp",
        "sendgrid",
        "gmail",
        "teams",
        "slack",
        "pagerduty",
        "opsgenie",
        "twilio",
        "telegrambot",
        "signl4",
        "webexteams",
    ];
    let lower = key.to_ascii_lowercase();
    KNOWN
        .iter()
        .find(|k| lower.starts_with(*k))
        .map(|k| k.to_string())
        .unwrap_or(lower)
}

static CONNECTION_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$connections'\s*\)\s*\[\s*'([^']+)'").expect("static regex"));

/// The managed API an `ApiConnection` action or trigger uses.
fn api_of(def: &Value, wf: &Workflow) -> String {
    let host = def.pointer("/inputs/host");
    let key = host
        .and_then(|h| h.pointer("/connection/name"))
        .and_then(Value::as_str)
        .and_then(|n| CONNECTION_KEY.captures(n).map(|c| c[1].to_string()))
        .or_else(|| {
            host.and_then(|h| h.pointer("/connection/referenceName"))
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    // Power Automate: host.apiId `/providers/Microsoft.PowerApps/apis/shared_office365`.
    let flow_api = host
        .and_then(|h| h.get("apiId").or_else(|| h.get("connectionName")))
        .and_then(Value::as_str)
        .and_then(|id| id.rsplit('/').next())
        .map(|last| api_from_key(last.trim_start_matches("shared_")));
    if let (None, Some(api)) = (&key, flow_api) {
        return api;
    }
    if let Some(key) = key {
        return wf
            .connections
            .get(&key)
            .cloned()
            .unwrap_or_else(|| api_from_key(&key));
    }
    // Older definitions name the API by its runtime URL.
    let runtime = host
        .and_then(|h| h.pointer("/api/runtimeUrl"))
        .and_then(Value::as_str)
        .unwrap_or("");
    api_from_key(runtime.rsplit('/').next().unwrap_or(""))
}

/// What one action does, as far as the audit cares.
enum Class {
    Send {
        via: String,
        transport: Transport,
        notifies: String,
    },
    Notify(Channel),
    Other,
}

static O365_SEND_PATHS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"^/(v\d+/)?mail$", "Send an email"),
        (
            r"^/(v\d+/)?sharedmailbox/mail$",
            "Send an email from a shared mailbox",
        ),
        (r"^/(v\d+/)?mail/replyto/", "Reply to email"),
        (r"^/(v\d+/)?mail/forward/", "Forward an email"),
        (
            r"^/codeless/.*/(forward|reply|replyall|send)$",
            "Forward or reply to an email",
        ),
        (r"^/(v\d+/)?draft/send/", "Send a draft message"),
        (r"^/approvalmail/\$subscriptions$", "Send approval email"),
        (
            r"^/mailwithoptions/\$subscriptions$",
            "Send email with options",
        ),
    ]
    .into_iter()
    .map(|(re, name)| (Regex::new(re).expect("static regex"), name))
    .collect()
});

fn classify(def: &Value, wf: &Workflow) -> Class {
    let kind = str_at(def, "type").to_ascii_lowercase();
    match kind.as_str() {
        "apiconnection"
        | "apiconnectionwebhook"
        | "openapiconnection"
        | "openapiconnectionwebhook" => classify_connector(def, wf, &kind),
        "http" => {
            let uri = resolve_param(str_at(&def["inputs"], "uri"), wf);
            let method = str_at(&def["inputs"], "method");
            match channel::http_use(&uri, method) {
                HttpUse::ExchangeSend(what) => Class::Send {
                    via: format!("{what} (HTTP {})", method.to_ascii_uppercase()),
                    transport: Transport::Graph,
                    notifies: notifies(def),
                },
                HttpUse::Notify(channel) => Class::Notify(channel),
                HttpUse::Other => Class::Other,
            }
        }
        "serviceprovider" => {
            let config = def.pointer("/inputs/serviceProviderConfiguration");
            let provider = config.map(|c| str_at(c, "serviceProviderId")).unwrap_or("");
            let operation = config.map(|c| str_at(c, "operationId")).unwrap_or("");
            if provider.to_ascii_lowercase().contains("smtp")
                && operation.to_ascii_lowercase().contains("send")
            {
                Class::Send {
                    via: "SMTP built-in connector (server set in the connection)".into(),
                    transport: Transport::Smtp,
                    notifies: notifies(def),
                }
            } else {
                Class::Other
            }
        }
        _ => Class::Other,
    }
}

fn classify_connector(def: &Value, wf: &Workflow, kind: &str) -> Class {
    let api = api_of(def, wf);
    // No query split: `?` also appears inside expressions (`triggerBody()?['id']`),
    // and connector paths carry their query in `inputs.queries`.
    let path = str_at(&def["inputs"], "path").to_ascii_lowercase();
    let path = path.as_str();
    let method = str_at(&def["inputs"], "method").to_ascii_lowercase();
    let operation = def
        .pointer("/inputs/host/operationId")
        .and_then(Value::as_str)
        .unwrap_or("");
    match api.as_str() {
        "office365" | "outlook" if !operation.is_empty() => {
            // Power Automate names the operation instead of a path.
            let op = operation.to_ascii_lowercase();
            let sends = ["send", "replyto", "forward", "sharedmailboxsend"]
                .iter()
                .any(|p| op.starts_with(p));
            if sends {
                Class::Send {
                    via: format!("Office 365 Outlook: {operation}"),
                    transport: Transport::Graph,
                    notifies: notifies(def),
                }
            } else {
                Class::Other
            }
        }
        "office365" | "outlook" => {
            // Webhook actions (approval mail) subscribe; others must POST.
            let posts = method == "post" || (kind == "apiconnectionwebhook" && method.is_empty());
            let op = O365_SEND_PATHS
                .iter()
                .find(|(re, _)| re.is_match(path))
                .map(|(_, name)| *name);
            match (posts, op) {
                (true, Some(op)) => {
                    let connector = if api == "outlook" {
                        "Outlook.com"
                    } else {
                        "Office 365 Outlook"
                    };
                    Class::Send {
                        via: format!("{connector}: {op} ({})", str_at(&def["inputs"], "path")),
                        transport: Transport::Graph,
                        notifies: notifies(def),
                    }
                }
                _ => Class::Other,
            }
        }
        "smtp" if method == "post" || !operation.is_empty() => Class::Send {
            via: "SMTP connector (server set in the API connection)".into(),
            transport: Transport::Smtp,
            notifies: notifies(def),
        },
        "slack" => Class::Notify(Channel::slack()),
        "teams" => Class::Notify(Channel::teams()),
        "pagerduty" => Class::Notify(Channel::new(ChannelKind::PagerDuty)),
        "opsgenie" => Class::Notify(Channel::new(ChannelKind::Opsgenie)),
        "twilio" => Class::Notify(Channel::new(ChannelKind::Sms)),
        "telegrambot" => Class::Notify(Channel::new(ChannelKind::Telegram)),
        "signl4" => Class::Notify(Channel::chat("SIGNL4")),
        "webexteams" => Class::Notify(Channel::chat("Webex")),
        "sendgrid" => Class::Notify(Channel::other_mail("SendGrid")),
        "gmail" => Class::Notify(Channel::other_mail("Gmail")),
        _ => Class::Other,
    }
}

/// `@parameters('x')` / `@{parameters('x')}` replaced by the default value
/// of workflow parameter `x` (itself resolved through the ARM template).
fn resolve_param(text: &str, wf: &Workflow) -> String {
    static PARAM: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^@\{?parameters\('([^']+)'\)\}?$").expect("static regex"));
    let Some(caps) = PARAM.captures(text.trim()) else {
        return text.to_string();
    };
    let default = wf
        .definition
        .get("parameters")
        .and_then(|p| p.get(&caps[1]))
        .and_then(|p| p.get("defaultValue"))
        .and_then(Value::as_str)
        .and_then(|d| resolve_arm(d, wf.arm));
    match default {
        Some(d) => d.to_string(),
        None => text.to_string(),
    }
}

/// The subject of the mail an action sends, or an excerpt of its body.
fn notifies(def: &Value) -> String {
    let body = &def["inputs"]["body"];
    let parsed;
    let body = match body.as_str().map(serde_json::from_str::<Value>) {
        Some(Ok(v)) => {
            parsed = v;
            &parsed
        }
        _ => body,
    };
    let params = &def["inputs"]["parameters"];
    find_text(body, &["subject"], 3)
        .or_else(|| find_text(params, &["subject"], 1))
        .or_else(|| find_text(body, &["body", "comment", "content"], 3))
        .or_else(|| find_text(params, &["body", "comment"], 1))
        .map(|t| excerpt(t, 100))
        .unwrap_or_default()
}

/// The child action maps of a container action, with their pointers.
fn child_maps<'a>(def: &'a Value, ptr: &str) -> Vec<(&'a Map<String, Value>, String)> {
    let mut out = Vec::new();
    let mut push = |v: Option<&'a Value>, p: String| {
        if let Some(map) = v.and_then(Value::as_object) {
            out.push((map, p));
        }
    };
    push(def.get("actions"), format!("{ptr}/actions"));
    push(def.pointer("/else/actions"), format!("{ptr}/else/actions"));
    push(
        def.pointer("/default/actions"),
        format!("{ptr}/default/actions"),
    );
    if let Some(cases) = def.get("cases").and_then(Value::as_object) {
        for (case, body) in cases {
            push(
                body.get("actions"),
                format!("{}/actions", pointer(&format!("{ptr}/cases"), case)),
            );
        }
    }
    out
}

/// One level of the scope chain: an action and the map it sits in.
#[derive(Clone, Copy)]
struct Level<'a> {
    subject: &'a str,
    siblings: &'a Map<String, Value>,
    container: bool,
}

fn audit_workflow(file: &Path, wf: &Workflow, out: &mut Vec<Finding>) {
    let trigger = triggers(wf);
    let Some(actions) = wf.definition.get("actions").and_then(Value::as_object) else {
        return;
    };
    let mut chain = Vec::new();
    visit(
        file,
        wf,
        &trigger,
        actions,
        &format!("{}/actions", wf.pointer),
        &mut chain,
        out,
    );
}

fn visit<'a>(
    file: &Path,
    wf: &Workflow,
    trigger: &str,
    map: &'a Map<String, Value>,
    ptr: &str,
    chain: &mut Vec<Level<'a>>,
    out: &mut Vec<Finding>,
) {
    for (name, def) in map {
        let here = pointer(ptr, name);
        if let Class::Send {
            via,
            transport,
            notifies,
        } = classify(def, wf)
        {
            let mut levels = vec![Level {
                subject: name,
                siblings: map,
                container: false,
            }];
            levels.extend(chain.iter().rev().copied());
            let send = Send {
                workflow: wf.name.clone(),
                format: Format::LogicApp,
                file: file.to_path_buf(),
                location: Location::Pointer(here.clone()),
                action: name.clone(),
                via,
                transport,
                notifies,
                trigger: trigger.to_string(),
            };
            out.push(send.judge(fallbacks(&levels, wf)));
        }
        for (child, child_ptr) in child_maps(def, &here) {
            chain.push(Level {
                subject: name,
                siblings: map,
                container: true,
            });
            visit(file, wf, trigger, child, &child_ptr, chain, out);
            chain.pop();
        }
    }
}

/// Lowercased `runAfter` statuses per predecessor.
fn run_after(def: &Value) -> Vec<(&str, Vec<String>)> {
    let Some(map) = def.get("runAfter").and_then(Value::as_object) else {
        return Vec::new();
    };
    map.iter()
        .map(|(pred, statuses)| {
            let statuses = statuses
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_ascii_lowercase)
                        .collect()
                })
                .unwrap_or_default();
            (pred.as_str(), statuses)
        })
        .collect()
}

/// `start` and every sibling that runs after one of them, transitively.
fn downstream<'a>(siblings: &'a Map<String, Value>, start: &[&'a str]) -> BTreeSet<&'a str> {
    let mut set: BTreeSet<&str> = start.iter().copied().collect();
    loop {
        let before = set.len();
        for (name, def) in siblings {
            if !set.contains(name.as_str()) && run_after(def).iter().any(|(p, _)| set.contains(p)) {
                set.insert(name);
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

fn fallbacks(levels: &[Level], wf: &Workflow) -> Vec<FallbackRoute> {
    let mut routes = Vec::new();
    for level in levels {
        // Failure handlers: siblings that run after the subject on Failed/TimedOut.
        for (name, def) in level.siblings {
            for (pred, statuses) in run_after(def) {
                if pred != level.subject {
                    continue;
                }
                let failed = statuses.iter().any(|s| s == "failed");
                let timed_out = statuses.iter().any(|s| s == "timedout");
                // A scope is marked Failed when an action inside fails or times out.
                let coverage = match (failed, timed_out, level.container) {
                    (true, true, _) | (true, false, true) => Coverage::Full,
                    (true, false, false) => Coverage::FailedOnly,
                    (false, true, _) => Coverage::TimedOutOnly,
                    (false, false, _) => continue,
                };
                for handler in downstream(level.siblings, &[name.as_str()]) {
                    for (action, channel) in notifiers(handler, &level.siblings[handler], wf) {
                        routes.push(FallbackRoute {
                            channel,
                            action,
                            coverage,
                        });
                    }
                }
            }
        }

        // Notifiers that do not wait for the subject at all run whatever it
        // does — provided they run on the normal path, not only when
        // something else fails.
        let dependents = downstream(level.siblings, &[level.subject]);
        for (name, def) in level.siblings {
            if dependents.contains(name.as_str()) || !runs_normally(name, level.siblings, 0) {
                continue;
            }
            for (action, channel) in notifiers(name, def, wf) {
                if channel.is_identified() {
                    routes.push(FallbackRoute {
                        channel,
                        action: format!("{action} (runs independently)"),
                        coverage: Coverage::Full,
                    });
                }
            }
        }
    }
    routes
}

/// Whether an action runs when everything before it succeeds: every
/// `runAfter` edge up its chain accepts `Succeeded`.
fn runs_normally(name: &str, siblings: &Map<String, Value>, depth: usize) -> bool {
    let Some(def) = siblings.get(name) else {
        return true;
    };
    if depth > siblings.len() {
        return false; // a runAfter cycle: the definition would not deploy
    }
    run_after(def).iter().all(|(pred, statuses)| {
        statuses.iter().any(|s| s == "succeeded") && runs_normally(pred, siblings, depth + 1)
    })
}

/// Every notifier in an action and the actions nested in it.
fn notifiers(name: &str, def: &Value, wf: &Workflow) -> Vec<(String, Channel)> {
    let mut out = Vec::new();
    if let Class::Notify(channel) = classify(def, wf) {
        out.push((name.to_string(), channel));
    }
    for (child, _) in child_maps(def, "") {
        for (child_name, child_def) in child {
            out.extend(notifiers(child_name, child_def, wf));
        }
    }
    out
}

/// What starts the workflow, one phrase per trigger.
fn triggers(wf: &Workflow) -> String {
    let Some(map) = wf.definition.get("triggers").and_then(Value::as_object) else {
        return "none".into();
    };
    let phrases: Vec<String> = map
        .iter()
        .map(|(name, def)| describe_trigger(name, def, wf))
        .collect();
    if phrases.is_empty() {
        "none".into()
    } else {
        phrases.join("; ")
    }
}

fn describe_trigger(name: &str, def: &Value, wf: &Workflow) -> String {
    let kind = str_at(def, "type").to_ascii_lowercase();
    match kind.as_str() {
        "request" => format!("{name} (HTTP request)"),
        "recurrence" => {
            let every = def.pointer("/recurrence/interval").map(|v| v.to_string());
            let unit = def
                .pointer("/recurrence/frequency")
                .and_then(Value::as_str)
                .unwrap_or("");
            format!(
                "{name} (every {} {unit})",
                every.unwrap_or_else(|| "1".into())
            )
        }
        "apiconnection" | "apiconnectionwebhook" => {
            let api = api_of(def, wf);
            let path = str_at(&def["inputs"], "path").to_ascii_lowercase();
            let what = if api.contains("sentinel") {
                if path.contains("incident") {
                    "Microsoft Sentinel incident".to_string()
                } else if path.contains("entit") {
                    "Microsoft Sentinel entity".to_string()
                } else {
                    "Microsoft Sentinel alert".to_string()
                }
            } else if (api == "office365" || api == "outlook") && path.contains("/on") {
                "new mail in an Exchange Online mailbox; intake depends on Exchange too".to_string()
            } else {
                format!("{api} {path}")
            };
            format!("{name} ({what})")
        }
        _ => format!("{name} ({})", str_at(def, "type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn audit(doc: Value) -> Vec<Finding> {
        findings(Path::new("t.json"), &doc).expect("a logic app")
    }

    fn o365_send(path: &str, method: &str) -> Value {
        json!({
            "type": "ApiConnection",
            "inputs": {
                "host": {"connection": {"name": "@parameters('$connections')['office365']['connectionId']"}},
                "method": method, "path": path,
                "body": {"Subject": "Alert <b>@{triggerBody()?['title']}</b>", "To": "soc@contoso.com"}
            }
        })
    }

    fn definition(actions: Value) -> Value {
        json!({
            "$schema": "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#",
            "contentVersion": "1.0.0.0",
            "triggers": {"manual": {"type": "Request", "kind": "Http"}},
            "actions": actions
        })
    }

    #[test]
    fn reads_are_not_sends() {
        let found = audit(definition(json!({
            "Get_emails": o365_send("/v3/Mail", "get"),
            "Mark_read": o365_send("/v3/Mail/MarkAsRead/x", "patch"),
            "Move": o365_send("/v2/Mail/Move/x", "post"),
        })));
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn send_paths_are_recognised() {
        for path in [
            "/v2/Mail",
            "/Mail",
            "/v2/SharedMailbox/Mail",
            "/v3/Mail/ReplyTo/@{encodeURIComponent(triggerBody()?['id'])}",
            "/Mail/Forward/abc",
            "/codeless/api/v2.0/me/messages/@{encodeURIComponent(triggerBody()?['id'])}/forward",
        ] {
            let found = audit(definition(json!({"Send": o365_send(path, "post")})));
            assert_eq!(found.len(), 1, "{path}");
            assert_eq!(found[0].notifies, "Alert @{triggerBody()?['title']}");
        }
    }

    #[test]
    fn power_automate_operations_send_by_operation_id() {
        let op = |api: &str, id: &str| {
            json!({"type": "OpenApiConnection", "inputs": {
                "host": {"apiId": format!("/providers/Microsoft.PowerApps/apis/shared_{api}"),
                         "operationId": id},
                "parameters": {"emailMessage/Subject": "Risky sign-in"}}})
        };
        let found = audit(definition(json!({
            "Send": op("office365", "SendEmailV2"),
            "Reply": op("office365", "ReplyToV3"),
            "Read": op("office365", "GetEmailsV3"),
            "Flag": op("office365", "Flag_V2"),
            "Gmail": op("gmail", "SendEmailV2"),
        })));
        let actions: Vec<&str> = found.iter().map(|f| f.action.as_str()).collect();
        assert_eq!(actions, ["Reply", "Send"]);
        assert_eq!(found[1].notifies, "Risky sign-in");
    }

    #[test]
    fn timed_out_only_handler_on_the_send_is_partial() {
        let found = audit(definition(json!({
            "Send": o365_send("/v2/Mail", "post"),
            "Page": {
                "type": "Http", "runAfter": {"Send": ["TimedOut"]},
                "inputs": {"method": "POST", "uri": "https://events.pagerduty.com/v2/enqueue"}
            }
        })));
        assert_eq!(found[0].verdict, crate::audit::model::Verdict::Partial);
        assert_eq!(found[0].gap, Some(crate::audit::model::Gap::NotOnFailed));
    }

    #[test]
    fn a_notifier_that_only_handles_another_failure_is_not_independent() {
        let slack = |after: Value| {
            json!({"type": "ApiConnection", "runAfter": after, "inputs": {
                "host": {"connection": {"name": "@parameters('$connections')['slack']['connectionId']"}},
                "method": "post", "path": "/chat.postMessage"}})
        };
        let enrich = json!({"type": "Http", "runAfter": {},
            "inputs": {"method": "GET", "uri": "https://api.example.org/x"}});
        let on_enrich_failure = audit(definition(json!({
            "Enrich": enrich,
            "Send": o365_send("/v2/Mail", "post"),
            "Slack": slack(json!({"Enrich": ["Failed"]})),
        })));
        assert_eq!(
            on_enrich_failure[0].verdict,
            crate::audit::model::Verdict::No
        );

        let after_enrich = audit(definition(json!({
            "Enrich": enrich,
            "Send": o365_send("/v2/Mail", "post"),
            "Slack": slack(json!({"Enrich": ["Succeeded", "Failed"]})),
        })));
        assert_eq!(after_enrich[0].verdict, crate::audit::model::Verdict::Yes);
    }

    #[test]
    fn arm_parameter_names_and_connection_ids_resolve() {
        assert_eq!(
            api_from_id(
                "[concat('/subscriptions/', subscription().subscriptionId, '/providers/Microsoft.Web/locations/', resourceGroup().location, '/managedApis/Outlook')]"
            ),
            Some("outlook".into())
        );
        assert_eq!(api_from_key("office365_1"), "office365");
        assert_eq!(api_from_key("office365users"), "office365users");
        let arm = json!({"parameters": {"PlaybookName": {"defaultValue": "Notify-SOC"}}});
        assert_eq!(
            resolve_arm("[parameters('PlaybookName')]", Some(&arm)),
            Some("Notify-SOC")
        );
        assert_eq!(resolve_arm("[concat('a', 'b')]", Some(&arm)), None);
    }
}
