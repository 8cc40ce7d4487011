//! Secret values, masked wherever text leaves the process.
//!
//! Every value a scenario took from `${VAR}` is registered here; [`Secrets::mask`]
//! replaces each occurrence with `***`, inside longer strings too (a token in
//! a URL, a password in an argv element). Short values (under 4 bytes) are
//! masked as well: a leaked PIN is still a leak.

/// The secret values of one run.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    values: Vec<String>,
}

pub const MASK: &str = "***";

impl Secrets {
    pub fn add(&mut self, value: &str) {
        if !value.is_empty() && !self.values.iter().any(|v| v == value) {
            self.values.push(value.to_string());
            // Longest first, so a secret containing another is masked whole.
            self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), MASK);
            }
            // JSON escaping can change how a value appears in a journal line.
            let escaped = serde_json::to_string(value).unwrap_or_default();
            let escaped = escaped.trim_matches('"');
            if escaped != value && out.contains(escaped) {
                out = out.replace(escaped, MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_inside_longer_strings() {
        let mut s = Secrets::default();
        s.add("hunter2");
        s.add("a\"b");
        assert_eq!(
            s.mask("https://x/?token=hunter2&x=1"),
            "https://x/?token=***&x=1"
        );
        assert_eq!(s.mask(r#"{"v":"a\"b"}"#), r#"{"v":"***"}"#);
    }
}
