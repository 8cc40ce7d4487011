//! Checks serde cannot make: cross-references, ranges, loopback addresses.
//!
//! Each error names the key path (`alerts[1].expect[0]`) and says how to fix
//! it. Validation never touches the network or the clock.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::Path;

use super::load::{LoadOptions, ScenarioError};
use super::model::{Action, ChannelKind, FailMode, Fault, Scenario, TargetKind};

type Result<T> = std::result::Result<T, ScenarioError>;

/// Validates `s` and returns each channel's parsed `listen` address.
pub fn validate(
    file: &Path,
    s: &Scenario,
    options: LoadOptions,
) -> Result<BTreeMap<String, SocketAddr>> {
    let err = |key: &str, msg: String| ScenarioError::at_key(file, key, msg);

    if s.version != 1 {
        return Err(err("version", format!("unsupported version {}", s.version))
            .hint("this release reads scenario format version 1: write `version: 1`"));
    }
    slug(file, "name", &s.name)?;
    if s.live && !options.live {
        return Err(err(
            "live",
            "the scenario is live but --live was not given".into(),
        )
        .hint("live drills touch real systems: add --live to the command line to confirm"));
    }
    let live = s.live && options.live;

    // Channels.
    if s.channels.is_empty() {
        return Err(err("channels", "no channels".into()).hint(
            "list every place an alert may arrive, e.g. an smtp primary and a slack alternate",
        ));
    }
    let names: Vec<&str> = s.channels.iter().map(|c| c.name.as_str()).collect();
    let mut seen = HashSet::new();
    let mut listen = BTreeMap::new();
    let mut ports = HashSet::new();
    for (i, c) in s.channels.iter().enumerate() {
        let key = format!("channels[{i}]");
        slug(file, &format!("{key}.name"), &c.name)?;
        if !seen.insert(c.name.as_str()) {
            return Err(err(
                &format!("{key}.name"),
                format!("duplicate channel `{}`", c.name),
            )
            .hint("channel names must be unique"));
        }
        let addr = socket_addr(file, &format!("{key}.listen"), &c.listen, live)?;
        if addr.port() != 0 && !ports.insert(addr) {
            return Err(err(
                &format!("{key}.listen"),
                format!("{addr} is used by another channel"),
            )
            .hint("give each channel its own port (or port 0 for any free port)"));
        }
        listen.insert(c.name.clone(), addr);
        for (j, other) in c.shares_fate_with.iter().enumerate() {
            reference(file, &format!("{key}.shares_fate_with[{j}]"), other, &names)?;
        }
    }

    // Outage.
    match (&s.outage.duration, s.outage.phases.is_empty()) {
        (Some(_), false) => {
            return Err(
                err("outage", "both `duration` and `phases` are given".into())
                    .hint("with phases the outage lasts their sum: remove `duration`"),
            );
        }
        (None, true) => {
            return Err(err(
                "outage.duration",
                "missing: how long does the outage last?".into(),
            )
            .hint("write e.g. `duration: 10m`, or give `phases`"));
        }
        (Some(d), true) if d.0.is_zero() => {
            return Err(err("outage.duration", "the outage lasts no time".into())
                .hint("give a positive duration such as `10m`"));
        }
        _ => {}
    }
    for (name, fault) in &s.outage.faults {
        check_fault(file, &format!("outage.faults.{name}"), name, fault, s)?;
    }
    for (i, phase) in s.outage.phases.iter().enumerate() {
        if phase.length.0.is_zero() {
            return Err(err(
                &format!("outage.phases[{i}].for"),
                "a phase lasts no time".into(),
            )
            .hint("give a positive duration such as `20m`"));
        }
        for (name, fault) in &phase.faults {
            check_fault(
                file,
                &format!("outage.phases[{i}].faults.{name}"),
                name,
                fault,
                s,
            )?;
        }
    }
    if !s.outage.faults.is_empty() && !s.outage.phases.is_empty() {
        return Err(err(
            "outage.faults",
            "faults are given both for the whole outage and per phase".into(),
        )
        .hint("with phases, put each fault in the phases where it is active"));
    }
    for (i, a) in s.outage.inject.iter().enumerate() {
        check_action(file, &format!("outage.inject[{i}]"), a, live)?;
    }
    for (i, a) in s.outage.restore.iter().enumerate() {
        check_action(file, &format!("outage.restore[{i}]"), a, live)?;
    }
    if !s.outage.inject.is_empty() && s.outage.restore.is_empty() {
        return Err(err(
            "outage.restore",
            "inject actions have no restore actions".into(),
        )
        .hint("every change a drill makes must be undone: add `restore` actions"));
    }

    check_target(file, s, &names, live)?;

    // Alerts.
    if s.alerts.is_empty() {
        return Err(err("alerts", "no alerts".into())
            .hint("add at least one alert with a name, severity and rto"));
    }
    let outage_len = outage_length(s);
    let mut alert_names = HashSet::new();
    for (i, a) in s.alerts.iter().enumerate() {
        let key = format!("alerts[{i}]");
        slug(file, &format!("{key}.name"), &a.name)?;
        if !alert_names.insert(a.name.as_str()) {
            return Err(err(
                &format!("{key}.name"),
                format!("duplicate alert `{}`", a.name),
            )
            .hint("alert names must be unique"));
        }
        if a.rto.0.is_zero() {
            return Err(err(&format!("{key}.rto"), "the RTO is zero".into())
                .hint("give the deadline from firing to arrival, e.g. `5m`"));
        }
        if a.at.0 >= outage_len {
            return Err(err(
                &format!("{key}.at"),
                format!(
                    "{} is not before the outage ends ({})",
                    a.at,
                    super::duration::Dur(outage_len)
                ),
            )
            .hint("an alert fires during the outage: make `at` smaller than the outage"));
        }
        if let Some(every) = a.every {
            if every.0.is_zero() {
                return Err(err(&format!("{key}.every"), "`every` is zero".into())
                    .hint("give an interval such as `15m`, or remove `every`"));
            }
        }
        if let super::model::Expect::All(list) = &a.expect {
            if list.is_empty() {
                return Err(err(&format!("{key}.expect"), "an empty list".into())
                    .hint("write `any`, or name the channels that must each receive it"));
            }
            for (j, name) in list.iter().enumerate() {
                reference(file, &format!("{key}.expect[{j}]"), name, &names)?;
            }
        }
    }
    if s.checks.rto.0.is_zero() {
        return Err(err("checks.rto", "the canary RTO is zero".into()).hint("e.g. `rto: 2m`"));
    }
    Ok(listen)
}

