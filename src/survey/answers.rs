//! Answers to a survey, checked against its definition.
//!
//! Both the web form and the CSV import arrive here as (question id, raw
//! value) pairs; `validate` turns them into typed `Answers` or a list of
//! `AnswerError`s, one per broken rule, so the resident (or the import
//! report) sees every problem at once.

use super::model::{OptionValue, Question, QuestionKind, Survey};
use std::collections::BTreeMap;

/// One answer, typed by the question it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerValue {
    /// Likert, single choice or rating.
    Choice(OptionValue),
    /// Multi choice: the chosen options in definition order, at least one.
    Choices(Vec<OptionValue>),
    /// Free text, trimmed, never empty.
    Text(String),
}

impl AnswerValue {
    /// The value as stored in long format: one string per chosen option.
    pub fn stored_values(&self) -> Vec<&str> {
        match self {
            AnswerValue::Choice(v) => vec![v.as_str()],
            AnswerValue::Choices(vs) => vs.iter().map(OptionValue::as_str).collect(),
            AnswerValue::Text(t) => vec![t.as_str()],
        }
    }
}

/// Validated answers of one respondent, keyed by question id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers(BTreeMap<String, AnswerValue>);

impl Answers {
    pub fn get(&self, question_id: &str) -> Option<&AnswerValue> {
        self.0.get(question_id)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AnswerValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What is wrong with an answer. The web layer turns it into a message in
/// the resident's language; the CLI into English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerProblem {
    Required,
    NotAnOption { value: String },
    SingleValue,
    TooLong { max: u32 },
    TooManyChoices { max: u32 },
    UnknownQuestion,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerError {
    /// The question id (for `UnknownQuestion`, the unknown name as sent).
    pub question: String,
    pub problem: AnswerProblem,
}

/// How much of an unknown field's name a refusal repeats.
const MAX_ECHOED_NAME: usize = 64;

impl std::fmt::Display for AnswerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = &self.question;
        match &self.problem {
            AnswerProblem::Required => write!(f, "question {q:?} is required but has no answer"),
            AnswerProblem::NotAnOption { value } => write!(f, "{value:?} is not an option of question {q:?}"),
            AnswerProblem::SingleValue => write!(f, "question {q:?} takes one answer, but got several"),
            AnswerProblem::TooLong { max } => write!(f, "the answer to {q:?} is longer than {max} characters"),
            AnswerProblem::TooManyChoices { max } => write!(f, "question {q:?} allows at most {max} choices"),
            AnswerProblem::UnknownQuestion => write!(f, "{q:?} is not a question of this survey"),
        }
    }
}

/// Raw values sent for each field, in arrival order, empty strings dropped.
/// Kept so that a refused form can be shown again with every answer in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawAnswers(BTreeMap<String, Vec<String>>);

impl RawAnswers {
    pub fn push(&mut self, field: &str, value: &str) {
        let entry = self.0.entry(field.to_string()).or_default();
        if !value.trim().is_empty() {
            entry.push(value.to_string());
        }
    }

