//! The validated survey definition.
//!
//! `Survey::from_raw` is the only way to build one, and it checks every rule
//! of `docs/survey-format.md` at once, reporting all problems with their
//! place (question and field). Code that holds a `Survey` can rely on: every
//! resident-visible text exists in zh, en and ko; ids are unique and
//! well-formed; dimensions and scales exist; `show_if` points backwards to a
//! real option; scores and weights are in range.

use super::raw::{RawQuestion, RawQuestionType, RawShowIf, RawSurvey, RawText};
use crate::lang::Lang;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Longest free-text answer a definition may allow.
pub const MAX_TEXT_LENGTH: u32 = 10_000;
/// Most options a choice question may have (answers are coded in a byte).
pub const MAX_OPTIONS: usize = 250;
/// Free-text length limit when a text question does not set `max_length`.
pub const DEFAULT_TEXT_LENGTH: u32 = 2_000;

/// A text in every supported language; construction guarantees none is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Localized {
    zh: String,
    en: String,
    ko: String,
}

impl Localized {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
            Lang::Ko => &self.ko,
        }
    }
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, $what:literal, $valid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, String> {
                let valid: fn(&str) -> bool = $valid;
                if valid(s) {
                    Ok(Self(s.to_string()))
                } else {
                    Err(format!("{:?} is not a valid {}", s, $what))
                }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z')) && s.len() <= 64 && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

string_newtype!(
    /// URL name of a survey (`/s/{slug}`): a-z, 0-9 and '-', at most 64 characters.
    Slug,
    "survey slug (a-z, 0-9 and '-', starting with a letter or digit)",
    |s| {
        !s.is_empty()
            && s.len() <= 64
            && !s.starts_with('-')
            && s.chars().all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'))
    }
);
string_newtype!(
    /// Stable id of a question, section or dimension: `[a-z][a-z0-9_]*`.
    Id,
    "id (a-z, 0-9 and '_', starting with a letter, at most 64 characters)",
    is_identifier
);
string_newtype!(
    /// Stable ASCII code of an answer option, used by exports, imports and margins.
    OptionValue,
    "option value (A-Z, a-z, 0-9, '_', '-' and '+', at most 32 characters)",
    |s| {
        !s.is_empty()
            && s.len() <= 32
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
    }
);

/// Question ids are the same kind of identifier as section and dimension ids.
pub type QuestionId = Id;

/// Why an answer option is no opinion on the subject. Both kinds are
/// missing for scoring (never 0) and each is counted on its own in an
/// item's figures: "don't know" says the resident cannot judge, "does not
/// apply" that the subject is not part of their life (no child at school,
/// no car).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    DontKnow,
    NotApplicable,
}

impl Missing {
    pub const ALL: [Missing; 2] = [Missing::DontKnow, Missing::NotApplicable];

    /// The name in definition files, exports and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Missing::DontKnow => "dont_know",
            Missing::NotApplicable => "not_applicable",
        }
    }

    /// The option value a Likert scale gives this answer.
    pub fn likert_value(self) -> &'static str {
        match self {
            Missing::DontKnow => "dk",
            Missing::NotApplicable => "na",
        }
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One answer option. Validation builds every `Choice`, and never one with
/// both a score and a `missing`: a scored option has `missing: None`; a
/// missing one ("don't know", "does not apply") has no score. An option
/// with neither is an unscored answer (a district, "other").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    pub value: OptionValue,
    pub label: Localized,
    /// 0–100, or `None` for an unscored or a missing option.
    pub score: Option<f64>,
    /// `Some` for an answer that is no opinion on the subject.
    pub missing: Option<Missing>,
}

impl Choice {
    fn scored(value: OptionValue, label: Localized, score: f64) -> Choice {
        Choice {
            value,
            label,
            score: Some(score),
            missing: None,
        }
    }

    fn missing(value: OptionValue, label: Localized, missing: Missing) -> Choice {
        Choice {
            value,
            label,
            score: None,
            missing: Some(missing),
        }
    }

