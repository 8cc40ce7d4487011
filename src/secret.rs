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

    /// Masks every string inside `value`, at any depth. Object keys,
    /// numbers and the JSON around them stay as they are, so the document
    /// stays valid and keeps its types.
    pub fn mask_strings(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => {
                let masked = self.mask(s);
                if masked != *s {
                    *s = masked;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask_strings(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.mask_strings(v)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// [`Self::mask_strings`] under the named keys of the top-level object
    /// only.
    pub fn mask_fields(&self, value: &mut serde_json::Value, fields: &[&str]) {
        if let Some(map) = value.as_object_mut() {
            for (key, v) in map.iter_mut() {
                if fields.contains(&key.as_str()) {
                    self.mask_strings(v);
                }
            }
        }
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

/// The secrets of the scenario being run, for output that cannot be handed
/// a [`Secrets`] directly (the log writer).
static GLOBAL: std::sync::RwLock<Option<Secrets>> = std::sync::RwLock::new(None);

/// Makes `secrets` the ones every log line is masked with.
pub fn set_global(secrets: &Secrets) {
    *GLOBAL.write().unwrap_or_else(|p| p.into_inner()) = Some(secrets.clone());
}

/// Masks text with the global secrets, if any.
pub fn mask_global(text: &str) -> String {
    match &*GLOBAL.read().unwrap_or_else(|p| p.into_inner()) {
        Some(s) if !s.is_empty() => s.mask(text),
        _ => text.to_string(),
    }
}

/// A log writer to stderr that masks secrets in every line.
pub struct MaskingStderr;

impl std::io::Write for MaskingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(mask_global(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for MaskingStderr {
    type Writer = MaskingStderr;

    fn make_writer(&'a self) -> Self::Writer {
        MaskingStderr
    }
}
