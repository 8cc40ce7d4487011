//! What the audit finds: one [`Finding`] per alert path that sends mail
//! through Exchange Online, and the [`Report`] that gathers them.
//!
//! The format parsers fill findings; [`judge`] turns the fallback routes a
//! parser found into the register's yes/no/partial verdict, so every format
//! is judged by the same rule. Nothing here reads files or prints.

use std::fmt;
use std::path::PathBuf;

use super::channel::{Channel, Independence};

/// The kind of file a finding came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// Azure Logic Apps / Microsoft Sentinel playbook (ARM template or bare definition).
    LogicApp,
    /// Shuffle workflow export.
    Shuffle,
    /// n8n workflow export.
    N8n,
    /// Prometheus Alertmanager configuration.
    Alertmanager,
    /// A text match in a file no parser understood.
    Unparsed,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::LogicApp => "logic-app",
            Format::Shuffle => "shuffle",
            Format::N8n => "n8n",
            Format::Alertmanager => "alertmanager",
            Format::Unparsed => "unparsed match",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// How the mail leaves: over SMTP or over the Graph/Outlook REST API. The
/// emitted scenario faults an smtp channel always and a graph channel when
/// some finding uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Smtp,
    Graph,
}

/// The register's "has fallback" column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// A channel outside Microsoft 365 is reached when the send fails or
    /// times out.
    Yes,
    /// Something is reached, but not in every failure mode, or only through
    /// a channel that shares fate with Exchange Online, or through an
    /// endpoint the audit cannot identify.
    Partial,
    /// Nothing else is notified when the send fails.
    No,
    /// Unparsed matches: the audit cannot tell.
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Yes => "yes",
            Verdict::Partial => "partial",
            Verdict::No => "no",
            Verdict::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Which failures of the send a fallback route runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coverage {
    /// Every failure: both `Failed` and `TimedOut`, an error output, a
    /// failure branch, or a notifier that runs whatever the send does.
    Full,
    /// Only when the send reports `Failed` (a timeout is not handled).
    FailedOnly,
    /// Only when the send reports `TimedOut`.
    TimedOutOnly,
}

/// One way an alert can still reach someone when the send fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FallbackRoute {
    pub channel: Channel,
    /// The action or node that notifies.
    pub action: String,
    pub coverage: Coverage,
}

impl FallbackRoute {
    /// `slack via Post_to_SOC` plus what limits it, for the register.
    pub fn describe(&self) -> String {
        let mut text = format!("{} via {}", self.channel, self.action);
        match self.coverage {
            Coverage::Full => {}
            Coverage::FailedOnly => text.push_str(" (on Failed only)"),
            Coverage::TimedOutOnly => text.push_str(" (on TimedOut only)"),
        }
        text
    }
}

/// Why a fallback is only partial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gap {
    /// It runs when the send fails, not when it times out.
    NotOnTimedOut,
    /// It runs when the send times out, not when it fails.
    NotOnFailed,
    /// Its channel is part of Microsoft 365 (Teams).
    SharesFate,
    /// Its endpoint could not be identified.
    Unverified,
}

impl Gap {
    pub fn describe(self) -> &'static str {
        match self {
            Gap::NotOnTimedOut => "the fallback runs on Failed but not on TimedOut",
            Gap::NotOnFailed => "the fallback runs on TimedOut but not on Failed",
            Gap::SharesFate => {
                "the fallback channel is part of Microsoft 365 and may fail with Exchange Online"
            }
            Gap::Unverified => "the fallback goes to an endpoint the audit cannot identify",
        }
    }
}

