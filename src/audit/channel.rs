//! What the audit knows about mail providers and notification channels:
//! which hosts, URLs and connectors are Exchange Online, which are another
//! mail provider, and which notify someone another way.
//!
//! Every format parser asks these tables, so "is this Exchange?" has one
//! answer. The tables are plain data: add a row, not a rule.

use std::fmt;

use regex::Regex;
use std::sync::LazyLock;

/// A way of reaching a responder that is not Exchange Online mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChannelKind {
    Slack,
    Teams,
    PagerDuty,
    Opsgenie,
    Ntfy,
    Telegram,
    Sms,
    Discord,
    /// Other chat or push services (Mattermost, Webex, Pushover, SIGNL4...).
    Chat,
    /// Mail through a provider other than Exchange Online (SendGrid, SES, Gmail...).
    OtherMail,
    /// An HTTP endpoint the audit cannot identify.
    Webhook,
    /// Something named but not found (an n8n error workflow in another file).
    Unresolved,
}

/// Whether a channel keeps working while Exchange Online is down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Independence {
    /// Outside Microsoft 365.
    Independent,
    /// Part of Microsoft 365 (Teams): may fail together with Exchange Online.
    SharesFate,
    /// Unknown endpoint: may or may not reach a responder.
    Unverified,
}

/// A notification channel, with what identifies it (a host, a provider).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Channel {
    pub kind: ChannelKind,
    pub detail: Option<String>,
}

impl Channel {
    pub fn new(kind: ChannelKind) -> Channel {
        Channel { kind, detail: None }
    }

    pub fn slack() -> Channel {
        Channel::new(ChannelKind::Slack)
    }

    pub fn teams() -> Channel {
        Channel::new(ChannelKind::Teams)
    }

    pub fn webhook(host: &str) -> Channel {
        Channel {
            kind: ChannelKind::Webhook,
            detail: Some(host.to_string()),
        }
    }

    pub fn other_mail(provider: &str) -> Channel {
        Channel {
            kind: ChannelKind::OtherMail,
            detail: Some(provider.to_string()),
        }
    }

    pub fn chat(service: &str) -> Channel {
        Channel {
            kind: ChannelKind::Chat,
            detail: Some(service.to_string()),
        }
    }

    pub fn independence(&self) -> Independence {
        match self.kind {
            ChannelKind::Teams => Independence::SharesFate,
            ChannelKind::Webhook | ChannelKind::Unresolved => Independence::Unverified,
            _ => Independence::Independent,
        }
    }

    /// Whether the audit recognised the service (anything but a bare webhook).
    pub fn is_identified(&self) -> bool {
        !matches!(self.kind, ChannelKind::Webhook | ChannelKind::Unresolved)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.kind {
            ChannelKind::Slack => "slack",
            ChannelKind::Teams => "teams",
            ChannelKind::PagerDuty => "pagerduty",
            ChannelKind::Opsgenie => "opsgenie",
            ChannelKind::Ntfy => "ntfy",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Sms => "sms",
            ChannelKind::Discord => "discord",
            ChannelKind::Chat => "chat",
            ChannelKind::OtherMail => "email",
            ChannelKind::Webhook => "webhook",
            ChannelKind::Unresolved => "unresolved",
        };
        match (&self.detail, self.kind) {
            (Some(d), ChannelKind::OtherMail) => write!(f, "email via {d}"),
            (Some(d), ChannelKind::Chat | ChannelKind::Unresolved) => f.write_str(d),
            (Some(d), _) => write!(f, "{name} ({d})"),
            (None, _) => f.write_str(name),
        }
    }
}

/// Where an SMTP server sends mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpHost {
    /// Exchange Online itself.
    ExchangeOnline,
    /// A known provider that is not Exchange Online.
    Provider(&'static str),
    /// Any other relay: it may hand mail to Exchange Online.
    Unknown,
}

const MAIL_PROVIDERS: &[(&str, &str)] = &[
    ("smtp.gmail.com", "Gmail"),
    ("smtp.googlemail.com", "Gmail"),
    ("smtp-relay.gmail.com", "Google Workspace"),
    ("aspmx.l.google.com", "Google Workspace"),
    ("smtp.sendgrid.net", "SendGrid"),
    ("smtp.mailgun.org", "Mailgun"),
    ("smtp.eu.mailgun.org", "Mailgun"),
    ("smtp.postmarkapp.com", "Postmark"),
    ("smtp.sparkpostmail.com", "SparkPost"),
    ("in-v3.mailjet.com", "Mailjet"),
    ("smtp.mandrillapp.com", "Mandrill"),
    ("smtp-relay.brevo.com", "Brevo"),
    ("smtp-relay.sendinblue.com", "Brevo"),
    ("smtp.zoho.com", "Zoho Mail"),
    ("smtp.zoho.eu", "Zoho Mail"),
    ("smtp.fastmail.com", "Fastmail"),
];

