//! Small text helpers shared by the parsers and renderers: JSON pointers,
//! excerpts of mail subjects and bodies, slugs, and case-insensitive key
//! lookups in JSON values.

use std::path::Path;

use serde_json::Value;

/// Appends one reference token to a JSON pointer (RFC 6901 escaping).
pub fn pointer(base: &str, token: &str) -> String {
    format!("{base}/{}", token.replace('~', "~0").replace('/', "~1"))
}

/// A one-line excerpt of `text`: HTML tags dropped, common entities decoded,
/// whitespace collapsed, cut to `max` characters.
pub fn excerpt(text: &str, max: usize) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                plain.push(' ');
            }
            _ if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let decoded = plain
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .replace("\\n", " ");
    let collapsed = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max {
        return collapsed;
    }
    let cut: String = collapsed.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// A scenario slug: lowercase letters, digits and `-`, at most 48 chars.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed: String = out.trim_matches('-').chars().take(48).collect();
    let trimmed = trimmed.trim_end_matches('-').to_string();
    if trimmed.is_empty() {
        "workflow".to_string()
    } else {
        trimmed
    }
}

/// The value of the first key (case-insensitive, ignoring a `xxx/` prefix as
/// the Logic Apps designer writes `emailMessage/Subject`) named one of
/// `names`, searching `value` breadth-first down to `depth` levels.
pub fn find_text<'a>(value: &'a Value, names: &[&str], depth: usize) -> Option<&'a str> {
    let mut level = vec![value];
    for _ in 0..=depth {
        let mut next = Vec::new();
        for v in level {
            let Value::Object(map) = v else { continue };
            for (k, child) in map {
                let key = k.rsplit('/').next().unwrap_or(k);
                if names.iter().any(|n| key.eq_ignore_ascii_case(n))
                    && let Some(s) = child.as_str().filter(|s| !s.trim().is_empty())
                {
                    return Some(s);
                }
                if child.is_object() {
                    next.push(child);
                }
            }
        }
        level = next;
    }
    None
}

/// The workflows of an export that holds one workflow or a list of them,
/// each with its JSON pointer prefix (`""` or `/N`); `None` unless every
/// one satisfies `is_workflow`.
pub fn one_or_many(
    doc: &Value,
    is_workflow: impl Fn(&Value) -> bool,
) -> Option<Vec<(String, &Value)>> {
    let workflows: Vec<(String, &Value)> = match doc {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, w)| (format!("/{i}"), w))
            .collect(),
        other => vec![(String::new(), other)],
    };
    let all = !workflows.is_empty() && workflows.iter().all(|(_, w)| is_workflow(w));
    all.then_some(workflows)
}

/// A workflow's name: `name` when it is a non-empty string, else the file
/// name without its extension.
pub fn name_or_stem(name: Option<&str>, file: &Path) -> String {
    match name.filter(|n| !n.trim().is_empty()) {
        Some(n) => n.to_string(),
        None => file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "workflow".into()),
    }
}

/// A string field of an object, or "" when absent.
pub fn str_at<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The YAML parser's message without its snippet and repeated location.
pub fn yaml_message(raw: &str) -> String {
    let line = raw
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(raw)
        .trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    let line = match line.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") => rest,
        _ => line,
    };
    line.split(" at line ").next().unwrap_or(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_messages_lose_their_location_suffix() {
        assert_eq!(
            yaml_message(
                "error: line 3 column 1: did not find expected key at line 3 column 1\n  |"
            ),
            "did not find expected key"
        );
    }

    #[test]
    fn pointers_escape_slash_and_tilde() {
        assert_eq!(pointer("/actions", "Send_a/b~c"), "/actions/Send_a~1b~0c");
    }

    #[test]
    fn excerpts_drop_html_and_cut_long_text() {
        let html = "<p>Hello&nbsp;SOC,</p>\n<ul><li>Severity: <b>High</b></li></ul>";
        assert_eq!(excerpt(html, 80), "Hello SOC, Severity: High");
        assert_eq!(excerpt("abcdefghij", 5), "abcd…");
    }

    #[test]
    fn slugs_fit_the_scenario_rules() {
        assert_eq!(slug("Phishing Triage (V2)"), "phishing-triage-v2");
        assert_eq!(slug("***"), "workflow");
    }

    #[test]
    fn find_text_searches_nested_and_designer_keys() {
        let v = json!({"body": {"emailMessage/Subject": "Alert", "Body": "x"}});
        assert_eq!(find_text(&v, &["subject"], 2), Some("Alert"));
        let v = json!({"body": {"message": {"subject": "Deep"}}});
        assert_eq!(find_text(&v, &["subject"], 3), Some("Deep"));
        assert_eq!(find_text(&v, &["subject"], 1), None);
    }
}
