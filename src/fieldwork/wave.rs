//! Survey waves as fieldwork: who may answer, which question defines the
//! strata, when, and whom to call; and the sampling frame of a wave.
//!
//! A survey with no wave settings behaves as civicpulse always did: anyone
//! with the link answers, into the wave of the calendar year. Once a wave
//! is set up, it is the survey's current wave: open-link answers go into
//! the newest wave set up, and invited answers into the wave of their
//! invitation.

use crate::survey::schedule::{Availability, DateWindow};
use crate::survey::{QuestionKind, Survey};

named_choices! {
    /// Who may answer a wave.
    pub enum Access / UnknownAccess ("access") {
        /// Anyone with the link (a convenience sample).
        Open = "open",
        /// Only residents with an invitation code (a probability sample).
        Invitation = "invitation",
        /// Both; each response records which way it came in.
        Both = "both",
    }
}

impl Access {
    /// Whether someone without a code may answer.
    pub fn admits_open_link(self) -> bool {
        matches!(self, Access::Open | Access::Both)
    }

    /// Whether the form asks for an invitation code.
    pub fn takes_codes(self) -> bool {
        matches!(self, Access::Invitation | Access::Both)
    }
}

named_choices! {
    /// Which way a response came in.
    pub enum Source / UnknownSource ("source") {
        /// The open link.
        Web = "web",
        /// With an invitation code.
        Invited = "invited",
        /// Interview data imported from a file.
        Import = "import",
    }
}

/// The question whose answers name the strata when none is chosen.
pub const DEFAULT_STRATUM_QUESTION: &str = "district";

/// How one wave of a survey is fielded, each setting with its rule
/// (`validator`; the stratum question is checked against the survey by
/// `stratum_values`).
#[derive(Debug, Clone, PartialEq, Eq, validator::Validate)]
pub struct WaveSettings {
    #[validate(range(min = 1900, max = 2999))]
    pub wave: i32,
    pub access: Access,
    /// The single-choice question whose option values are the strata.
    pub stratum_question: String,
    /// Fieldwork dates, printed on the letters and enforced for residents
    /// together with the published version's own dates.
    pub window: DateWindow,
    /// Whom residents call with questions (a number and its hours), as
    /// printed on letters: a line, not a page.
    #[validate(length(max = 200))]
    pub helpline: String,
    /// The day the wave's results are to be published, told to residents
    /// on the thank-you page; `None` until it is decided.
    pub results_published: Option<time::Date>,
}

impl WaveSettings {
    /// The broken rules, one English sentence each.
    pub fn problems(&self) -> Vec<String> {
        crate::validation::broken(self)
    }

    /// Settings of a wave set up without options: invitation only, strata
    /// from `district`. Creating invitations is the point of setting up a
    /// wave, so an open link is something to switch on deliberately.
    pub fn new(wave: i32) -> WaveSettings {
        WaveSettings {
            wave,
            access: Access::Invitation,
            stratum_question: DEFAULT_STRATUM_QUESTION.to_string(),
            window: DateWindow::default(),
            helpline: String::new(),
            results_published: None,
        }
    }

    pub fn availability(&self, today: time::Date) -> Availability {
        self.window.availability(today)
    }
}

/// The wave residents answer now: the newest wave set up that has begun
/// (no first day, or one on or before today), so next year's wave can be
/// prepared while this year's fieldwork goes on; when none has begun, the
/// one that begins first (residents are told when). A survey without wave
/// settings takes answers into the calendar year's wave, open to anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CurrentWave {
    Calendar(i32),
    SetUp(WaveSettings),
}

impl CurrentWave {
    /// `waves` in any order; `today` decides the calendar year.
    pub fn choose(waves: &[WaveSettings], today: time::Date) -> CurrentWave {
        let begun = |w: &&WaveSettings| w.window.opens().is_none_or(|opens| opens <= today);
        let newest_begun = waves.iter().filter(begun).max_by_key(|w| w.wave);
        let first_to_begin = || waves.iter().min_by_key(|w| (w.window.opens(), w.wave));
        match newest_begun.or_else(first_to_begin) {
            Some(wave) => CurrentWave::SetUp(wave.clone()),
            None => CurrentWave::Calendar(today.year()),
        }
    }