/// The outage's total length (saturating: phases longer than a `Duration`
/// holds are refused by the timeline, not by a panic here).
pub fn outage_length(s: &Scenario) -> std::time::Duration {
    match s.outage.duration {
        Some(d) => d.0,
        None => s
            .outage
            .phases
            .iter()
            .fold(std::time::Duration::ZERO, |sum, p| {
                sum.saturating_add(p.length.0)
            }),
    }
}

fn check_fault(file: &Path, key: &str, channel: &str, f: &Fault, s: &Scenario) -> Result<()> {
    let names: Vec<&str> = s.channels.iter().map(|c| c.name.as_str()).collect();
    reference(file, key, channel, &names)?;
    let kind = s
        .channels
        .iter()
        .find(|c| c.name == channel)
        .map(|c| c.kind)
        .unwrap_or(ChannelKind::Webhook);
    let err = |k: &str, msg: String| ScenarioError::at_key(file, format!("{key}{k}"), msg);
    if !f.fail.fits(kind) {
        let fitting: Vec<&str> = [
            FailMode::Defer,
            FailMode::Reject,
            FailMode::Throttle,
            FailMode::Unavailable,
            FailMode::Error,
            FailMode::Drop,
            FailMode::Hang,
            FailMode::Refuse,
            FailMode::Slow,
        ]
        .into_iter()
        .filter(|m| m.fits(kind))
        .map(FailMode::as_str)
        .collect();
        return Err(err(
            ".fail",
            format!("`{}` does not apply to a {kind} channel", f.fail),
        )
        .hint(format!("for {kind} use one of: {}", fitting.join(", "))));
    }
    if let Some(rate) = f.rate {
        if !(0.0..=1.0).contains(&rate) || rate.is_nan() {
            return Err(err(".rate", format!("{rate} is out of range"))
                .hint("rate is the share of attempts that fail, from 0.0 to 1.0"));
        }
    }
    if kind == ChannelKind::Smtp {
        if f.status.is_some() || f.retry_after.is_some() {
            return Err(err(
                "",
                "`status` and `retry_after` apply to http channels only".into(),
            )
            .hint("for smtp, set the reply line with `reply`"));
        }
        if let Some(reply) = &f.reply {
            let code = reply.get(..3).and_then(|c| c.parse::<u16>().ok());
            let class_ok = match (f.fail, code) {
                (FailMode::Defer, Some(c)) => (400..500).contains(&c),
                (FailMode::Reject, Some(c)) => (500..600).contains(&c),
                (_, Some(c)) => (200..600).contains(&c),
                (_, None) => false,
            };
            if !class_ok {
                return Err(
                    err(".reply", format!("`{reply}` is not a fitting SMTP reply")).hint(
                        "defer takes a 4xx line (`451 4.7.500 Server busy...`), reject a 5xx line",
                    ),
                );
            }
        }
    } else {
        if f.stage.is_some() || f.reply.is_some() {
            return Err(
                err("", "`stage` and `reply` apply to smtp channels only".into())
                    .hint("for http channels use `status` (with fail: error) or `retry_after`"),
            );
        }
        if let Some(status) = f.status {
            if !(400..=599).contains(&status) {
                return Err(err(".status", format!("{status} is not an error status"))
                    .hint("use a 4xx or 5xx status"));
            }
        }
    }
    if f.fail == FailMode::Slow && f.delay.is_none() {
        return Err(err(".delay", "`slow` needs a delay".into()).hint("e.g. `delay: 2s`"));
    }
    Ok(())
}