    pub fn is_dont_know(&self) -> bool {
        self.missing == Some(Missing::DontKnow)
    }

    pub fn is_not_applicable(&self) -> bool {
        self.missing == Some(Missing::NotApplicable)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum QuestionKind {
    Likert {
        scale: String,
        options: Vec<Choice>,
    },
    SingleChoice {
        options: Vec<Choice>,
    },
    MultiChoice {
        options: Vec<Choice>,
        max_choices: Option<u32>,
    },
    Rating {
        options: Vec<Choice>,
        low_label: Option<Localized>,
        high_label: Option<Localized>,
    },
    Text {
        max_length: u32,
    },
}

impl QuestionKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            QuestionKind::Likert { .. } => "likert",
            QuestionKind::SingleChoice { .. } => "single_choice",
            QuestionKind::MultiChoice { .. } => "multi_choice",
            QuestionKind::Rating { .. } => "rating",
            QuestionKind::Text { .. } => "text",
        }
    }

    pub fn options(&self) -> &[Choice] {
        match self {
            QuestionKind::Likert { options, .. }
            | QuestionKind::SingleChoice { options }
            | QuestionKind::MultiChoice { options, .. }
            | QuestionKind::Rating { options, .. } => options,
            QuestionKind::Text { .. } => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShowIf {
    /// Index of the controlling question in `Survey::questions` (always earlier).
    pub question: usize,
    pub values: Vec<OptionValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub id: QuestionId,
    pub kind: QuestionKind,
    pub required: bool,
    /// Index into `Survey::dimensions`.
    pub dimension: Option<usize>,
    /// Item weight inside its dimension.
    pub weight: f64,
    pub text: Localized,
    pub help: Option<Localized>,
    /// The designer's words for a required question left unanswered
    /// ("Choose your age group"); only a required question has one.
    pub required_error: Option<Localized>,
    pub show_if: Option<ShowIf>,
    /// Index into `Survey::sections`.
    pub section: usize,
}

impl Question {
    /// What to tell a resident who left this required question unanswered,
    /// when the definition says it; callers fall back to a general message.
    pub fn required_message(&self, lang: Lang) -> Option<&str> {
        self.required_error.as_ref().map(|t| t.get(lang))
    }

    /// The options that are no opinion on the subject, with their kind.
    pub fn missing_options(&self) -> impl Iterator<Item = (&Choice, Missing)> {
        self.kind.options().iter().filter_map(|c| c.missing.map(|m| (c, m)))
    }

    pub fn option(&self, value: &str) -> Option<&Choice> {
        self.kind.options().iter().find(|c| c.value.as_str() == value)
    }

    /// True when some option carries a score, so the question feeds indices.
    pub fn is_scored(&self) -> bool {
        self.kind.options().iter().any(|c| c.score.is_some())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    pub id: Id,
    pub weight: f64,
    pub title: Localized,
    pub in_overall: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub id: Id,
    pub title: Localized,
    pub description: Option<Localized>,
    /// Range of indices into `Survey::questions`.
    pub questions: std::ops::Range<usize>,
}

/// A survey definition that passed every validation rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    pub slug: Slug,
    pub version: u32,
    pub title: Localized,
    pub intro: Localized,
    pub thanks: Localized,
    pub dimensions: Vec<Dimension>,
    pub sections: Vec<Section>,
    pub questions: Vec<Question>,
    index: HashMap<String, usize>,
    raw: RawSurvey,
}

/// Where in a definition a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Survey,
    Scale(String),
    Dimension(String),
    Section(String),
    Question(String),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Survey => f.write_str("survey"),
            Place::Scale(s) => write!(f, "scale {s:?}"),
            Place::Dimension(s) => write!(f, "dimension {s:?}"),
            Place::Section(s) => write!(f, "section {s:?}"),
            Place::Question(s) => write!(f, "question {s:?}"),
        }
    }
}

/// One broken rule, with its place and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionIssue {
    pub place: Place,
    pub field: String,
    pub message: String,
}

