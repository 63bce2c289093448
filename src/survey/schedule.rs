//! When residents may answer: a window of calendar days, used both for a
//! published version (set when publishing) and for a fieldwork wave (set
//! with `civicpulse wave set`). A survey is answerable on a day only when
//! every window that applies to it admits that day.

use std::fmt;

/// First and last day residents may answer; either end may be open. The
/// constructor refuses a window that closes before it opens, so every
/// `DateWindow` admits at least one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DateWindow {
    opens: Option<time::Date>,
    closes: Option<time::Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the survey closes ({closes}) before it opens ({opens})")]
pub struct ClosesBeforeOpening {
    pub opens: time::Date,
    pub closes: time::Date,
}

/// Whether a window admits a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Open,
    /// Opens on this day.
    NotYetOpen(time::Date),
    /// Closed after this day (its last open day).
    Closed(time::Date),
}

impl DateWindow {
    pub fn new(opens: Option<time::Date>, closes: Option<time::Date>) -> Result<DateWindow, ClosesBeforeOpening> {
        if let (Some(opens), Some(closes)) = (opens, closes) {
            if closes < opens {
                return Err(ClosesBeforeOpening { opens, closes });
            }
        }
        Ok(DateWindow { opens, closes })
    }

    pub fn opens(&self) -> Option<time::Date> {
        self.opens
    }

    pub fn closes(&self) -> Option<time::Date> {
        self.closes
    }

    /// Both ends are days residents may answer on.
    pub fn availability(&self, today: time::Date) -> Availability {
        match (self.opens, self.closes) {
            (Some(opens), _) if today < opens => Availability::NotYetOpen(opens),
            (_, Some(closes)) if today > closes => Availability::Closed(closes),
            _ => Availability::Open,
        }
    }
}

impl Availability {
    /// The stricter of two answers for the same day: a survey is open only
    /// when both windows are.
    pub fn and(self, other: Availability) -> Availability {
        match (self, other) {
            (Availability::Open, x) | (x, Availability::Open) => x,
            (Availability::Closed(a), Availability::Closed(b)) => Availability::Closed(a.min(b)),
            (closed @ Availability::Closed(_), _) | (_, closed @ Availability::Closed(_)) => closed,
            (Availability::NotYetOpen(a), Availability::NotYetOpen(b)) => Availability::NotYetOpen(a.max(b)),
        }
    }
}

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// `YYYY-MM-DD`, the form dates are given and stored in.
pub fn parse_date(s: &str) -> Result<time::Date, String> {
    time::Date::parse(s, DATE_FORMAT).map_err(|e| format!("{s:?} is not a date of the form YYYY-MM-DD: {e}"))
}

/// A date as `YYYY-MM-DD`.
pub struct DateText(pub time::Date);

impl fmt::Display for DateText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.format(DATE_FORMAT).map_err(|_| fmt::Error)?)
    }
}

/// `YYYY-MM-DD`, or `None`.
pub fn date_text(date: Option<time::Date>) -> Option<String> {
    date.map(|d| DateText(d).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn windows_include_both_ends() {
        let w = DateWindow::new(Some(date!(2026 - 12 - 02)), Some(date!(2026 - 12 - 31))).unwrap();
        assert_eq!(
            w.availability(date!(2026 - 12 - 01)),
            Availability::NotYetOpen(date!(2026 - 12 - 02))
        );
        assert_eq!(w.availability(date!(2026 - 12 - 02)), Availability::Open);
        assert_eq!(w.availability(date!(2026 - 12 - 31)), Availability::Open);
        assert_eq!(
            w.availability(date!(2027 - 01 - 01)),
            Availability::Closed(date!(2026 - 12 - 31))
        );
        assert!(DateWindow::new(Some(date!(2026 - 12 - 02)), Some(date!(2026 - 12 - 01))).is_err());
        assert_eq!(
            DateWindow::default().availability(date!(2026 - 01 - 01)),
            Availability::Open
        );
        assert_eq!(parse_date("2026-12-02").unwrap(), date!(2026 - 12 - 02));
        assert!(parse_date("2026-13-02").is_err());
        assert_eq!(date_text(Some(date!(2026 - 02 - 03))).as_deref(), Some("2026-02-03"));
    }

    #[test]
    fn the_stricter_window_wins() {
        let closed = Availability::Closed(date!(2026 - 01 - 01));
        let later = Availability::NotYetOpen(date!(2026 - 03 - 01));
        assert_eq!(Availability::Open.and(Availability::Open), Availability::Open);
        assert_eq!(Availability::Open.and(later), later);
        assert_eq!(later.and(closed), closed);
        assert_eq!(
            later.and(Availability::NotYetOpen(date!(2026 - 02 - 01))),
            later,
            "opens when the later window opens"
        );
    }
}
