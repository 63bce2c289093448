//! What day and time it is in the city. Survey windows and waves are
//! calendar days of the city, not of UTC: a survey opening on 2 December
//! opens at midnight in Weihai, which is 16:00 UTC on 1 December. Every
//! "today" of the server comes from one `CityClock`, so tests can pin the
//! instant and staff pages name the zone beside each local time.
//!
//! Zones come from the system's tzdb when it has them (kept current by the
//! OS) and otherwise from the copy bundled into the binary, so the default
//! zone works on a slim container without `/usr/share/zoneinfo`.

use std::fmt;
use std::sync::Arc;

/// The zone of the built-in deployment (Weihai).
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {name:?}: give an IANA zone name such as Asia/Shanghai, Asia/Seoul or Europe/Berlin")]
pub struct UnknownTimeZone {
    pub name: String,
}

/// The city's time zone and where "now" comes from.
#[derive(Clone)]
pub struct CityClock {
    zone: jiff::tz::TimeZone,
    name: Arc<str>,
    /// A fixed instant instead of the system clock (tests).
    pinned: Option<time::OffsetDateTime>,
}

impl fmt::Debug for CityClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CityClock")
            .field("zone", &self.name)
            .field("pinned", &self.pinned)
            .finish()
    }
}

impl Default for CityClock {
    fn default() -> CityClock {
        CityClock::new(DEFAULT_TIME_ZONE).expect("the bundled tzdb has Asia/Shanghai")
    }
}

impl CityClock {
    /// The clock of the IANA zone `name` (e.g. `Asia/Shanghai`).
    pub fn new(name: &str) -> Result<CityClock, UnknownTimeZone> {
        let name = name.trim();
        let unknown = || UnknownTimeZone { name: name.to_string() };
        // Offsets such as "+08:00" and POSIX strings are refused: a zone
        // name keeps following the city's rules if they ever change.
        if name.is_empty() || !name.contains('/') && name != "UTC" {
            return Err(unknown());
        }
        let zone = jiff::tz::TimeZone::get(name)
            .or_else(|_| jiff::tz::TimeZoneDatabase::bundled().get(name))
            .map_err(|_| unknown())?;
        Ok(CityClock {
            zone,
            name: name.into(),
            pinned: None,
        })
    }

    /// This clock, stopped at `at` (for tests and reproducible runs).
    pub fn pinned_at(mut self, at: time::OffsetDateTime) -> CityClock {
        self.pinned = Some(at);
        self
    }

    /// The zone's IANA name.
    pub fn zone_name(&self) -> &str {
        &self.name
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.pinned.unwrap_or_else(time::OffsetDateTime::now_utc)
    }

    /// `at` as the city's wall-clock time.
    pub fn local(&self, at: time::OffsetDateTime) -> time::OffsetDateTime {
        let offset = jiff::Timestamp::from_second(at.unix_timestamp())
            .map(|ts| self.zone.to_offset(ts).seconds())
            .unwrap_or(0);
        let offset = time::UtcOffset::from_whole_seconds(offset).unwrap_or(time::UtcOffset::UTC);
        at.to_offset(offset)
    }

    /// The city's date now: the day survey windows are checked against.
    pub fn today(&self) -> time::Date {
        self.local(self.now()).date()
    }

    /// `at` for staff: `2026-12-03 05:11 (Asia/Shanghai)`.
    pub fn local_text(&self, at: time::OffsetDateTime) -> String {
        let t = self.local(at);
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02} ({})",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            self.name
        )
    }

    /// A stored RFC 3339 time (`2026-12-02T21:11:00Z`) as [`local_text`];
    /// text that is not such a time is shown as it is, and an empty one
    /// stays empty.
    ///
    /// [`local_text`]: CityClock::local_text
    pub fn stored_text(&self, stored: &str) -> String {
        match time::OffsetDateTime::parse(stored, &time::format_description::well_known::Rfc3339) {
            Ok(at) => self.local_text(at),
            Err(_) => stored.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn the_citys_day_starts_at_its_own_midnight() {
        let clock = CityClock::default().pinned_at(datetime!(2026-12-01 21:11 UTC));
        assert_eq!(clock.today(), date!(2026 - 12 - 02), "05:11 on 2 December in Shanghai");
        assert_eq!(clock.local_text(clock.now()), "2026-12-02 05:11 (Asia/Shanghai)");
        assert_eq!(
            clock.stored_text("2026-12-02T21:11:00Z"),
            "2026-12-03 05:11 (Asia/Shanghai)"
        );
        assert_eq!(clock.stored_text("not a time"), "not a time");
        assert_eq!(clock.stored_text(""), "");
        let utc = CityClock::new("UTC")
            .unwrap()
            .pinned_at(datetime!(2026-12-01 21:11 UTC));
        assert_eq!(utc.today(), date!(2026 - 12 - 01));
    }

    #[test]
    fn zones_with_summer_time_follow_their_rules() {
        let berlin = CityClock::new("Europe/Berlin").unwrap();
        assert_eq!(
            berlin.local_text(datetime!(2026-07-01 12:00 UTC)),
            "2026-07-01 14:00 (Europe/Berlin)"
        );
        assert_eq!(
            berlin.local_text(datetime!(2026-12-01 12:00 UTC)),
            "2026-12-01 13:00 (Europe/Berlin)"
        );
    }

    #[test]
    fn the_bundled_tzdb_knows_the_default_zone() {
        // What a container without /usr/share/zoneinfo falls back on.
        let zone = jiff::tz::TimeZoneDatabase::bundled().get(DEFAULT_TIME_ZONE).unwrap();
        let ts = jiff::Timestamp::from_second(1_796_159_460).unwrap();
        assert_eq!(zone.to_offset(ts).seconds(), 8 * 3600);
    }

    #[test]
    fn unknown_zones_are_refused_with_an_example() {
        for bad in ["", "Mars/Olympus", "+08:00", "CST", "Asia/Shang hai"] {
            let err = CityClock::new(bad).unwrap_err().to_string();
            assert!(err.contains("Asia/Shanghai"), "{bad}: {err}");
        }
    }
}