    pub fn values(&self, field: &str) -> &[String] {
        self.0.get(field).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

impl Survey {
    /// The choice answers as one byte per question in definition order:
    /// the option's position in its list plus one, or 0 for no answer (and
    /// for multi-choice and text questions, which the index engine does
    /// not read). Validation keeps option lists below 255 entries.
    pub fn choice_codes(&self, answers: &Answers) -> Vec<u8> {
        self.questions
            .iter()
            .map(|q| match answers.get(q.id.as_str()) {
                Some(AnswerValue::Choice(v)) => q
                    .kind
                    .options()
                    .iter()
                    .position(|o| &o.value == v)
                    .map_or(0, |i| (i + 1) as u8),
                _ => 0,
            })
            .collect()
    }

    /// Whether `question` is shown, given the answers to earlier questions.
    pub fn is_shown(&self, question: &Question, answers: &Answers) -> bool {
        let Some(rule) = &question.show_if else { return true };
        let controlling = &self.questions[rule.question];
        match answers.get(controlling.id.as_str()) {
            Some(AnswerValue::Choice(v)) => rule.values.contains(v),
            Some(AnswerValue::Choices(vs)) => vs.iter().any(|v| rule.values.contains(v)),
            _ => false,
        }
    }

    /// Like `is_shown`, on unvalidated form input (for re-rendering).
    pub fn is_shown_raw(&self, question: &Question, raw: &RawAnswers) -> bool {
        let Some(rule) = &question.show_if else { return true };
        let controlling = &self.questions[rule.question];
        raw.values(controlling.id.as_str())
            .iter()
            .any(|v| rule.values.iter().any(|r| r.as_str() == v))
    }

    /// Check every answer against the definition: unknown questions, values
    /// that are not options, missing required answers, over-long text and
    /// too many choices. Answers to questions hidden by skip logic are
    /// dropped, and their `required` does not apply.
    pub fn validate(&self, raw: &RawAnswers) -> Result<Answers, Vec<AnswerError>> {
        // One error for all unknown fields, naming the first (cut short):
        // a refusal must never grow with what was sent, or thirty thousand
        // made-up fields would come back as a page of megabytes.
        let mut errors: Vec<AnswerError> = raw
            .fields()
            .find(|f| self.question(f).is_none())
            .map(|f| AnswerError {
                question: f.chars().take(MAX_ECHOED_NAME).collect(),
                problem: AnswerProblem::UnknownQuestion,
            })
            .into_iter()
            .collect();
        let mut answers = Answers::default();
        for question in &self.questions {
            if !self.is_shown(question, &answers) {
                continue;
            }
            let id = question.id.as_str();
            let values = raw.values(id);
            match check_answer(question, values) {
                Ok(Some(value)) => {
                    answers.0.insert(id.to_string(), value);
                }
                Ok(None) if question.required => errors.push(AnswerError {
                    question: id.to_string(),
                    problem: AnswerProblem::Required,
                }),
                Ok(None) => {}
                Err(problem) => errors.push(AnswerError {
                    question: id.to_string(),
                    problem,
                }),
            }
        }
        if errors.is_empty() {
            Ok(answers)
        } else {
            Err(errors)
        }
    }
}

fn check_answer(question: &Question, values: &[String]) -> Result<Option<AnswerValue>, AnswerProblem> {
    let choice = |value: &str| {
        question
            .option(value)
            .map(|c| c.value.clone())
            .ok_or_else(|| AnswerProblem::NotAnOption {
                value: value.to_string(),
            })
    };
    match &question.kind {
        QuestionKind::Text { max_length } => match values {
            [] => Ok(None),
            [text] => {
                // Control characters (NUL above all) have no place in an answer
                // and PostgreSQL refuses NUL in text columns. They go before
                // the trim, so what is stored is trimmed, and an answer of
                // nothing but them and blanks is no answer.
                let text: String = text
                    .replace("\r\n", "\n")
                    .chars()
                    .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
                    .collect();
                let text = text.trim();
                if text.is_empty() {
                    Ok(None)
                } else if text.chars().count() > *max_length as usize {
                    Err(AnswerProblem::TooLong { max: *max_length })
                } else {
                    Ok(Some(AnswerValue::Text(text.to_string())))
                }
            }
            _ => Err(AnswerProblem::SingleValue),
        },
        QuestionKind::MultiChoice { options, max_choices } => {
            if values.is_empty() {
                return Ok(None);
            }
            for v in values {
                choice(v)?;
            }
            // Definition order, each option once, whatever the form sent.
            let chosen: Vec<OptionValue> = options
                .iter()
                .filter(|o| values.iter().any(|v| v == o.value.as_str()))
                .map(|o| o.value.clone())
                .collect();
            match max_choices {
                Some(max) if chosen.len() > *max as usize => Err(AnswerProblem::TooManyChoices { max: *max }),
                _ => Ok(Some(AnswerValue::Choices(chosen))),
            }
        }
        QuestionKind::Likert { .. } | QuestionKind::SingleChoice { .. } | QuestionKind::Rating { .. } => match values {
            [] => Ok(None),
            [value] => Ok(Some(AnswerValue::Choice(choice(value)?))),
            _ => Err(AnswerProblem::SingleValue),
        },
    }
}
