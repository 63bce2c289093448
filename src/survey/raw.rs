//! The definition file exactly as written by a designer (serde model of the
//! TOML format in `docs/survey-format.md`).
//!
//! Nothing here is trusted: `model::Survey::from_raw` turns it into the
//! validated definition. Every struct refuses unknown fields so that a typo
//! in a hand-written file is an error instead of a silently ignored setting.
//! The same structs serialise back to TOML, which is what makes the
//! file → database → file round trip lossless.

use super::model::Missing;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSurvey {
    pub slug: String,
    pub version: u32,
    pub title: RawText,
    pub intro: RawText,
    pub thanks: RawText,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scales: BTreeMap<String, RawScale>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<RawDimension>,
    pub sections: Vec<RawSection>,
}

/// A text in each language. Fields are optional here so that a missing
/// translation is reported by validation with its exact place, rather than
/// as a bare TOML error.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawText {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zh: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ko: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawScale {
    pub labels: Vec<RawText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dont_know: Option<RawText>,
    /// "Does not apply": offered only by the questions that opt in with
    /// `not_applicable = true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<RawText>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawDimension {
    pub id: String,
    pub weight: f64,
    pub title: RawText,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_overall: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSection {
    pub id: String,
    pub title: RawText,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<RawText>,
    #[serde(default)]
    pub questions: Vec<RawQuestion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RawQuestionType {
    Likert,
    SingleChoice,
    MultiChoice,
    Rating,
    Text,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuestion {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: RawQuestionType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverse: Option<bool>,
    /// Likert only: also offer the scale's "does not apply" (`"na"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    pub text: RawText,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<RawText>,
    /// What a resident reads when they leave this required question unanswered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_error: Option<RawText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<RawOption>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_choices: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low_label: Option<RawText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high_label: Option<RawText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_if: Option<RawShowIf>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawOption {
    pub value: String,
    pub label: RawText,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Marks an answer that is no opinion on the subject ("don't know",
    /// "does not apply"): never scored, counted on its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Missing>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawShowIf {
    pub question: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub any_of: Option<Vec<String>>,
}