fn check_target(file: &Path, s: &Scenario, names: &[&str], live: bool) -> Result<()> {
    let t = &s.target;
    let err = |k: &str, msg: String| ScenarioError::at_key(file, format!("target{k}"), msg);
    let needs = |present: bool, k: &str, what: &str| -> Result<()> {
        if present {
            Ok(())
        } else {
            Err(err(
                &format!(".{k}"),
                format!("a {} target needs `{k}`", t.kind.as_str()),
            )
            .hint(what.to_string()))
        }
    };
    let unused = |present: bool, k: &str| -> Result<()> {
        if present {
            Err(err(
                &format!(".{k}"),
                format!("`{k}` does not apply to a {} target", t.kind.as_str()),
            )
            .hint("remove it, or change `kind`"))
        } else {
            Ok(())
        }
    };
    match t.kind {
        TargetKind::Builtin => {
            needs(
                !t.routes.is_empty(),
                "routes",
                "list `{channel, timeout}` routes in order",
            )?;
            unused(t.url.is_some(), "url")?;
            unused(!t.argv.is_empty(), "argv")?;
            for (i, r) in t.routes.iter().enumerate() {
                reference(
                    file,
                    &format!("target.routes[{i}].channel"),
                    &r.channel,
                    names,
                )?;
                if r.timeout.0.is_zero() {
                    return Err(err(
                        &format!(".routes[{i}].timeout"),
                        "the timeout is zero".into(),
                    )
                    .hint("give each route a deadline such as `10s`"));
                }
            }
        }
        TargetKind::Alertmanager | TargetKind::Webhook => {
            needs(t.url.is_some(), "url", "give the URL alerts are posted to")?;
            unused(!t.routes.is_empty(), "routes")?;
            unused(!t.argv.is_empty(), "argv")?;
            if let Some(url) = &t.url {
                url_allowed(file, "target.url", url, live)?;
            }
        }
        TargetKind::Command => {
            needs(
                !t.argv.is_empty(),
                "argv",
                "give the command as a list, e.g. [./notify.sh, '{{nonce}}']",
            )?;
            unused(!t.routes.is_empty(), "routes")?;
            unused(t.url.is_some(), "url")?;
        }
    }
    if t.kind != TargetKind::Builtin {
        unused(t.mode.is_some(), "mode")?;
    }
    if let Some(start) = &t.start {
        if start.command.is_empty() {
            return Err(err(".start.command", "empty command".into())
                .hint("give the program and its arguments as a list"));
        }
        if let Some(ready) = &start.ready {
            url_allowed(file, "target.start.ready", ready, live)?;
        }
    }
    Ok(())
}