impl fmt::Display for DefinitionIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, field {:?}: {}", self.place, self.field, self.message)
    }
}

/// Why a definition file could not be loaded. `source` names the file.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("{source_name}: cannot read the file: {error}")]
    Io { source_name: String, error: std::io::Error },
    #[error("{source_name}: not a valid survey definition: {message}")]
    Syntax { source_name: String, message: String },
    #[error("{}", render_issues(source_name, issues))]
    Invalid {
        source_name: String,
        issues: Vec<DefinitionIssue>,
    },
}

fn render_issues(source: &str, issues: &[DefinitionIssue]) -> String {
    let noun = if issues.len() == 1 { "problem" } else { "problems" };
    let mut out = format!("{source}: {} {noun} in the survey definition", issues.len());
    for issue in issues {
        out.push_str(&format!("\n  {source}: {issue}"));
    }
    out
}

impl DefinitionError {
    pub fn issues(&self) -> &[DefinitionIssue] {
        match self {
            DefinitionError::Invalid { issues, .. } => issues,
            _ => &[],
        }
    }
}

impl Survey {
    /// Parse and validate a TOML definition. `source_name` (usually the file
    /// path) prefixes every error message.
    pub fn from_toml(source_name: &str, text: &str) -> Result<Survey, DefinitionError> {
        let raw: RawSurvey = toml::from_str(text).map_err(|e| DefinitionError::Syntax {
            source_name: source_name.to_string(),
            message: e.to_string().trim_end().replace('\n', "\n  "),
        })?;
        Survey::from_raw(raw).map_err(|issues| DefinitionError::Invalid {
            source_name: source_name.to_string(),
            issues,
        })
    }

    /// Load and validate a definition file.
    pub fn from_file(path: &std::path::Path) -> Result<Survey, DefinitionError> {
        let source_name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| DefinitionError::Io {
            source_name: source_name.clone(),
            error,
        })?;
        Survey::from_toml(&source_name, &text)
    }

    /// The definition as the designer wrote it, for round-tripping.
    pub fn raw(&self) -> &RawSurvey {
        &self.raw
    }

    /// The definition as a TOML file; `from_toml` of it gives an equal survey.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.raw).expect("a validated definition always serialises")
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.index.get(id).map(|&i| &self.questions[i])
    }

    pub fn question_index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    pub fn from_raw(raw: RawSurvey) -> Result<Survey, Vec<DefinitionIssue>> {
        Validator::default().survey(raw)
    }
}

#[derive(Default)]
struct Validator {
    issues: Vec<DefinitionIssue>,
}

impl Validator {
    fn issue(&mut self, place: &Place, field: &str, message: impl Into<String>) {
        self.issues.push(DefinitionIssue {
            place: place.clone(),
            field: field.to_string(),
            message: message.into(),
        });
    }

    fn text(&mut self, place: &Place, field: &str, raw: &RawText) -> Localized {
        let mut get = |lang: Lang, value: &Option<String>| -> String {
            match value.as_deref().map(str::trim) {
                Some(s) if !s.is_empty() => value.clone().unwrap_or_default(),
                Some(_) => {
                    self.issue(
                        place,
                        &format!("{field}.{lang}"),
                        format!("empty {} text", lang.english_name()),
                    );
                    String::new()
                }
                None => {
                    self.issue(
                        place,
                        &format!("{field}.{lang}"),
                        format!("missing {} text", lang.english_name()),
                    );
                    String::new()
                }
            }
        };
        Localized {
            zh: get(Lang::Zh, &raw.zh),
            en: get(Lang::En, &raw.en),
            ko: get(Lang::Ko, &raw.ko),
        }
    }

    fn optional_text(&mut self, place: &Place, field: &str, raw: &Option<RawText>) -> Option<Localized> {
        raw.as_ref().map(|t| self.text(place, field, t))
    }

    fn id(&mut self, place: &Place, raw: &str) -> Id {
        Id::parse(raw).unwrap_or_else(|message| {
            self.issue(place, "id", message);
            Id(raw.to_string())
        })
    }

