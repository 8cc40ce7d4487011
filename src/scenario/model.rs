//! The scenario as written: serde types for format version 1.
//!
//! Field names are the public contract (docs/scenario-format.md); the loader
//! fills them from YAML and [`super::validate`] checks what serde cannot
//! (cross-references, ranges, loopback addresses). Nothing here does I/O.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::duration::Dur;

/// One drill: what breaks, what is tested, where alerts may arrive.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Format version; must be 1.
    pub version: u32,
    /// Identifier used in file names and the record (a slug).
    pub name: String,
    /// One line for humans.
    pub title: String,
    /// Free text shown in the record.
    #[serde(default)]
    pub description: String,
    /// Control ids this drill evidences (e.g. CP-4, CP-8, CP-11, IR-3).
    #[serde(default = "default_controls")]
    pub controls: Vec<String>,
    /// Seeds every random choice (`rate`); random and recorded when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Allows non-loopback addresses (also needs `--live`).
    #[serde(default)]
    pub live: bool,
    /// Record metadata.
    #[serde(default)]
    pub exercise: Exercise,
    /// Every place an alert can arrive.
    pub channels: Vec<Channel>,
    /// What breaks, and for how long.
    pub outage: Outage,
    /// The pipeline under test.
    pub target: Target,
    /// The test alerts, each with its RTO.
    pub alerts: Vec<Alert>,
    /// Baseline and recovery canaries.
    #[serde(default)]
    pub checks: Checks,
    /// How many bad outcomes the drill tolerates.
    #[serde(default)]
    pub pass: PassCriteria,
}

fn default_controls() -> Vec<String> {
    vec!["CP-4".to_string()]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Smtp,
    Graph,
    Slack,
    Teams,
    Pagerduty,
    Ntfy,
    Webhook,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Smtp => "smtp",
            ChannelKind::Graph => "graph",
            ChannelKind::Slack => "slack",
            ChannelKind::Teams => "teams",
            ChannelKind::Pagerduty => "pagerduty",
            ChannelKind::Ntfy => "ntfy",
            ChannelKind::Webhook => "webhook",
        }
    }

    pub fn is_http(self) -> bool {
        self != ChannelKind::Smtp
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    #[default]
    Alternate,
}

/// A place where alerts may arrive; the harness runs its endpoint.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    #[serde(default)]
    pub role: Role,
    /// `host:port` where the harness runs this channel's endpoint (port 0:
    /// any free port).
    pub listen: String,
    /// Channels that fail together with this one (e.g. Teams with Exchange).
    #[serde(default)]
    pub shares_fate_with: Vec<String>,
}

/// What breaks, and for how long.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// How long the outage lasts (required unless `phases` is given).
    #[serde(default)]
    pub duration: Option<Dur>,
    /// Faults active for the whole outage, by channel name.
    #[serde(default)]
    pub faults: BTreeMap<String, Fault>,
    /// Consecutive stages of the outage; the outage lasts their sum.
    #[serde(default)]
    pub phases: Vec<Phase>,
    /// Actions run when the outage starts.
    #[serde(default)]
    pub inject: Vec<Action>,
    /// Actions run when it ends, on every path out of the outage.
    #[serde(default)]
    pub restore: Vec<Action>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    #[serde(rename = "for")]
    pub length: Dur,
    #[serde(default)]
    pub faults: BTreeMap<String, Fault>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    Defer,
    Reject,
    Throttle,
    Unavailable,
    Error,
    Drop,
    Hang,
    Refuse,
    Slow,
}

impl FailMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FailMode::Defer => "defer",
            FailMode::Reject => "reject",
            FailMode::Throttle => "throttle",
            FailMode::Unavailable => "unavailable",
            FailMode::Error => "error",
            FailMode::Drop => "drop",
            FailMode::Hang => "hang",
            FailMode::Refuse => "refuse",
            FailMode::Slow => "slow",
        }
    }

    /// Whether the mode applies to SMTP endpoints, HTTP endpoints, or both.
    pub fn fits(self, kind: ChannelKind) -> bool {
        match self {
            FailMode::Defer | FailMode::Reject => kind == ChannelKind::Smtp,
            FailMode::Throttle | FailMode::Unavailable | FailMode::Error => kind.is_http(),
            FailMode::Drop | FailMode::Hang | FailMode::Refuse | FailMode::Slow => true,
        }
    }
}

impl fmt::Display for FailMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in an SMTP session a fault strikes.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    Serialize,
    JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Connect,
    #[default]
    Greeting,
    Ehlo,
    Auth,
    Mail,
    Rcpt,
    Data,
    EndOfData,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting",
            Stage::Ehlo => "ehlo",
            Stage::Auth => "auth",
            Stage::Mail => "mail",
            Stage::Rcpt => "rcpt",
            Stage::Data => "data",
            Stage::EndOfData => "end-of-data",
        }
    }
}