fn check_action(file: &Path, key: &str, a: &Action, live: bool) -> Result<()> {
    match (&a.command, &a.http) {
        (Some(cmd), None) if !cmd.is_empty() => Ok(()),
        (None, Some(http)) => url_allowed(file, &format!("{key}.http.url"), &http.url, live),
        (Some(_), None) => {
            Err(
                ScenarioError::at_key(file, format!("{key}.command"), "empty command")
                    .hint("give the program and its arguments as a list"),
            )
        }
        _ => Err(ScenarioError::at_key(
            file,
            key,
            "an action needs exactly one of `command` or `http`",
        )
        .hint("e.g. `{command: [./disable-connector.sh], timeout: 30s}`")),
    }
}

fn slug(file: &Path, key: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(
            ScenarioError::at_key(file, key, format!("`{value}` is not a slug"))
                .hint("use lowercase letters, digits, `-` and `_`, e.g. `soc-slack`"),
        )
    }
}

fn reference(file: &Path, key: &str, name: &str, names: &[&str]) -> Result<()> {
    if names.contains(&name) {
        return Ok(());
    }
    let best = names
        .iter()
        .map(|n| (strsim::jaro_winkler(name, n), *n))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let hint = match best {
        Some((score, n)) if score > 0.7 => format!("did you mean `{n}`?"),
        _ => format!("channels are: {}", names.join(", ")),
    };
    Err(ScenarioError::at_key(file, key, format!("unknown channel `{name}`")).hint(hint))
}

fn socket_addr(file: &Path, key: &str, text: &str, live: bool) -> Result<SocketAddr> {
    let bad = || {
        ScenarioError::at_key(file, key, format!("`{text}` is not a host:port address"))
            .hint("write e.g. `127.0.0.1:2525` (port 0 picks a free port)")
    };
    let addr = match text.parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => {
            let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
            let port: u16 = port.parse().map_err(|_| bad())?;
            if host == "localhost" {
                SocketAddr::from(([127, 0, 0, 1], port))
            } else if live {
                (host, port)
                    .to_socket_addrs()
                    .map_err(|_| bad())?
                    .next()
                    .ok_or_else(bad)?
            } else {
                return Err(not_loopback(file, key, text));
            }
        }
    };
    if !live && !addr.ip().is_loopback() {
        return Err(not_loopback(file, key, text));
    }
    Ok(addr)
}

/// Refuses URLs whose host is not loopback, unless the drill is live.
pub fn url_allowed(file: &Path, key: &str, url: &str, live: bool) -> Result<()> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        ScenarioError::at_key(file, key, format!("`{url}` is not a URL ({e})"))
            .hint("write e.g. `http://127.0.0.1:9093`")
    })?;
    if live {
        return Ok(());
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    if loopback {
        Ok(())
    } else {
        Err(not_loopback(file, key, url))
    }
}

fn not_loopback(file: &Path, key: &str, what: &str) -> ScenarioError {
    ScenarioError::at_key(file, key, format!("`{what}` is not a loopback address")).hint(
        "drills stay on this machine unless the scenario says `live: true` and you pass --live",
    )
}