    pub fn wave(&self) -> i32 {
        match self {
            CurrentWave::Calendar(year) => *year,
            CurrentWave::SetUp(s) => s.wave,
        }
    }

    pub fn access(&self) -> Access {
        match self {
            CurrentWave::Calendar(_) => Access::Open,
            CurrentWave::SetUp(s) => s.access,
        }
    }

    pub fn settings(&self) -> Option<&WaveSettings> {
        match self {
            CurrentWave::Calendar(_) => None,
            CurrentWave::SetUp(s) => Some(s),
        }
    }

    pub fn availability(&self, today: time::Date) -> Availability {
        self.settings().map_or(Availability::Open, |s| s.availability(today))
    }
}

/// One stratum of a sampling frame and its population size N_h.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameStratum {
    pub stratum: String,
    pub population: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{file}: row {row}: {message}")]
    Row { file: String, row: u64, message: String },
    #[error("survey {slug:?} has no question {question:?} to take strata from")]
    NoStratumQuestion { slug: String, question: String },
    #[error("strata come from a single-choice question, and {question:?} is a {kind} question")]
    StratumQuestionKind { question: String, kind: &'static str },
    #[error(
        "{stratum:?} is not an answer of question {question:?}, so no response can be in that stratum; \
         the answers are: {choices}"
    )]
    UnknownStratum {
        stratum: String,
        question: String,
        choices: String,
    },
}

/// The option values of the question strata come from, checked to be a
/// single-choice question of `survey`.
pub fn stratum_values<'a>(survey: &'a Survey, question: &str) -> Result<Vec<&'a str>, FrameError> {
    let q = survey.question(question).ok_or_else(|| FrameError::NoStratumQuestion {
        slug: survey.slug.to_string(),
        question: question.to_string(),
    })?;
    match &q.kind {
        QuestionKind::SingleChoice { options } => Ok(options.iter().map(|o| o.value.as_str()).collect()),
        other => Err(FrameError::StratumQuestionKind {
            question: question.to_string(),
            kind: other.type_name(),
        }),
    }
}

/// Check that `stratum` is an answer of the stratum question.
pub fn check_stratum(survey: &Survey, question: &str, stratum: &str) -> Result<(), FrameError> {
    let values = stratum_values(survey, question)?;
    if values.contains(&stratum) {
        Ok(())
    } else {
        Err(FrameError::UnknownStratum {
            stratum: stratum.to_string(),
            question: question.to_string(),
            choices: values.join(", "),
        })
    }
}