/// Classifies an SMTP server name (a `host` or `host:port`).
pub fn smtp_host(server: &str) -> SmtpHost {
    let host = strip_port(server.trim()).to_ascii_lowercase();
    let exchange = host == "smtp.office365.com"
        || host == "smtp.office365.us"
        || host == "outlook.office365.com"
        || host == "smtp-mail.outlook.com"
        || host.ends_with(".mail.protection.outlook.com")
        || host.ends_with(".mail.protection.office365.us");
    if exchange {
        return SmtpHost::ExchangeOnline;
    }
    if host.starts_with("email-smtp.") && host.ends_with(".amazonaws.com") {
        return SmtpHost::Provider("Amazon SES");
    }
    match MAIL_PROVIDERS.iter().find(|(h, _)| *h == host) {
        Some((_, name)) => SmtpHost::Provider(name),
        None => SmtpHost::Unknown,
    }
}

fn strip_port(server: &str) -> &str {
    if server.starts_with('[') {
        return server;
    }
    match server.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => server,
    }
}

/// What an HTTP request does, as far as this audit cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpUse {
    /// Sends mail through Exchange Online (Graph or Outlook REST).
    ExchangeSend(&'static str),
    /// Notifies through another channel.
    Notify(Channel),
    /// Anything else (reads mail, calls an API...).
    Other,
}

static GRAPH_MESSAGE_SEND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"/messages/[^?#]+/(send|reply|replyall|forward)(\?|#|$)").expect("static regex")
});

/// Host-based table of notification services: (host suffix, channel).
const NOTIFY_HOSTS: &[(&str, ChannelKind, Option<&str>)] = &[
    ("hooks.slack.com", ChannelKind::Slack, None),
    ("slack.com", ChannelKind::Slack, None),
    ("webhook.office.com", ChannelKind::Teams, None),
    ("events.pagerduty.com", ChannelKind::PagerDuty, None),
    ("events.eu.pagerduty.com", ChannelKind::PagerDuty, None),
    ("api.opsgenie.com", ChannelKind::Opsgenie, None),
    ("api.eu.opsgenie.com", ChannelKind::Opsgenie, None),
    ("ntfy.sh", ChannelKind::Ntfy, None),
    ("api.telegram.org", ChannelKind::Telegram, None),
    ("api.twilio.com", ChannelKind::Sms, None),
    ("rest.nexmo.com", ChannelKind::Sms, None),
    ("discord.com", ChannelKind::Discord, None),
    ("discordapp.com", ChannelKind::Discord, None),
    ("api.pushover.net", ChannelKind::Chat, Some("Pushover")),
    ("connect.signl4.com", ChannelKind::Chat, Some("SIGNL4")),
    ("webexapis.com", ChannelKind::Chat, Some("Webex")),
    ("api.sendgrid.com", ChannelKind::OtherMail, Some("SendGrid")),
    ("api.mailgun.net", ChannelKind::OtherMail, Some("Mailgun")),
    (
        "api.eu.mailgun.net",
        ChannelKind::OtherMail,
        Some("Mailgun"),
    ),
    (
        "api.postmarkapp.com",
        ChannelKind::OtherMail,
        Some("Postmark"),
    ),
    ("api.mailjet.com", ChannelKind::OtherMail, Some("Mailjet")),
    (
        "gmail.googleapis.com",
        ChannelKind::OtherMail,
        Some("Gmail"),
    ),
];

/// Hosts that are Microsoft management or data APIs, never a notification.
fn is_microsoft_api(host: &str) -> bool {
    host.ends_with(".azure.com")
        || host.ends_with(".windows.net")
        || host.ends_with(".microsoftonline.com")
        || host.ends_with(".microsoft.com")
        || host.ends_with(".azure.net")
}

/// Classifies an HTTP call by its URL and method.
pub fn http_use(url: &str, method: &str) -> HttpUse {
    let lower = url.trim().to_ascii_lowercase();
    let method = method.trim().to_ascii_uppercase();
    let writes = !matches!(method.as_str(), "GET" | "HEAD" | "DELETE" | "OPTIONS");
    let host = host_of(&lower);
    let path = path_of(&lower);

    let graph = match &host {
        Some(h) => {
            h == "graph.microsoft.com"
                || h == "graph.microsoft.us"
                || h == "dod-graph.microsoft.us"
                || h == "microsoftgraph.chinacloudapi.cn"
        }
        None => lower.contains("graph.microsoft"),
    };
    let outlook_rest = matches!(
        host.as_deref(),
        Some("outlook.office.com" | "outlook.office365.com")
    ) && lower.contains("/api/");
    if graph || outlook_rest {
        if method == "POST" && path.contains("/sendmail") {
            return HttpUse::ExchangeSend("Microsoft Graph sendMail");
        }
        if method == "POST" && GRAPH_MESSAGE_SEND.is_match(&path) {
            return HttpUse::ExchangeSend("Microsoft Graph message send/reply/forward");
        }
        if writes && (path.contains("/teams/") || path.contains("/chats/")) {
            return HttpUse::Notify(Channel::teams());
        }
        return HttpUse::Other;
    }
    if !writes {
        return HttpUse::Other;
    }

    match host {
        Some(h) => {
            if h.contains("ntfy") {
                return HttpUse::Notify(Channel::new(ChannelKind::Ntfy));
            }
            if (h.starts_with("email.") || h.starts_with("sesv2.")) && h.ends_with(".amazonaws.com")
            {
                return HttpUse::Notify(Channel::other_mail("Amazon SES"));
            }
            if (h == "outlook.office.com" || h == "outlook.office365.com")
                && path.starts_with("/webhook")
            {
                return HttpUse::Notify(Channel::teams());
            }
            for (suffix, kind, detail) in NOTIFY_HOSTS {
                if h == *suffix || h.ends_with(&format!(".{suffix}")) {
                    let channel = Channel {
                        kind: *kind,
                        detail: detail.map(str::to_string),
                    };
                    return HttpUse::Notify(channel);
                }
            }
            if is_microsoft_api(&h) {
                return HttpUse::Other;
            }
            HttpUse::Notify(Channel::webhook(&h))
        }
        // An expression such as @parameters('SlackWebhookUrl'): guess from its words.
        None => match keyword_channel(&lower) {
            Some(channel) => HttpUse::Notify(channel),
            None => HttpUse::Notify(Channel::webhook("URL set by an expression")),
        },
    }
}