/// The verdict for a set of fallback routes, and the gap when it is partial.
pub fn judge(routes: &[FallbackRoute]) -> (Verdict, Option<Gap>) {
    let independent: Vec<&FallbackRoute> = routes
        .iter()
        .filter(|r| r.channel.independence() == Independence::Independent)
        .collect();
    if independent.iter().any(|r| r.coverage == Coverage::Full) {
        return (Verdict::Yes, None);
    }
    if routes.is_empty() {
        return (Verdict::No, None);
    }
    let gap = if !independent.is_empty() {
        if independent
            .iter()
            .all(|r| r.coverage == Coverage::TimedOutOnly)
        {
            Gap::NotOnFailed
        } else {
            Gap::NotOnTimedOut
        }
    } else if routes
        .iter()
        .any(|r| r.channel.independence() == Independence::SharesFate)
    {
        Gap::SharesFate
    } else {
        Gap::Unverified
    };
    (Verdict::Partial, Some(gap))
}

/// The register's recommendation for one finding.
pub fn recommend(format: Format, verdict: Verdict, gap: Option<Gap>, action: &str) -> String {
    let outside = "outside Microsoft 365 (Slack, PagerDuty, ntfy, SMS)";
    match (verdict, gap) {
        (Verdict::Yes, _) => {
            "keep it, and prove it: run the emitted drill scenario against this workflow".into()
        }
        (Verdict::Partial, Some(Gap::NotOnTimedOut | Gap::NotOnFailed)) => format!(
            "make the fallback run on both Failed and TimedOut of `{action}` \
             (runAfter: [\"Failed\", \"TimedOut\"])"
        ),
        (Verdict::Partial, Some(Gap::SharesFate)) => {
            format!("Teams goes down with Exchange Online: add a fallback {outside} for `{action}`")
        }
        (Verdict::Partial, _) => format!(
            "confirm that the fallback of `{action}` reaches a responder {outside}, \
             then drill it"
        ),
        (Verdict::Unknown, _) => "review by hand: if this file sends alerts by mail, give it \
             a fallback, or export it in a format the audit parses"
            .into(),
        (Verdict::No, _) => match format {
            Format::LogicApp => format!(
                "add an action that runs after `{action}` (or its enclosing scope) on Failed \
                 and TimedOut and notifies {outside}"
            ),
            Format::Shuffle => format!(
                "add a branch from `{action}` with a failure condition (e.g. \
                 `$<label>.success` equals `false`) to a notifier {outside}"
            ),
            Format::N8n => format!(
                "set On Error of `{action}` to \"Continue (using error output)\" and wire the \
                 error output to a notifier {outside}"
            ),
            Format::Alertmanager => format!(
                "add a non-email integration to receiver `{action}` (slack_configs, \
                 pagerduty_configs, webhook_configs)"
            ),
            Format::Unparsed => "review by hand".into(),
        },
    }
}

/// Criticality from the user's mapping file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Criticality {
    Critical,
    High,
    Medium,
    Low,
    Unrated,
}

impl Criticality {
    pub const RATED: [Criticality; 4] = [
        Criticality::Critical,
        Criticality::High,
        Criticality::Medium,
        Criticality::Low,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Criticality::Critical => "critical",
            Criticality::High => "high",
            Criticality::Medium => "medium",
            Criticality::Low => "low",
            Criticality::Unrated => "unrated",
        }
    }
}

impl fmt::Display for Criticality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Where in its file a finding is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// RFC 6901 JSON pointer into a JSON document (or the YAML read as one).
    Pointer(String),
    /// A JSON pointer with the line where that node starts (YAML).
    PointerAt { pointer: String, line: u64 },
    /// 1-based line numbers of a text match.
    Lines(Vec<u64>),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Pointer(p) => write!(f, "#{p}"),
            Location::PointerAt { pointer, line } => write!(f, "line {line} #{pointer}"),
            Location::Lines(lines) => {
                let shown: Vec<String> = lines.iter().take(8).map(u64::to_string).collect();
                let more = lines.len().saturating_sub(8);
                let word = if lines.len() == 1 { "line" } else { "lines" };
                write!(f, "{word} {}", shown.join(", "))?;
                if more > 0 {
                    write!(f, " (+{more} more)")?;
                }
                Ok(())
            }
        }
    }
}