/// Read a frame file: a header `stratum,population`, then one row per
/// stratum, each an answer of the stratum question of `survey`, with a
/// positive population. Errors name the row.
pub fn parse_frame(
    file: &str,
    reader: impl std::io::Read,
    survey: &Survey,
    stratum_question: &str,
) -> Result<Vec<FrameStratum>, FrameError> {
    let file_error = |message: String| FrameError::File {
        file: file.to_string(),
        message,
    };
    let mut csv = csv::ReaderBuilder::new().has_headers(true).from_reader(reader);
    let headers = csv.headers().map_err(|e| file_error(e.to_string()))?.clone();
    let names: Vec<&str> = headers
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}'))
        .collect();
    if names != ["stratum", "population"] {
        return Err(file_error(format!(
            "the header must be stratum,population, not {}",
            names.join(",")
        )));
    }
    let values = stratum_values(survey, stratum_question)?;
    let mut out: Vec<FrameStratum> = Vec::new();
    for (i, record) in csv.records().enumerate() {
        let row = i as u64 + 2;
        let row_error = |message: String| FrameError::Row {
            file: file.to_string(),
            row,
            message,
        };
        let record = record.map_err(|e| row_error(e.to_string()))?;
        let stratum = record[0].trim().to_string();
        if !values.contains(&stratum.as_str()) {
            return Err(row_error(format!(
                "{stratum:?} is not an answer of question {stratum_question:?}; the answers are: {}",
                values.join(", ")
            )));
        }
        if out.iter().any(|s| s.stratum == stratum) {
            return Err(row_error(format!("stratum {stratum:?} is listed twice")));
        }
        let population: f64 = record[1]
            .trim()
            .parse()
            .map_err(|_| row_error(format!("population {:?} is not a number", &record[1])))?;
        if !(population.is_finite() && population >= 1.0) {
            return Err(row_error(format!("population must be at least 1, not {population}")));
        }
        out.push(FrameStratum { stratum, population });
    }
    if out.is_empty() {
        return Err(file_error("no strata in the file".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn livability() -> Survey {
        crate::survey::builtin_definitions()
            .into_iter()
            .find(|s| s.slug.as_str() == "livability")
            .unwrap()
    }

    #[test]
    fn the_newest_wave_set_up_is_current_else_the_calendar_year() {
        let today = date!(2027 - 01 - 05);
        assert_eq!(CurrentWave::choose(&[], today), CurrentWave::Calendar(2027));
        assert_eq!(CurrentWave::choose(&[], today).access(), Access::Open);
        let waves = [WaveSettings::new(2026), WaveSettings::new(2025)];
        let current = CurrentWave::choose(&waves, today);
        assert_eq!(current.wave(), 2026, "fieldwork may run into January");
        assert_eq!(current.access(), Access::Invitation);
        // Next year's wave, prepared in advance, waits for its first day.
        let mut next = WaveSettings::new(2027);
        next.window = DateWindow::new(Some(date!(2027 - 11 - 01)), None).unwrap();
        let waves = [WaveSettings::new(2026), next.clone()];
        assert_eq!(CurrentWave::choose(&waves, today).wave(), 2026);
        assert_eq!(CurrentWave::choose(&waves, date!(2027 - 11 - 01)).wave(), 2027);
        // With nothing begun, the first to begin, so residents learn when.
        let only_next = [next];
        assert_eq!(CurrentWave::choose(&only_next, today).wave(), 2027);
        assert!(matches!(
            CurrentWave::choose(&only_next, today).availability(today),
            Availability::NotYetOpen(_)
        ));
        assert!(Access::Both.admits_open_link() && Access::Both.takes_codes());
        assert!(!Access::Invitation.admits_open_link() && !Access::Open.takes_codes());
        assert_eq!("both".parse::<Access>(), Ok(Access::Both));
        assert!("closed".parse::<Access>().is_err());
    }

    #[test]
    fn frames_are_checked_against_the_stratum_question() {
        let survey = livability();
        let ok = parse_frame(
            "f.csv",
            "stratum,population\nhuancui,620000\nwendeng,480000\n".as_bytes(),
            &survey,
            "district",
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].population, 480000.0);
        let err = |text: &str| {
            parse_frame("f.csv", text.as_bytes(), &survey, "district")
                .unwrap_err()
                .to_string()
        };
        assert!(err("district,total\n").contains("header must be stratum,population"));
        assert!(err("stratum,population\natlantis,5\n").contains("row 2: \"atlantis\" is not an answer"));
        assert!(
            err("stratum,population\nhuancui,5\nhuancui,6\n").contains("row 3: stratum \"huancui\" is listed twice")
        );
        assert!(err("stratum,population\nhuancui,many\n").contains("row 2: population \"many\" is not a number"));
        assert!(err("stratum,population\nhuancui,0\n").contains("at least 1"));
        assert!(err("stratum,population\n").contains("no strata"));
        assert!(
            parse_frame("f.csv", "stratum,population\n".as_bytes(), &survey, "safety_night")
                .unwrap_err()
                .to_string()
                .contains("single-choice")
        );
        assert!(check_stratum(&survey, "district", "huancui").is_ok());
        assert!(check_stratum(&survey, "district", "nowhere").is_err());
        assert!(check_stratum(&survey, "nonesuch", "huancui").is_err());
    }
}

#[cfg(test)]
mod settings_rules {
    use super::*;

    #[test]
    fn a_helpline_is_a_line_and_a_wave_a_year() {
        let mut settings = WaveSettings::new(2026);
        assert!(settings.problems().is_empty());
        settings.helpline = "1".repeat(201);
        settings.wave = 20260;
        assert_eq!(
            settings.problems(),
            [
                "helpline must be at most 200 characters long",
                "wave must be between 1900 and 2999, not 20260"
            ]
        );
    }
}