/// A channel named in free text (a parameter name, an app name).
pub fn keyword_channel(lower: &str) -> Option<Channel> {
    let table: &[(&str, Channel)] = &[
        ("slack", Channel::slack()),
        ("teams", Channel::teams()),
        ("pagerduty", Channel::new(ChannelKind::PagerDuty)),
        ("opsgenie", Channel::new(ChannelKind::Opsgenie)),
        ("ntfy", Channel::new(ChannelKind::Ntfy)),
        ("telegram", Channel::new(ChannelKind::Telegram)),
        ("twilio", Channel::new(ChannelKind::Sms)),
        ("discord", Channel::new(ChannelKind::Discord)),
    ];
    table
        .iter()
        .find(|(word, _)| lower.contains(word))
        .map(|(_, c)| c.clone())
}

/// The host of an `http(s)://` URL, lowercased, without user or port.
pub fn host_of(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = strip_port(host);
    if host.is_empty() || host.contains(['{', '(', '@', ' ']) {
        return None;
    }
    Some(host.to_string())
}

fn path_of(lower_url: &str) -> String {
    let rest = lower_url
        .strip_prefix("https://")
        .or_else(|| lower_url.strip_prefix("http://"))
        .unwrap_or(lower_url);
    match rest.find('/') {
        Some(i) => rest[i..].to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_sends_are_exchange_and_graph_reads_are_not() {
        let send = "https://graph.microsoft.com/v1.0/users/soc@contoso.com/sendMail";
        assert!(matches!(http_use(send, "POST"), HttpUse::ExchangeSend(_)));
        let read = "https://graph.microsoft.com/v1.0/users/soc@contoso.com/messages?$top=5";
        assert_eq!(http_use(read, "GET"), HttpUse::Other);
        let reply = "https://graph.microsoft.com/v1.0/me/messages/AAMk=/reply";
        assert!(matches!(http_use(reply, "POST"), HttpUse::ExchangeSend(_)));
        let expr =
            "@{concat('https://graph.microsoft.com/v1.0/users/', variables('m'), '/sendMail')}";
        assert!(matches!(http_use(expr, "POST"), HttpUse::ExchangeSend(_)));
    }

    #[test]
    fn notification_services_are_recognised_by_host() {
        let slack = "https://hooks.slack.com/services/T0/B0/XYZ";
        assert_eq!(http_use(slack, "POST"), HttpUse::Notify(Channel::slack()));
        let teams = "https://contoso.webhook.office.com/webhookb2/abc";
        assert_eq!(http_use(teams, "POST"), HttpUse::Notify(Channel::teams()));
        let ses = "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails";
        assert_eq!(
            http_use(ses, "POST"),
            HttpUse::Notify(Channel::other_mail("Amazon SES"))
        );
        let mgmt = "https://management.azure.com/subscriptions/x/providers/y?api-version=1";
        assert_eq!(http_use(mgmt, "POST"), HttpUse::Other);
        let other = "https://alerts.example.org/hook";
        assert_eq!(
            http_use(other, "POST"),
            HttpUse::Notify(Channel::webhook("alerts.example.org"))
        );
        assert_eq!(http_use(other, "GET"), HttpUse::Other);
    }

    #[test]
    fn smtp_hosts_are_sorted_into_exchange_providers_and_unknown() {
        assert_eq!(
            smtp_host("smtp.office365.com:587"),
            SmtpHost::ExchangeOnline
        );
        assert_eq!(
            smtp_host("contoso-com.mail.protection.outlook.com:25"),
            SmtpHost::ExchangeOnline
        );
        assert_eq!(
            smtp_host("smtp.sendgrid.net:587"),
            SmtpHost::Provider("SendGrid")
        );
        assert_eq!(
            smtp_host("email-smtp.us-east-1.amazonaws.com:587"),
            SmtpHost::Provider("Amazon SES")
        );
        assert_eq!(smtp_host("relay.corp.local:25"), SmtpHost::Unknown);
    }
}
