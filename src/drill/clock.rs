//! The drill clock: one monotonic origin for every timestamp of a run.
//!
//! Events carry nanoseconds since the origin ([`Stamp`]), so latencies are
//! differences of monotonic readings; wall-clock (UTC) times are derived from
//! the origin's UTC reading and never read twice, so they cannot jump.

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Nanoseconds since the drill's origin.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Stamp(pub u64);

impl Stamp {
    pub fn as_duration(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    pub fn millis(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// Milliseconds from `earlier` to `self`, zero when `earlier` is later.
    pub fn millis_since(self, earlier: Stamp) -> f64 {
        self.0.saturating_sub(earlier.0) as f64 / 1e6
    }

    pub fn plus(self, d: Duration) -> Stamp {
        Stamp(
            self.0
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

/// Converts between the monotonic clock and drill stamps.
#[derive(Clone, Debug)]
pub struct Clock {
    origin: Instant,
    origin_utc: DateTime<Utc>,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            origin: Instant::now(),
            origin_utc: Utc::now(),
        }
    }

    /// A clock continuing a run that started at `origin_utc` (for
    /// `recover`, which appends to an old journal).
    pub fn resume(origin_utc: DateTime<Utc>) -> Clock {
        let behind = (Utc::now() - origin_utc).to_std().unwrap_or_default();
        let origin = Instant::now()
            .checked_sub(behind)
            .unwrap_or_else(Instant::now);
        Clock { origin, origin_utc }
    }

    pub fn now(&self) -> Stamp {
        self.stamp(Instant::now())
    }

    pub fn stamp(&self, at: Instant) -> Stamp {
        let since = at.saturating_duration_since(self.origin);
        Stamp(u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
    }

    pub fn instant(&self, stamp: Stamp) -> Instant {
        self.origin + stamp.as_duration()
    }

    pub fn origin_utc(&self) -> DateTime<Utc> {
        self.origin_utc
    }

    pub fn utc(&self, stamp: Stamp) -> DateTime<Utc> {
        utc_at(self.origin_utc, stamp)
    }
}

/// The UTC time of `stamp` for a run whose origin was `origin_utc`.
pub fn utc_at(origin_utc: DateTime<Utc>, stamp: Stamp) -> DateTime<Utc> {
    origin_utc + chrono::Duration::nanoseconds(i64::try_from(stamp.0).unwrap_or(i64::MAX))
}

/// RFC 3339 with milliseconds and a `Z`, the form every artifact uses.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