/// One alert path that depends on Exchange Online mail flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub workflow: String,
    pub format: Format,
    pub file: PathBuf,
    pub location: Location,
    /// The action, node or receiver that sends the mail.
    pub action: String,
    /// How it sends, e.g. `Office 365 Outlook: Send an email (V2) (/v2/Mail)`.
    pub via: String,
    pub transport: Transport,
    /// What the mail is about: its subject, or an excerpt of its body.
    pub notifies: String,
    /// What starts the workflow (or, for Alertmanager, the routes that reach
    /// the receiver).
    pub trigger: String,
    pub verdict: Verdict,
    pub fallback: Vec<FallbackRoute>,
    /// Why the verdict is `partial`.
    pub gap: Option<Gap>,
    pub criticality: Criticality,
    pub recommendation: String,
}

impl Finding {
    /// The fallback column: each route, `; `-separated.
    pub fn fallback_channels(&self) -> String {
        let routes: Vec<String> = self.fallback.iter().map(FallbackRoute::describe).collect();
        routes.join("; ")
    }

    /// Whether this finding fails the gate (exit 1). See [`Report::failing`].
    pub fn lacks_fallback(&self, strict: bool) -> bool {
        match self.verdict {
            Verdict::No => true,
            Verdict::Partial | Verdict::Unknown => strict,
            Verdict::Yes => false,
        }
    }
}

/// What a parser knows about one send, before the fallback verdict.
#[derive(Clone, Debug)]
pub struct Send {
    pub workflow: String,
    pub format: Format,
    pub file: PathBuf,
    pub location: Location,
    pub action: String,
    pub via: String,
    pub transport: Transport,
    pub notifies: String,
    pub trigger: String,
}

impl Send {
    /// The finding, judged on the fallback routes found for it (duplicates
    /// dropped, best coverage first).
    pub fn judge(self, mut routes: Vec<FallbackRoute>) -> Finding {
        routes.sort_by_key(|r| {
            let rank = match r.coverage {
                Coverage::Full => 0,
                Coverage::FailedOnly => 1,
                Coverage::TimedOutOnly => 2,
            };
            (r.channel.independence() != Independence::Independent, rank)
        });
        let mut seen = Vec::new();
        routes.retain(|r| {
            let key = (r.channel.clone(), r.action.clone());
            let fresh = !seen.contains(&key);
            seen.push(key);
            fresh
        });
        let (verdict, gap) = judge(&routes);
        let recommendation = recommend(self.format, verdict, gap, &self.action);
        Finding {
            workflow: self.workflow,
            format: self.format,
            file: self.file,
            location: self.location,
            action: self.action,
            via: self.via,
            transport: self.transport,
            notifies: self.notifies,
            trigger: self.trigger,
            verdict,
            fallback: routes,
            gap,
            criticality: Criticality::Unrated,
            recommendation,
        }
    }
}

/// A file the audit could not read or parse. It did not stop the scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
    pub hint: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}\n  hint: {}", self.message, self.hint)
    }
}

/// Everything one audit run found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Confirmed paths first (by file and location), then unparsed matches.
    pub findings: Vec<Finding>,
    pub problems: Vec<Problem>,
    /// Facts worth knowing that are not findings (e.g. an unrouted receiver).
    pub notes: Vec<String>,
    pub files_scanned: usize,
    /// Files a parser recognised (whether or not they send mail).
    pub files_recognised: usize,
    /// Whether a criticality mapping was applied.
    pub rated: bool,
}