    fn weight(&mut self, place: &Place, field: &str, weight: f64) -> f64 {
        if !(weight.is_finite() && weight > 0.0) {
            self.issue(place, field, format!("weight must be a positive number, not {weight}"));
        }
        weight
    }

    fn survey(mut self, raw: RawSurvey) -> Result<Survey, Vec<DefinitionIssue>> {
        let top = Place::Survey;
        let slug = Slug::parse(&raw.slug).unwrap_or_else(|m| {
            self.issue(&top, "slug", m);
            Slug(raw.slug.clone())
        });
        if raw.version == 0 {
            self.issue(&top, "version", "version must be 1 or more");
        }
        let title = self.text(&top, "title", &raw.title);
        let intro = self.text(&top, "intro", &raw.intro);
        let thanks = self.text(&top, "thanks", &raw.thanks);

        let mut scales: HashMap<&str, ScaleTexts> = HashMap::new();
        for (name, scale) in &raw.scales {
            let place = Place::Scale(name.clone());
            if !(2..=11).contains(&scale.labels.len()) {
                self.issue(
                    &place,
                    "labels",
                    format!("a scale needs 2 to 11 labels, not {}", scale.labels.len()),
                );
            }
            let labels = scale
                .labels
                .iter()
                .enumerate()
                .map(|(i, l)| self.text(&place, &format!("labels[{}]", i + 1), l))
                .collect();
            let dont_know = self.optional_text(&place, "dont_know", &scale.dont_know);
            let not_applicable = self.optional_text(&place, "not_applicable", &scale.not_applicable);
            scales.insert(
                name.as_str(),
                ScaleTexts {
                    labels,
                    dont_know,
                    not_applicable,
                },
            );
        }

        let mut dimensions = Vec::new();
        let mut dimension_index = HashMap::new();
        for d in &raw.dimensions {
            let place = Place::Dimension(d.id.clone());
            let id = self.id(&place, &d.id);
            if dimension_index.insert(d.id.clone(), dimensions.len()).is_some() {
                self.issue(&place, "id", "two dimensions have this id");
            }
            dimensions.push(Dimension {
                id,
                weight: self.weight(&place, "weight", d.weight),
                title: self.text(&place, "title", &d.title),
                in_overall: d.in_overall.unwrap_or(true),
            });
        }
        if !dimensions.is_empty() && !dimensions.iter().any(|d| d.in_overall) {
            self.issue(
                &top,
                "dimensions",
                "at least one dimension must count towards the overall index",
            );
        }

        let mut sections = Vec::new();
        let mut questions: Vec<Question> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut section_ids = HashSet::new();
        if raw.sections.is_empty() {
            self.issue(&top, "sections", "a survey needs at least one section");
        }
        for (section_number, s) in raw.sections.iter().enumerate() {
            let place = Place::Section(s.id.clone());
            let id = self.id(&place, &s.id);
            if !section_ids.insert(s.id.clone()) {
                self.issue(&place, "id", "two sections have this id");
            }
            if s.questions.is_empty() {
                self.issue(&place, "questions", "a section needs at least one question");
            }
            let start = questions.len();
            for q in &s.questions {
                let question = self.question(q, section_number, &scales, &dimension_index, &questions, &index);
                if index.insert(q.id.clone(), questions.len()).is_some() {
                    self.issue(&Place::Question(q.id.clone()), "id", "two questions have this id");
                }
                questions.push(question);
            }
            sections.push(Section {
                id,
                title: self.text(&place, "title", &s.title),
                description: self.optional_text(&place, "description", &s.description),
                questions: start..questions.len(),
            });
        }
        for (i, d) in dimensions.iter().enumerate() {
            if !questions.iter().any(|q| q.dimension == Some(i)) {
                self.issue(
                    &Place::Dimension(d.id.to_string()),
                    "id",
                    "no question belongs to this dimension",
                );
            }
        }

        if self.issues.is_empty() {
            Ok(Survey {
                slug,
                version: raw.version,
                title,
                intro,
                thanks,
                dimensions,
                sections,
                questions,
                index,
                raw,
            })
        } else {
            Err(self.issues)
        }
    }

