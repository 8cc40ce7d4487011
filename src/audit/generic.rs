//! The safety net: in files no parser understood, a case-insensitive text
//! match for the words people grep for by hand (`exchange`, `smtp`,
//! `office365`, `send.?email`, Graph `sendMail`).
//!
//! Each file with a match becomes one finding labelled "unparsed match",
//! with every matching line, so nothing is silently missed. The audit
//! cannot judge a fallback here: the verdict is `unknown`.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::model::{Criticality, Finding, Format, Location, Transport, Verdict, recommend};
use super::text::{excerpt, name_or_stem};

/// The briefing's hand-search pattern, plus Graph `sendMail`.
static MAIL_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)exchange|smtp|office365|send.?email|sendmail").expect("static regex")
});

/// Whether `text` mentions mail at all (cheap pre-check for the scanner).
pub fn mentions_mail(text: &str) -> bool {
    MAIL_WORDS.is_match(text)
}

/// One finding listing every matching line of `text`, or `None`.
pub fn finding(file: &Path, text: &str) -> Option<Finding> {
    let mut lines = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut first = None;
    for (n, line) in text.lines().enumerate() {
        let mut hit = false;
        for m in MAIL_WORDS.find_iter(line) {
            hit = true;
            let word = m.as_str().to_ascii_lowercase();
            if !words.contains(&word) {
                words.push(word);
            }
        }
        if hit {
            lines.push(n as u64 + 1);
            first.get_or_insert(line);
        }
    }
    let first = first?;
    let workflow = name_or_stem(None, file);
    Some(Finding {
        workflow,
        format: Format::Unparsed,
        file: file.to_path_buf(),
        location: Location::Lines(lines),
        action: format!("text match: {}", words.join(", ")),
        via: "unknown (the file's format is not parsed)".into(),
        transport: Transport::Smtp,
        notifies: excerpt(first, 100),
        trigger: "unknown".into(),
        verdict: Verdict::Unknown,
        fallback: Vec::new(),
        gap: None,
        criticality: Criticality::Unrated,
        recommendation: recommend(Format::Unparsed, Verdict::Unknown, None, ""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_matching_line_is_listed_once() {
        let text =
            "# runbook\nrelay: smtp.office365.com\nnothing\nSend-Email -To soc\nsmtp again\n";
        let f = finding(Path::new("runbook.md"), text).unwrap();
        assert_eq!(f.location, Location::Lines(vec![2, 4, 5]));
        assert_eq!(f.action, "text match: smtp, office365, send-email");
        assert_eq!(f.verdict, Verdict::Unknown);
        assert!(finding(Path::new("x"), "no mail here").is_none());
    }
}
