//! The published definition as JSON (`civicpulse survey show`), the shape
//! analysts and scripts rely on: option values with their scores and
//! labels in every language.

use super::model::{Choice, Localized, Survey};
use crate::lang::Lang;
use serde::Serialize;

#[derive(Serialize)]
pub struct SurveyView<'a> {
    slug: &'a str,
    version: u32,
    languages: [Lang; 3],
    title: &'a Localized,
    dimensions: Vec<DimensionView<'a>>,
    questions: Vec<QuestionView<'a>>,
}

#[derive(Serialize)]
struct DimensionView<'a> {
    id: &'a str,
    weight: f64,
    in_overall: bool,
    title: &'a Localized,
}

#[derive(Serialize)]
struct QuestionView<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    required: bool,
    section: &'a str,
    dimension: Option<&'a str>,
    weight: f64,
    show_if: Option<ShowIfView<'a>>,
    text: &'a Localized,
    options: &'a [Choice],
    #[serde(skip_serializing_if = "Option::is_none")]
    max_choices: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_length: Option<u32>,
}

#[derive(Serialize)]
struct ShowIfView<'a> {
    question: &'a str,
    any_of: Vec<&'a str>,
}

impl Survey {
    pub fn view(&self) -> SurveyView<'_> {
        use super::model::QuestionKind;
        SurveyView {
            slug: self.slug.as_str(),
            version: self.version,
            languages: Lang::ALL,
            title: &self.title,
            dimensions: self
                .dimensions
                .iter()
                .map(|d| DimensionView {
                    id: d.id.as_str(),
                    weight: d.weight,
                    in_overall: d.in_overall,
                    title: &d.title,
                })
                .collect(),
            questions: self
                .questions
                .iter()
                .map(|q| QuestionView {
                    id: q.id.as_str(),
                    kind: q.kind.type_name(),
                    required: q.required,
                    section: self.sections[q.section].id.as_str(),
                    dimension: q.dimension.map(|d| self.dimensions[d].id.as_str()),
                    weight: q.weight,
                    show_if: q.show_if.as_ref().map(|s| ShowIfView {
                        question: self.questions[s.question].id.as_str(),
                        any_of: s.values.iter().map(|v| v.as_str()).collect(),
                    }),
                    text: &q.text,
                    options: q.kind.options(),
                    max_choices: match q.kind {
                        QuestionKind::MultiChoice { max_choices, .. } => max_choices,
                        _ => None,
                    },
                    max_length: match q.kind {
                        QuestionKind::Text { max_length } => Some(max_length),
                        _ => None,
                    },
                })
                .collect(),
        }
    }
}