    fn options(&mut self, place: &Place, raw: &RawQuestion) -> Vec<Choice> {
        let Some(options) = &raw.options else {
            self.issue(
                place,
                "options",
                format!("a {} question needs options", raw.kind.name()),
            );
            return Vec::new();
        };
        if options.is_empty() {
            self.issue(place, "options", "the list of options is empty");
        }
        if options.len() > MAX_OPTIONS {
            self.issue(
                place,
                "options",
                format!("a question can have at most {MAX_OPTIONS} options"),
            );
        }
        let mut seen = HashSet::new();
        let mut seen_missing = HashSet::new();
        options
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let field = format!("options[{}]", i + 1);
                let value = OptionValue::parse(&o.value).unwrap_or_else(|m| {
                    self.issue(place, &format!("{field}.value"), m);
                    OptionValue(o.value.clone())
                });
                if !seen.insert(o.value.clone()) {
                    self.issue(
                        place,
                        &format!("{field}.value"),
                        format!("option value {:?} appears twice", o.value),
                    );
                }
                if let Some(score) = o.score {
                    if !(0.0..=100.0).contains(&score) {
                        self.issue(
                            place,
                            &format!("{field}.score"),
                            format!("score must lie in 0–100, not {score}"),
                        );
                    }
                }
                let label = self.text(place, &format!("{field}.label"), &o.label);
                match o.missing {
                    None => Choice {
                        value,
                        label,
                        score: o.score,
                        missing: None,
                    },
                    Some(missing) => {
                        if o.score.is_some() {
                            self.issue(
                                place,
                                &format!("{field}.score"),
                                format!(
                                    "a {missing} option is missing for scoring, so it cannot carry a score; \
                                     remove the score or the `missing`"
                                ),
                            );
                        }
                        if raw.kind == RawQuestionType::MultiChoice {
                            self.issue(
                                place,
                                &format!("{field}.missing"),
                                "a multi_choice question cannot have a missing option: it could be ticked \
                                 together with real answers",
                            );
                        }
                        if !seen_missing.insert(missing) {
                            self.issue(
                                place,
                                &format!("{field}.missing"),
                                format!("a question can have only one {missing} option, and this is the second"),
                            );
                        }
                        Choice::missing(value, label, missing)
                    }
                }
            })
            .collect()
    }

    /// Refuse settings that mean nothing for this question type, so a
    /// designer learns that e.g. `max_choices` on a single choice is ignored.
    fn forbid(&mut self, place: &Place, raw: &RawQuestion, present: bool, field: &str) {
        if present {
            self.issue(
                place,
                field,
                format!("{field} does not apply to a {} question", raw.kind.name()),
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn question(
        &mut self,
        raw: &RawQuestion,
        section: usize,
        scales: &HashMap<&str, ScaleTexts>,
        dimension_index: &HashMap<String, usize>,
        earlier: &[Question],
        earlier_index: &HashMap<String, usize>,
    ) -> Question {
        let place = Place::Question(raw.id.clone());
        let id = self.id(&place, &raw.id);
        let kind = match raw.kind {
            RawQuestionType::Likert => {
                let options = match raw.scale.as_deref() {
                    None => {
                        self.issue(&place, "scale", "a likert question needs a scale");
                        Vec::new()
                    }
                    Some(name) => match scales.get(name) {
                        None => {
                            self.issue(&place, "scale", format!("there is no scale named {name:?}"));
                            Vec::new()
                        }
                        Some(scale) => {
                            let offers_na = raw.not_applicable.unwrap_or(false);
                            if offers_na && scale.not_applicable.is_none() {
                                self.issue(
                                    &place,
                                    "not_applicable",
                                    format!(
                                        "scale {name:?} has no not_applicable text; add \
                                         `not_applicable = {{ zh = …, en = …, ko = … }}` to the scale, \
                                         or leave this setting out"
                                    ),
                                );
                            }
                            likert_options(scale, offers_na, raw.reverse.unwrap_or(false))
                        }
                    },
                };
                self.forbid(&place, raw, raw.options.is_some(), "options");
                QuestionKind::Likert {
                    scale: raw.scale.clone().unwrap_or_default(),
                    options,
                }
            }
            RawQuestionType::SingleChoice => QuestionKind::SingleChoice {
                options: self.options(&place, raw),
            },
            RawQuestionType::MultiChoice => {
                let options = self.options(&place, raw);
                if let Some(max) = raw.max_choices {
                    if max == 0 || max as usize > options.len() {
                        self.issue(
                            &place,
                            "max_choices",
                            format!("max_choices must be 1 to {}", options.len()),
                        );
                    }
                }
                if options.iter().any(|o| o.score.is_some()) {
                    self.issue(&place, "options", "multi_choice options cannot carry scores");
                }
                QuestionKind::MultiChoice {
                    options,
                    max_choices: raw.max_choices,
                }
            }
            RawQuestionType::Rating => {
                self.forbid(&place, raw, raw.options.is_some(), "options");
                QuestionKind::Rating {
                    options: rating_options(),
                    low_label: self.optional_text(&place, "low_label", &raw.low_label),
                    high_label: self.optional_text(&place, "high_label", &raw.high_label),
                }
            }
            RawQuestionType::Text => {
                let max_length = raw.max_length.unwrap_or(DEFAULT_TEXT_LENGTH);
                if max_length == 0 || max_length > MAX_TEXT_LENGTH {
                    self.issue(
                        &place,
                        "max_length",
                        format!("max_length must be 1 to {MAX_TEXT_LENGTH}"),
                    );
                }
                self.forbid(&place, raw, raw.options.is_some(), "options");
                QuestionKind::Text { max_length }
            }
        };
        if raw.kind != RawQuestionType::Likert {
            self.forbid(&place, raw, raw.scale.is_some(), "scale");
            self.forbid(&place, raw, raw.reverse.is_some(), "reverse");
            if raw.not_applicable.is_some() {
                let advice = match raw.kind {
                    RawQuestionType::SingleChoice => {
                        "; give the option that does not apply `missing = \"not_applicable\"` instead"
                    }
                    _ => "",
                };
                self.issue(
                    &place,
                    "not_applicable",
                    format!(
                        "not_applicable does not apply to a {} question (only a likert question offers its \
                         scale's \"does not apply\"){advice}",
                        raw.kind.name()
                    ),
                );
            }
        }
        if raw.kind != RawQuestionType::MultiChoice {
            self.forbid(&place, raw, raw.max_choices.is_some(), "max_choices");
        }
        if raw.kind != RawQuestionType::Rating {
            self.forbid(&place, raw, raw.low_label.is_some(), "low_label");
            self.forbid(&place, raw, raw.high_label.is_some(), "high_label");
        }
        if raw.kind != RawQuestionType::Text {
            self.forbid(&place, raw, raw.max_length.is_some(), "max_length");
        }

        let dimension = raw.dimension.as_deref().and_then(|d| match dimension_index.get(d) {
            Some(&i) => Some(i),
            None => {
                self.issue(&place, "dimension", format!("there is no dimension named {d:?}"));
                None
            }
        });
        if dimension.is_some() && !kind.options().iter().any(|o| o.score.is_some()) {
            self.issue(&place, "dimension", "only a scored question can belong to a dimension");
        }
        let required = raw.required.unwrap_or(false);
        if raw.required_error.is_some() && !required {
            self.issue(
                &place,
                "required_error",
                "required_error is shown when a required question is left unanswered, and this question \
                 is not required; set `required = true` or leave required_error out",
            );
        }
        let weight = self.weight(&place, "weight", raw.weight.unwrap_or(1.0));
        let show_if = raw
            .show_if
            .as_ref()
            .and_then(|s| self.show_if(&place, s, earlier, earlier_index));
        Question {
            id,
            kind,
            required,
            dimension,
            weight,
            text: self.text(&place, "text", &raw.text),
            help: self.optional_text(&place, "help", &raw.help),
            required_error: self.optional_text(&place, "required_error", &raw.required_error),
            show_if,
            section,
        }
    }

    fn show_if(
        &mut self,
        place: &Place,
        raw: &RawShowIf,
        earlier: &[Question],
        earlier_index: &HashMap<String, usize>,
    ) -> Option<ShowIf> {
        let values: Vec<&String> = match (&raw.equals, &raw.any_of) {
            (Some(v), None) => vec![v],
            (None, Some(vs)) if !vs.is_empty() => vs.iter().collect(),
            _ => {
                self.issue(
                    place,
                    "show_if",
                    "show_if needs exactly one of `equals` or a non-empty `any_of`",
                );
                return None;
            }
        };
        let Some(&target) = earlier_index.get(&raw.question) else {
            self.issue(
                place,
                "show_if.question",
                format!("{:?} is not a question that comes earlier in the survey", raw.question),
            );
            return None;
        };
        let controlling = &earlier[target];
        if matches!(controlling.kind, QuestionKind::Text { .. }) {
            self.issue(
                place,
                "show_if.question",
                "show_if cannot depend on a free-text question",
            );
            return None;
        }
        let mut parsed = Vec::new();
        for v in values {
            match controlling.option(v) {
                Some(choice) => parsed.push(choice.value.clone()),
                None => self.issue(
                    place,
                    "show_if",
                    format!("{v:?} is not an option of question {:?}", controlling.id.as_str()),
                ),
            }
        }
        Some(ShowIf {
            question: target,
            values: parsed,
        })
    }
}

impl RawQuestionType {
    fn name(self) -> &'static str {
        match self {
            RawQuestionType::Likert => "likert",
            RawQuestionType::SingleChoice => "single_choice",
            RawQuestionType::MultiChoice => "multi_choice",
            RawQuestionType::Rating => "rating",
            RawQuestionType::Text => "text",
        }
    }
}

/// The validated texts of a scale.
struct ScaleTexts {
    labels: Vec<Localized>,
    dont_know: Option<Localized>,
    not_applicable: Option<Localized>,
}

/// Options `"1"`…`"k"` scored `100·(x−1)/(k−1)` (reversed on request), then
/// `"dk"` when the scale has "don't know", then `"na"` when the question
/// offers the scale's "does not apply". Appending keeps the codes of the
/// scored options and of "don't know" the same with or without `"na"`.
fn likert_options(scale: &ScaleTexts, offers_na: bool, reverse: bool) -> Vec<Choice> {
    let k = scale.labels.len();
    let mut options: Vec<Choice> = scale
        .labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let step = if reverse { k - 1 - i } else { i };
            Choice::scored(
                OptionValue((i + 1).to_string()),
                label.clone(),
                100.0 * step as f64 / (k.max(2) - 1) as f64,
            )
        })
        .collect();
    let offered = [
        (Missing::DontKnow, scale.dont_know.as_ref()),
        (
            Missing::NotApplicable,
            scale.not_applicable.as_ref().filter(|_| offers_na),
        ),
    ];
    for (missing, label) in offered {
        if let Some(label) = label {
            options.push(Choice::missing(
                OptionValue(missing.likert_value().to_string()),
                label.clone(),
                missing,
            ));
        }
    }
    options
}

/// 0–10 rating: value `"x"` scores `10·x`; the label is the number itself.
fn rating_options() -> Vec<Choice> {
    (0..=10)
        .map(|x: u32| {
            let s = x.to_string();
            Choice::scored(
                OptionValue(s.clone()),
                Localized {
                    zh: s.clone(),
                    en: s.clone(),
                    ko: s,
                },
                f64::from(x) * 10.0,
            )
        })
        .collect()
}