/// How one channel's endpoint misbehaves during (a phase of) the outage.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub fail: FailMode,
    /// smtp only: where in the session the fault strikes (default greeting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// smtp: the full reply line; default per mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// http kinds: the status code for `fail: error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// http kinds: Retry-After for `throttle` (default 60s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Dur>,
    /// For `slow`: added before each reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Dur>,
    /// Share of sessions/requests that fail, 0.0–1.0 (default 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

impl Fault {
    pub fn stage(&self) -> Stage {
        self.stage.unwrap_or_default()
    }

    pub fn rate(&self) -> f64 {
        self.rate.unwrap_or(1.0)
    }

    pub fn retry_after(&self) -> Dur {
        self.retry_after.unwrap_or(Dur::from_secs(60))
    }

    /// The SMTP reply line this fault sends, with Exchange Online's wording
    /// as the default.
    pub fn smtp_reply(&self) -> String {
        if let Some(reply) = &self.reply {
            return reply.clone();
        }
        match self.fail {
            FailMode::Reject => "550 5.7.708 Service unavailable".to_string(),
            _ => "421 4.3.2 Service not available, closing transmission channel".to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    #[default]
    Builtin,
    Alertmanager,
    Webhook,
    Command,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Builtin => "builtin",
            TargetKind::Alertmanager => "alertmanager",
            TargetKind::Webhook => "webhook",
            TargetKind::Command => "command",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RouteMode {
    #[default]
    Failover,
    Fanout,
}

/// The pipeline under test. Which keys apply depends on `kind`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub kind: TargetKind,
    /// builtin: failover (first route that accepts) or fanout (all routes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<RouteMode>,
    /// builtin: ordered routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// alertmanager / webhook: where alerts are posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// webhook: HTTP method (default POST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// webhook: request headers (templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// webhook: request body, a template rendered per alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// command: argv, each element a template.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
    /// Deadline for handing one alert to the target (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
    /// A process the harness starts in setup and stops after the drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Start>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub channel: String,
    pub timeout: Dur,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Start {
    pub command: Vec<String>,
    /// URL that answers 2xx once the process is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

/// One inject or restore step: a command or an HTTP request.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Action {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpAction {
    #[serde(default = "default_method")]
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Expected status: an exact code (`204`) or a class (`2xx`).
    #[serde(default = "default_expect")]
    pub expect: String,
}

fn default_method() -> String {
    "POST".to_string()
}

fn default_expect() -> String {
    "2xx".to_string()
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

/// A test alert, fired during the outage and judged against its RTO.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub severity: Severity,
    /// Offset from the outage start of the first firing.
    #[serde(default)]
    pub at: Dur,
    /// Fire again at this interval while the outage lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Dur>,
    /// Deadline from firing to arrival.
    pub rto: Dur,
    /// `any`, or the channels that must each receive it.
    #[serde(default)]
    pub expect: Expect,
}

impl Alert {
    pub fn title(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.name)
    }
}

/// Which channels must receive an alert.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Expect {
    /// At least one channel, of either role.
    #[default]
    Any,
    /// Each of these channels.
    All(Vec<String>),
}

impl Serialize for Expect {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Expect::Any => s.serialize_str("any"),
            Expect::All(names) => names.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ExpectVisitor;

        impl<'de> Visitor<'de> for ExpectVisitor {
            type Value = Expect;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`any` or a list of channel names")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Expect, E> {
                if v == "any" {
                    Ok(Expect::Any)
                } else {
                    // A lone channel name is read as a one-element list.
                    Ok(Expect::All(vec![v.to_string()]))
                }
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Expect, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                Ok(Expect::All(names))
            }
        }

        d.deserialize_any(ExpectVisitor)
    }
}

impl JsonSchema for Expect {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Expect".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`any`, or a list of channel names that must each receive the alert",
            "oneOf": [
                {"const": "any"},
                {"type": "array", "items": {"type": "string"}}
            ]
        })
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    #[serde(default = "yes")]
    pub baseline: bool,
    #[serde(default = "yes")]
    pub recovery: bool,
    #[serde(default = "two_minutes")]
    pub rto: Dur,
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            baseline: true,
            recovery: true,
            rto: two_minutes(),
        }
    }
}

fn yes() -> bool {
    true
}

fn two_minutes() -> Dur {
    Dur::from_secs(120)
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PassCriteria {
    #[serde(default)]
    pub max_dropped: u32,
    #[serde(default)]
    pub max_late: u32,
    #[serde(default)]
    pub max_not_fired: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExerciseType {
    #[default]
    Functional,
    Tabletop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Monthly,
    Quarterly,
    Annual,
}

impl Frequency {
    pub fn months(self) -> u32 {
        match self {
            Frequency::Monthly => 1,
            Frequency::Quarterly => 3,
            Frequency::Annual => 12,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    #[serde(default, rename = "type")]
    pub kind: ExerciseType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<Frequency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facilitator: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<Participant>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Participant {
    pub name: String,
    #[serde(default)]
    pub role: String,
}