impl Report {
    /// Email-dependent paths the parsers confirmed.
    pub fn confirmed(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.format != Format::Unparsed)
    }

    /// Text matches in files no parser understood.
    pub fn unparsed(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.format == Format::Unparsed)
    }

    /// The findings that fail the gate: with a mapping, critical paths
    /// without a fallback; without one, every path without a fallback.
    /// `strict` also counts partial fallbacks (in the same scope), every
    /// unparsed match (it has no criticality to scope it), and, in
    /// [`Report::gate_fails`], files that could not be parsed.
    pub fn failing(&self, strict: bool) -> Vec<&Finding> {
        self.findings
            .iter()
            .filter(|f| match f.format {
                Format::Unparsed => strict,
                _ => {
                    let in_scope = !self.rated || f.criticality == Criticality::Critical;
                    in_scope && f.lacks_fallback(strict)
                }
            })
            .collect()
    }

    /// Whether the audit should exit 1.
    pub fn gate_fails(&self, strict: bool) -> bool {
        !self.failing(strict).is_empty() || (strict && !self.problems.is_empty())
    }

    /// The one-line summary printed after every audit.
    pub fn summary(&self) -> String {
        let confirmed: Vec<&Finding> = self.confirmed().collect();
        let mut workflows: Vec<&str> = confirmed.iter().map(|f| f.workflow.as_str()).collect();
        workflows.sort_unstable();
        workflows.dedup();
        let without = confirmed
            .iter()
            .filter(|f| f.verdict == Verdict::No)
            .count();
        let partial = confirmed
            .iter()
            .filter(|f| f.verdict == Verdict::Partial)
            .count();
        let mut text = format!(
            "{} email-dependent {} in {} {}: {} without fallback, {} partial",
            confirmed.len(),
            plural(confirmed.len(), "path", "paths"),
            workflows.len(),
            plural(workflows.len(), "workflow", "workflows"),
            without,
            partial
        );
        let unparsed = self.unparsed().count();
        if unparsed > 0 {
            text.push_str(&format!(
                "; {unparsed} unparsed {} to review",
                plural(unparsed, "match", "matches")
            ));
        }
        if !self.problems.is_empty() {
            text.push_str(&format!(
                "; {} {} could not be parsed",
                self.problems.len(),
                plural(self.problems.len(), "file", "files")
            ));
        }
        text.push_str(&format!(
            " ({} {} scanned)",
            self.files_scanned,
            plural(self.files_scanned, "file", "files")
        ));
        text
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::channel::Channel;

    fn route(channel: Channel, coverage: Coverage) -> FallbackRoute {
        FallbackRoute {
            channel,
            action: "X".into(),
            coverage,
        }
    }

    #[test]
    fn an_independent_channel_on_every_failure_is_a_fallback() {
        let (v, why) = judge(&[route(Channel::slack(), Coverage::Full)]);
        assert_eq!(v, Verdict::Yes);
        assert!(why.is_none());
    }

    #[test]
    fn failed_only_teams_or_unknown_endpoints_are_partial() {
        let (v, gap) = judge(&[route(Channel::slack(), Coverage::FailedOnly)]);
        assert_eq!((v, gap), (Verdict::Partial, Some(Gap::NotOnTimedOut)));

        let routes = [
            route(Channel::teams(), Coverage::Full),
            route(Channel::slack(), Coverage::TimedOutOnly),
        ];
        assert_eq!(judge(&routes), (Verdict::Partial, Some(Gap::NotOnFailed)));

        let (v, gap) = judge(&[route(Channel::teams(), Coverage::Full)]);
        assert_eq!((v, gap), (Verdict::Partial, Some(Gap::SharesFate)));

        let (v, gap) = judge(&[route(Channel::webhook("example.org"), Coverage::Full)]);
        assert_eq!((v, gap), (Verdict::Partial, Some(Gap::Unverified)));
        assert_eq!(judge(&[]).0, Verdict::No);
    }

    #[test]
    fn match_lines_are_listed_compactly() {
        let loc = Location::Lines((1..=10).collect());
        assert_eq!(loc.to_string(), "lines 1, 2, 3, 4, 5, 6, 7, 8 (+2 more)");
        assert_eq!(Location::Lines(vec![4]).to_string(), "line 4");
    }
}
