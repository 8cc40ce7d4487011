//! Durations as scenarios write them (`250ms`, `30s`, `1h30m`).
//!
//! [`Dur`] wraps [`std::time::Duration`] so that parsing, printing and the
//! JSON Schema all agree on one textual form; humantime does the parsing.

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as text in a scenario, e.g. `90m` or `250ms`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub Duration);

impl Dur {
    pub fn from_secs(secs: u64) -> Self {
        Dur(Duration::from_secs(secs))
    }

    pub fn as_duration(self) -> Duration {
        self.0
    }

    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }

    /// Parses `250ms`, `30s`, `5m`, `1h30m`; a bare number is refused so that
    /// nobody has to guess its unit.
    pub fn parse(text: &str) -> Result<Dur, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty duration (write e.g. `30s`, `5m` or `1h30m`)".into());
        }
        if text.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(format!(
                "`{text}` has no unit (write e.g. `{text}s` or `{text}ms`)"
            ));
        }
        humantime::parse_duration(text).map(Dur).map_err(|e| {
            format!("`{text}` is not a duration ({e}); write e.g. `30s`, `5m` or `1h30m`")
        })
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_zero() {
            return f.write_str("0s");
        }
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.to_string().replace(' ', ""))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Dur::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "a duration such as `250ms`, `30s`, `5m` or `1h30m`",
            "pattern": "^\\s*([0-9]+(\\.[0-9]+)?\\s*(ns|us|ms|s|sec|m|min|h|hr|d)\\s*)+$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_scenarios_use() {
        assert_eq!(Dur::parse("250ms").unwrap().0, Duration::from_millis(250));
        assert_eq!(Dur::parse("1h30m").unwrap().0, Duration::from_secs(5400));
        assert_eq!(Dur::parse("120s").unwrap().0, Duration::from_secs(120));
    }

    #[test]
    fn refuses_bare_numbers_and_garbage() {
        assert!(Dur::parse("30").unwrap_err().contains("no unit"));
        assert!(Dur::parse("soon").is_err());
        assert!(Dur::parse("").is_err());
    }

    #[test]
    fn prints_compactly_and_round_trips() {
        let d = Dur::parse("1h30m").unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, "\"1h30m\"");
        assert_eq!(serde_json::from_str::<Dur>(&json).unwrap(), d);
    }
}
